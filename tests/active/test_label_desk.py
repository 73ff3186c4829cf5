"""The labelling desk behind `curate label serve`, in-process: queues refilled in the background,
claims given back when pages close or go silent, stopping criteria, faults shown to the labeller."""

from __future__ import annotations

import threading
import time

import active_helpers
import pytest
from active_helpers import FailingLogisticRegression, GatedLogisticRegression
from served import LABELS, make_session, wait_until

from curate.active import LabelingSession, StopConfig
from curate.active.desk import LabelDesk


@pytest.fixture
def desk_factory():
    desks = []

    def make(folder, **kwargs) -> LabelDesk:
        desk = LabelDesk(folder, **kwargs).start()
        desks.append(desk)
        return desk

    yield make
    for desk in desks:
        desk.shutdown()


def _claims(folder, who: str) -> int:
    session = LabelingSession(folder)
    try:
        return session.store.db.execute("SELECT COUNT(*) FROM claims WHERE who = ?", (who,)).fetchone()[0]
    finally:
        session.close()


def _next(desk: LabelDesk, tab: str, who: str):
    return wait_until(lambda: desk.view(tab, who).item, timeout=60)


def test_the_next_batch_is_ready_before_the_last_runs_out(tmp_path, desk_factory):
    truth = make_session(tmp_path / "s", n=60, batch_size=5)
    desk = desk_factory(tmp_path / "s")
    item = _next(desk, "tab-1", "ann")
    guesses = []
    for _ in range(25):
        wait_until(lambda: not desk.busy())  # a person reads the text meanwhile
        assert desk.queued("ann") >= 4  # a batch (less the row on the page) waits behind every row
        view = desk.label("tab-1", "ann", item.id, truth[item.id])
        assert view.item is not None and not view.waiting  # never a wait for the model
        item = view.item
        guesses.append(item.guess)
    session = LabelingSession(tmp_path / "s")
    rounds = session.store.rounds()
    assert len(rounds) >= 6 and [r["labels"] for r in rounds] == sorted(r["labels"] for r in rounds)
    assert guesses[-1] is not None and guesses[-1][0] in LABELS and 0 < guesses[-1][1] <= 1
    assert session.metrics()["labelled"] == 25
    board = desk.board("ann")
    assert board["metrics"]["labellers"] == {"ann": 25} and len(board["curve"]) >= 3
    assert [stop["name"] for stop in board["stops"]] == ["label budget", "energy budget", "stable predictions"]


def test_closed_and_silent_pages_give_their_rows_back(tmp_path, desk_factory):
    make_session(tmp_path / "s", n=40, batch_size=5)
    desk = desk_factory(tmp_path / "s", release_after=0.2, tab_timeout=0.5)
    shown = _next(desk, "tab-a", "ann").id
    wait_until(lambda: desk.queued("ann") >= 5)
    desk.close("tab-a")
    assert desk.queued("ann") >= 6  # the row on the page went back to the front of the queue
    assert _next(desk, "tab-b", "ann").id == shown  # a reload shows it again
    desk.close("tab-b")
    time.sleep(0.3)
    desk.sweep()
    wait_until(lambda: not desk.busy())
    desk.sweep()
    assert desk.queued("ann") == 0 and _claims(tmp_path / "s", "ann") == 0

    _next(desk, "tab-c", "bob")
    wait_until(lambda: _claims(tmp_path / "s", "bob") >= 6)
    time.sleep(0.6)  # bob's page stops beating: timed out, then released
    desk.sweep()
    time.sleep(0.3)
    desk.sweep()
    assert "tab-c" not in desk.tabs and _claims(tmp_path / "s", "bob") == 0


def test_a_page_that_outlived_its_claim_keeps_its_row_unless_another_took_it(tmp_path, desk_factory):
    make_session(tmp_path / "s", n=30, batch_size=3)
    desk = desk_factory(tmp_path / "s", tab_timeout=0.2, release_after=0.1)
    row = _next(desk, "tab-a", "ann").id
    wait_until(lambda: not desk.busy())
    time.sleep(0.3)
    desk.sweep()  # the page went silent: closed
    time.sleep(0.2)
    desk.sweep()  # and ann's claims released
    assert _claims(tmp_path / "s", "ann") == 0
    view = desk.label("tab-a", "ann", row, "pos")  # the page comes back and answers: nobody took the row
    assert view.message is None
    bob = LabelingSession(tmp_path / "s", who="bob")
    taken = bob.query(1)[0]
    view = desk.label("tab-z", "ann", taken, "pos")  # a stale page answers a row bob holds now
    assert view.message.startswith("that row went to another labeller")
    assert view.item is not None or view.waiting  # ann's released queue may still be refilling
    assert _next(desk, "tab-z", "ann").id != taken
    assert bob.metrics()["labellers"] == {"ann": 1}


def test_a_met_stopping_criterion_ends_the_queue(tmp_path, desk_factory):
    truth = make_session(tmp_path / "s", n=40, batch_size=4, stop=StopConfig(max_labels=6))
    desk = desk_factory(tmp_path / "s")
    item = _next(desk, "tab", "ann")
    for _ in range(6):
        last = item.id
        view = desk.label("tab", "ann", item.id, truth[item.id])
        item = view.item or _next(desk, "tab", "ann") if view.done is None else None
    assert view.item is None and view.done == "stopping criterion met: label_budget"
    wait_until(lambda: not desk.busy())
    desk.view("tab", "ann")
    assert _claims(tmp_path / "s", "ann") == 0  # nothing stays claimed for a budget that is spent
    budget = desk.board("ann")["stops"][0]
    assert budget["met"] and budget["detail"] == "6 of 6 labels" and budget["share"] == 1
    undone = desk.undo("tab", "ann")
    assert undone.item.id == last  # undo still works, and shows the row again


def test_an_empty_pool_and_a_failing_model_are_told_not_hidden(tmp_path, desk_factory):
    make_session(tmp_path / "s", n=4, batch_size=4)
    desk = desk_factory(tmp_path / "s")
    _next(desk, "tab", "ann")  # ann's page and queue claim all four rows
    done = wait_until(lambda: desk.view("tab-bob", "bob").done)
    assert done == "the pool is empty: every row is labelled, claimed by another labeller or skipped"

    LabelingSession.create(tmp_path / "f", active_helpers.synthetic_texts(20), LABELS, id="id",
                           features=active_helpers.TFIDF, estimator=FailingLogisticRegression(), batch_size=3).close()
    failing = desk_factory(tmp_path / "f")

    def settled():
        view = failing.view("tab", "ann")
        return view if view.item or view.done else None

    item = _next(failing, "tab", "ann")  # the cold start (one class or none) needs no model
    for k in range(20):
        view = failing.label("tab", "ann", item.id, k % 2)
        if view.item is None:
            view = wait_until(settled)
        if view.item is None:
            break
        item = view.item
    assert view.done == "picking rows failed: FloatingPointError: the solver diverged"


def test_query_fits_outside_the_write_lock(tmp_path):
    """A slow fit must not hold the database: another labeller's answer is stored while it runs."""
    frame = active_helpers.synthetic_texts(30)
    session = LabelingSession.create(tmp_path / "s", frame, LABELS, id="id", features=active_helpers.TFIDF,
                                     estimator=GatedLogisticRegression(), batch_size=3, who="ann")
    truth = dict(zip(frame["id"], frame["label"], strict=True))
    ids = session.query(6)
    session.teach(ids, [truth[i] for i in ids])
    active_helpers.GATE.clear()
    active_helpers.FITTING.clear()
    picked: list[str] = []
    worker = threading.Thread(target=lambda: picked.extend(LabelingSession(tmp_path / "s", who="ann").query(3)))
    worker.start()
    assert active_helpers.FITTING.wait(60)
    bob = LabelingSession(tmp_path / "s", who="bob")
    bob.store.db.execute("PRAGMA busy_timeout = 2000")
    mine = bob.claim(bob.ids_[-3:])  # would wait for the lock (and fail) if the fit held it
    assert bob.teach(mine, ["neg"] * len(mine)) == len(mine)
    active_helpers.GATE.set()
    worker.join(60)
    assert len(picked) == 3 and not set(picked) & set(mine)  # the picks leave out what bob took meanwhile


def test_the_queue_runs_further_ahead_when_a_refit_outlasts_a_batch(tmp_path):
    desk = LabelDesk(tmp_path, batch_size=10)  # not started: only the arithmetic
    assert desk._low_water("ann") == 10  # nothing measured yet: one batch ahead
    desk.refit_seconds_ = 3.0
    desk._pace["ann"] = 1.0
    assert desk._low_water("ann") == 10  # a batch takes 10 s to label, a refit 3 s
    desk._pace["ann"] = 0.3
    assert desk._low_water("ann") == 11  # 3 s of refit are 10 labels at this pace, plus the next
    desk._pace["ann"] = 0.01
    assert desk._low_water("ann") == 30  # never more than three batches ahead
    for gap in (0.0, 0.5, 0.5, 120.0, 0.5):
        desk._last_label["bob"] = time.monotonic() - gap
        desk._note_pace("bob")
    assert 0.2 < desk._pace["bob"] < 0.5  # a two-minute break is not pace
