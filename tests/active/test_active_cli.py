"""`curate label` driven through a pseudo-terminal: label, undo, quit, resume; status and export."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pexpect
import polars as pl
from active_helpers import synthetic_texts

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "COLUMNS": "200", "TERM": "dumb"}
LEGEND = r"\[1\] neg  \[2\] neu  \[3/p\] pos  \[s\] skip  \[u\] undo  \[q\] quit"


def _curate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate", *args], env=ENV, capture_output=True, text=True, timeout=300)


def _spawn(session: Path) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "curate", "label", "next", "-s", str(session), "--batch", "3",
                                          "--who", "tty"], env=ENV, encoding="utf-8", timeout=180, dimensions=(50, 200))


def test_label_undo_quit_resume_in_a_terminal(tmp_path):
    data = tmp_path / "pool.csv"
    synthetic_texts(20).drop("label").write_csv(data)
    session = tmp_path / "s"
    init = _curate("label", "init", "--data", str(data), "--text", "text", "--id", "id", "--labels", "neg,neu,pos",
                   "--strategy", "margin", "--features", "tfidf", "-s", str(session))
    assert init.returncode == 0, init.stderr
    assert "20 rows to label as neg, neu, pos" in init.stdout

    child = _spawn(session)
    child.expect(LEGEND)
    child.send("1")
    child.expect("-> neg")
    child.expect(LEGEND)
    child.send("x")
    child.expect("unknown key 'x'")
    child.send("p")
    child.expect("-> pos")
    child.expect(LEGEND)
    child.send("u")
    child.expect(r"undone: (r\d+)")
    undone = child.match.group(1)
    child.expect(r"\(1/20 labelled\) (r\d+)")
    assert child.match.group(1) == undone  # the undone row is shown again
    child.expect(LEGEND)
    child.send("2")
    child.expect("-> neu")
    child.expect(LEGEND)
    child.send("s")
    child.expect("skipped")
    child.expect(LEGEND)
    child.send("q")
    child.expect("quit: 2 labelled this time")
    child.expect(pexpect.EOF)

    status = _curate("label", "status", "-s", str(session))
    assert status.returncode == 0, status.stderr
    assert "2 of 20" in status.stdout and "by tty" in status.stdout

    child = _spawn(session)  # resume
    child.expect(r"\(2/20 labelled\)")
    child.expect(LEGEND)
    child.send("3")
    child.expect("-> pos")
    child.expect(LEGEND)
    child.send("q")
    child.expect("quit: 1 labelled this time")
    child.expect(pexpect.EOF)

    out = tmp_path / "labels.csv"
    export = _curate("label", "export", "-s", str(session), "--out", str(out))
    assert export.returncode == 0, export.stderr
    labels = pl.read_csv(out)
    assert labels.height == 3 and labels["who"].unique().to_list() == ["tty"]
    assert dict(zip(labels["id"], labels["label"], strict=True))[undone] == "neu"
    assert sorted(labels["label"].to_list()) == ["neg", "neu", "pos"]


def test_cli_errors_are_clear(tmp_path):
    data = tmp_path / "pool.csv"
    synthetic_texts(5).write_csv(data)
    bad = _curate("label", "init", "--data", str(data), "--labels", "neg", "--features", "tfidf", "-s", str(tmp_path / "s"))
    assert bad.returncode == 2 and "labels must be two or more distinct names" in bad.stderr
    missing = _curate("label", "status", "-s", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "no labelling session" in missing.stderr


def _init(tmp_path, n=20) -> Path:
    data = tmp_path / "pool.csv"
    synthetic_texts(n).drop("label").write_csv(data)
    session = tmp_path / "s"
    init = _curate("label", "init", "--data", str(data), "--text", "text", "--id", "id", "--labels", "neg,neu,pos",
                   "--features", "tfidf", "--batch", "5", "-s", str(session))
    assert init.returncode == 0, init.stderr
    return session


def _claims(session: Path) -> int:
    import sqlite3

    with sqlite3.connect(session / "session.db") as db:
        return db.execute("SELECT COUNT(*) FROM claims").fetchone()[0]


def test_label_next_reads_answers_from_a_pipe_and_gives_claims_back(tmp_path):
    session = _init(tmp_path)
    piped = subprocess.run([sys.executable, "-m", "curate", "label", "next", "-s", str(session), "--who", "script"],
                           input="1\n2\npos\nq\n", env=ENV, capture_output=True, text=True, timeout=300)
    assert piped.returncode == 0, piped.stderr
    assert "Traceback" not in piped.stderr and "/dev/tty" not in piped.stderr
    assert "quit: 3 labelled this time" in piped.stdout
    assert _claims(session) == 0  # the 2 rows of the batch left unanswered are free for others again
    # the end of the input ends the loop like q, also without a final q
    ended = subprocess.run([sys.executable, "-m", "curate", "label", "next", "-s", str(session)], input="3\n",
                           env=ENV, capture_output=True, text=True, timeout=300)
    assert ended.returncode == 0 and "quit: 1 labelled this time" in ended.stdout, ended.stderr
    assert _claims(session) == 0
    status = _curate("label", "status", "-s", str(session))
    assert "4 of 20" in status.stdout and "by script" in status.stdout


def test_label_next_killed_by_sigterm_gives_claims_back(tmp_path):
    import signal
    import time

    session = _init(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "curate", "label", "next", "-s", str(session)], env=ENV,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while _claims_or_zero(session) == 0 and time.time() < deadline:
        time.sleep(0.2)
    assert _claims(session) == 5  # a batch is claimed and waiting for answers
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert _claims(session) == 0


def _claims_or_zero(session: Path) -> int:
    import sqlite3

    try:
        return _claims(session)
    except sqlite3.Error:  # busy while the labeller writes
        return 0


def test_label_init_reads_other_encodings(tmp_path):
    data = tmp_path / "latin.csv"
    data.write_bytes("text\ncaf\xe9 au lait\nna\xefve question\nd\xe9j\xe0 vu\n".encode("latin-1"))
    failed = _curate("label", "init", "--data", str(data), "--labels", "a,b", "--features", "tfidf", "-s", str(tmp_path / "x"))
    assert failed.returncode == 2 and "line 2" in failed.stderr and "encoding" in failed.stderr
    ok = _curate("label", "init", "--data", str(data), "--labels", "a,b", "--features", "tfidf", "--encoding", "latin-1",
                 "-s", str(tmp_path / "s"))
    assert ok.returncode == 0 and "3 rows to label" in ok.stdout, ok.stderr


def test_label_user_errors_are_one_line(tmp_path):
    data = tmp_path / "pool.csv"
    synthetic_texts(20).drop("label").write_csv(data)
    bogus = _curate("label", "init", "--data", str(data), "--labels", "a,b", "--features", "bogus", "-s", str(tmp_path / "b"))
    assert bogus.returncode == 2 and len(bogus.stderr.strip().splitlines()) == 1, bogus.stderr
    assert "--features 'bogus' is not one of: embeddings, tfidf" in bogus.stderr and "Traceback" not in bogus.stderr
    session = _init(tmp_path)
    export = _curate("label", "export", "-s", str(session), "--out", str(tmp_path / "missing" / "labels.csv"))
    assert export.returncode == 2 and len(export.stderr.strip().splitlines()) == 1, export.stderr
    assert "does not exist" in export.stderr and "mkdir" in export.stderr
