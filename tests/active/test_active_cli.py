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
