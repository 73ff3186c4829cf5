"""The labelling session: query/teach/undo/export, crash safety (SIGKILL), two labellers at once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest
from active_helpers import TFIDF, synthetic_texts

from curate.active import LabelingSession, StopConfig
from curate.errors import ConfigError, InputError

ROOT = Path(__file__).resolve().parents[2]
LABELS = ["neg", "neu", "pos"]


def _create(folder: Path, n: int = 60, **kwargs) -> LabelingSession:
    frame = synthetic_texts(n)
    return LabelingSession.create(folder, frame, LABELS, id="id", features=TFIDF, batch_size=5, who="ann", **kwargs)


def test_query_teach_undo_export_metrics(tmp_path):
    frame = synthetic_texts(60)
    test = synthetic_texts(30, seed=1).with_columns(label=pl.col("label").replace_strict([0, 1, 2], LABELS))
    session = _create(tmp_path / "s", test=test)
    first = session.query()
    assert len(first) == 5 and len(set(first)) == 5
    assert session.query() == first  # unanswered claims come back first
    truth = dict(zip(frame["id"], frame["label"], strict=True))
    assert session.teach(first, [LABELS[truth[i]] for i in first[:4]] + [truth[first[4]]]) == 5
    assert session.undo() == first[4]
    assert session.query(1) == [first[4]]  # the undone row is proposed again
    for _ in range(4):
        ids = session.query()
        session.teach(ids, [truth[i] for i in ids])
    metrics = session.metrics()
    assert metrics["labelled"] == 24 and metrics["undone"] == 1 and metrics["labellers"] == {"ann": 24}
    assert sum(metrics["per_label"].values()) == 24
    assert metrics["rounds"] == 5 and 0 <= metrics["accuracy"] <= 1
    exported = session.export()
    assert exported.columns == ["id", "text", "label", "who", "at", "round"]
    assert exported.height == 24 and exported["id"].to_list().count(first[4]) == 1  # relabelled once after the undo
    assert set(exported["label"]) <= set(LABELS)
    assert dict(zip(exported["id"], exported["label"], strict=True)) == {i: LABELS[truth[i]] for i in exported["id"]}
    rounds = session.store.rounds()
    assert rounds[0]["changed"] is None and all(0 <= r["changed"] <= 1 for r in rounds[2:])
    html = session._repr_html_()
    assert "LabelingSession" in html and "24 / 60 labelled" in html
    reopened = LabelingSession(tmp_path / "s", who="bob")
    assert reopened.metrics()["labelled"] == 24
    assert not set(reopened.query()) & set(exported["id"])


def test_bad_input_gets_clear_errors(tmp_path):
    session = _create(tmp_path / "s", n=12)
    ids = session.query(3)
    with pytest.raises(InputError, match="unknown label 'maybe'; labels are: neg, neu, pos"):
        session.teach(ids[:1], ["maybe"])
    with pytest.raises(InputError, match="not in the pool"):
        session.teach(["nope"], ["neg"])
    with pytest.raises(InputError, match="already holds a labelling session"):
        _create(tmp_path / "s")
    with pytest.raises(InputError, match="larger than the pool"):
        _create(tmp_path / "b", n=12, stop=StopConfig(max_labels=13))
    with pytest.raises(InputError, match="the pool is empty"):
        LabelingSession.create(tmp_path / "e", synthetic_texts(3).head(0), LABELS, features=TFIDF)
    with pytest.raises(ConfigError, match="unknown query strategy"):
        LabelingSession.create(tmp_path / "q", synthetic_texts(3), LABELS, features=TFIDF, strategy="marginal")
    with pytest.raises(InputError, match="no labelling session"):
        LabelingSession(tmp_path / "missing")
    session.teach(*zip(*[(i, "neg") for i in session.ids_], strict=True))
    with pytest.raises(InputError, match="the pool is empty"):
        session.query()


def test_label_budget_stops(tmp_path):
    session = _create(tmp_path / "s", n=30, stop=StopConfig(max_labels=10))
    while session.stop_reason() is None:
        ids = session.query()
        session.teach(ids, ["pos"] * len(ids))
    assert session.stop_reason() == "label_budget" and session.metrics()["labelled"] == 10


KILL_CHILD = textwrap.dedent("""
    import sys
    from curate.active import LabelingSession
    session = LabelingSession(sys.argv[1], who="child")
    ids = session.ids_
    batch = 2000
    print("ready", flush=True)
    while True:
        for start in range(0, len(ids), batch):
            chunk = ids[start:start + batch]
            session.teach(chunk, [i % 3 for i in range(len(chunk))])
            print("taught", start, flush=True)
        session.store.db.execute("UPDATE labels SET active = 0")  # start over
""")


def test_store_survives_sigkill_mid_teach(tmp_path):
    frame = pl.DataFrame({"id": [f"r{i}" for i in range(20_000)], "text": [f"word{i % 97} other{i % 13}" for i in range(20_000)]})
    LabelingSession.create(tmp_path / "s", frame, LABELS, id="id", features=TFIDF).close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for delay in (0.0, 0.05, 0.3):
        child = subprocess.Popen([sys.executable, "-c", KILL_CHILD, str(tmp_path / "s")], stdout=subprocess.PIPE,
                                 env=env, text=True)
        assert child.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        db = sqlite3.connect(tmp_path / "s" / "session.db")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        active = db.execute("SELECT COUNT(*) FROM labels WHERE active = 1").fetchone()[0]
        doubled = db.execute("SELECT COUNT(*) FROM (SELECT pos FROM labels WHERE active = 1 GROUP BY pos HAVING COUNT(*) > 1)").fetchone()[0]
        db.close()
        assert active % 2000 == 0, "a teach() was half applied"
        assert doubled == 0
    session = LabelingSession(tmp_path / "s", who="after")  # resumes
    session.store.db.execute("UPDATE labels SET active = 0 WHERE who = 'child'")
    ids = session.query(3)
    assert session.teach(ids, ["neg", "neu", "pos"]) == 3


CONCURRENT_CHILD = textwrap.dedent("""
    import sys
    from curate.active import LabelingSession
    from curate.errors import InputError
    session = LabelingSession(sys.argv[1], who=sys.argv[2])
    stored = session.teach(session.ids_[:10], ["neg"] * 10)  # both race for the same rows
    while True:
        try:
            ids = session.query(3)
        except InputError:
            break
        stored += session.teach(ids, ["pos"] * len(ids))
    print(stored, flush=True)
""")


def test_two_labellers_lose_and_double_no_label(tmp_path):
    _create(tmp_path / "s", n=60).close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [subprocess.Popen([sys.executable, "-c", CONCURRENT_CHILD, str(tmp_path / "s"), who],
                                 stdout=subprocess.PIPE, env=env, text=True) for who in ("ann", "bob")]
    stored = [int(child.communicate(timeout=600)[0].strip()) for child in children]
    assert all(child.returncode == 0 for child in children)
    db = sqlite3.connect(tmp_path / "s" / "session.db")
    active = db.execute("SELECT COUNT(*), COUNT(DISTINCT pos) FROM labels WHERE active = 1").fetchone()
    assert active == (60, 60)  # every row labelled exactly once
    assert sum(stored) == 60  # each process's count of stored labels adds up
    assert db.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 60  # nothing written twice, even undone
