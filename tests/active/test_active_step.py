"""One active-learning step: the labelling session queries exactly as the simulated loop does."""

from __future__ import annotations

import numpy as np
import pytest
from active_helpers import TFIDF, synthetic_texts

from curate.active import run_loop
from curate.active.features import build_features
from curate.active.session import LabelingSession
from curate.active.step import ActiveStep
from curate.active.strategies import default_estimator


@pytest.mark.parametrize("strategy", ["diversity", "balanced_margin"])
def test_session_and_loop_pick_the_same_rows_from_the_same_labels(tmp_path, strategy):
    """A session answered by an oracle, round after round, proposes what the shared step proposes from
    the same labelled rows (the same model, clusters and round seed as the loop)."""
    frame = synthetic_texts(240)
    y = frame["label"].to_numpy()
    session = LabelingSession.create(tmp_path / "s", frame, ["a", "b", "c"], id="id", strategy=strategy,
                                     batch_size=12, features=TFIDF, seed=5)
    X, _ = build_features(frame, TFIDF)
    step = ActiveStep(X, strategy, default_estimator(), seed=5, batch_size=12)
    for round_no in range(1, 5):
        labelled = np.array([p for p, _ in session.store.labelled()], dtype=np.int64)
        ids = session.query()
        if round_no > 1:  # the first round has no model: both pick at random, each its own way
            pool = np.setdiff1d(np.arange(frame.height), labelled)
            fitted = step.fit(labelled, y[labelled])
            expected = sorted(step.query(fitted, labelled, y[labelled], pool, 12, round_no).tolist())
            assert [session.pos_[i] for i in ids] == expected
        session.teach(ids, [int(y[session.pos_[i]]) for i in ids])
    session.close()


def test_the_loop_runs_the_same_step():
    """run_loop's picks of round r are the step's query on the rows labelled before it."""
    frame = synthetic_texts(200)
    X, _ = build_features(frame, TFIDF)
    y = frame["label"].to_numpy()
    result = run_loop(X, y, "diversity", estimator=default_estimator(), seed=2, seed_size=15, batch_size=10, budget=45)
    step = ActiveStep(X, "diversity", default_estimator(), seed=2, batch_size=10)
    for round_no in (1, 2, 3):
        labelled = result.order[result.round_of < round_no]
        pool = np.setdiff1d(np.arange(frame.height), labelled)
        picks = step.query(step.fit(labelled, y[labelled]), labelled, y[labelled], pool, 10, round_no)
        assert picks.tolist() == result.order[result.round_of == round_no].tolist()
