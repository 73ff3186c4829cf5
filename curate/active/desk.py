"""The labelling desk behind `curate label serve`: a queue per labeller, refilled in the background.

A page (a browser tab) is shown one row at a time from its labeller's queue. The queue
holds rows already claimed in the session store for that labeller; when it runs low, the
model is refitted on every label so far and the strategy's next batch claimed
(:meth:`LabelingSession.query`) in the background, so labelling never waits on the model.
Tabs send a heartbeat; a tab that closes or stops beating gives its row back to the queue,
and a labeller with no open tab for ``release_after`` seconds has every claim released, so
the rows go to the other labellers.

Where things run: every public method runs on one thread (the server's database thread),
which owns one :class:`LabelingSession`. Refits run in one worker *process* with its own
session (a ``ProcessPoolExecutor`` of one, fed by a dispatcher thread): in a thread they
would hold the GIL for long stretches, and each SQLite call of a keystroke (which
releases and retakes the GIL) would queue behind them; benchmarks/bench_label_serve.py
measured keystrokes of 500 ms and more that way. A lock guards what the request thread and
the dispatcher share (queues, guesses, notes).
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import queue
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.active.session import LabelingSession
from curate.active.stopping import stop_progress
from curate.errors import CurateError, InputError, require

log = logging.getLogger(__name__)
RETRY_AFTER = 5.0
"""Seconds before rows are asked for again after the worker found none (or failed)."""


@dataclass
class Item:
    """A row on a page: its id, text and the model's guess (label, probability) if there is a model."""

    id: str
    text: str
    guess: tuple[str, float] | None = None


@dataclass
class View:
    """What a tab shows after a request.

    ``item`` is the row to label (``None`` while there is none); ``waiting`` says rows are
    being picked; ``done`` says why nothing more will come (a stopping criterion, an empty
    pool); ``message`` tells what happened to the last action when it is not what was asked.
    """

    item: Item | None
    waiting: bool = False
    done: str | None = None
    message: str | None = None


@dataclass
class Tab:
    """A page open on the desk: its labeller, the row it shows, when it was last heard from."""

    who: str
    row: str | None = None
    seen: float = field(default_factory=time.monotonic)


class LabelDesk:
    """Per-labeller queues over a session, refilled by a background worker.

    Parameters
    ----------
    folder : str or Path
        The session folder.
    batch_size : int, optional
        Rows per query (default: the session's); a new batch is picked once fewer than this
        many rows are queued, so the next batch is ready before the last runs out.
    tab_timeout : float
        Seconds without a heartbeat after which a tab counts as closed.
    release_after : float
        Seconds a labeller may have no open tab (a reload, a brief disconnect) before their
        claims are released.
    claim_ttl : float
        Seconds a claim hides a row from other labellers if it is never released (after a crash).
    """

    def __init__(self, folder: str | Path, *, batch_size: int | None = None, tab_timeout: float = 120.0,
                 release_after: float = 15.0, claim_ttl: float = 1800.0) -> None:
        self.folder = Path(folder)
        self.batch_size = batch_size
        self.tab_timeout = tab_timeout
        self.release_after = release_after
        self.claim_ttl = claim_ttl
        self.tabs: dict[str, Tab] = {}
        self._queues: dict[str, deque[str]] = {}
        self._skipped: dict[str, set[str]] = {}
        self._guesses: dict[str, tuple[str, float]] = {}
        self._notes: dict[str, tuple[str, float]] = {}
        self._left: dict[str, float] = {}
        self._pending: set[str] = set()
        self._pace: dict[str, float] = {}
        self._last_label: dict[str, float] = {}
        self.refit_seconds_: float | None = None
        self._lock = threading.RLock()
        self._jobs: queue.Queue[str | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._session: LabelingSession | None = None
        self.retraining = False

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> LabelDesk:
        """Open the session (raises when the folder holds none) and start the worker."""
        session = self.session
        self.batch_size = self.batch_size or session.batch_size
        self._pool = self._new_pool()
        self._pool.submit(_ready)  # start the worker process and its imports now, not at the first page
        self._worker = threading.Thread(target=self._work, name="curate-label-dispatcher", daemon=True)
        self._worker.start()
        return self

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_open_session, initargs=(str(self.folder), self.claim_ttl))

    @property
    def session(self) -> LabelingSession:
        """The request thread's session (opened on first use, on that thread)."""
        if self._session is None:
            self._session = LabelingSession(self.folder, claim_ttl=self.claim_ttl)
        return self._session

    def _as(self, who: str) -> LabelingSession:
        session = self.session
        session.who = who
        return session

    def shutdown(self) -> None:
        """Stop the worker and release every claim the desk holds (rows queued or on a page)."""
        self._jobs.put(None)
        if self._worker is not None:
            self._worker.join(timeout=120)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        for who in {tab.who for tab in self.tabs.values()} | set(self._queues):
            self._release_all(who)
        self.tabs.clear()
        if self._session is not None:
            self._session.close()

    # --- requests -------------------------------------------------------------------------------

    def view(self, tab_id: str, who: str, shown: str | None = None) -> View:
        """Register ``tab_id`` (or hear its heartbeat) and return what it shows.

        ``shown`` is the row the page displays: a page that outlived the server (or its tab
        timeout) keeps it when nobody else took it meanwhile.
        """
        return self._view(self._tab(tab_id, who, shown))

    def label(self, tab_id: str, who: str, row: str, label: int | str) -> View:
        """Store ``label`` (a name or index) for ``row`` as the tab's labeller and show the next row."""
        tab = self._tab(tab_id, who, row)
        if tab.row != row:
            message = ("that row was already answered" if tab.row is not None
                       else "that row went to another labeller while this page was away; here is another")
            return self._view(tab, message)
        stored = self._as(who).teach([row], [label])
        with self._lock:
            tab.row = None
            self._discard(row)
            self._guesses.pop(row, None)
            self._note_pace(who)
        return self._view(tab, None if stored else "another labeller labelled that row first; their label stands")

    def skip(self, tab_id: str, who: str, row: str) -> View:
        """Give the tab's row back (another labeller may take it) and show the next one."""
        tab = self._tab(tab_id, who, row)
        if tab.row == row:
            self._as(who).release([row])
            with self._lock:
                self._skipped.setdefault(who, set()).add(row)
                tab.row = None
        return self._view(tab)

    def undo(self, tab_id: str, who: str, shown: str | None = None) -> View:
        """Withdraw the labeller's last label and show that row again."""
        tab = self._tab(tab_id, who, shown)
        undone = self._as(who).undo()
        if undone is None:
            return self._view(tab, "nothing to undo")
        with self._lock:
            if tab.row is not None:
                self._queues.setdefault(who, deque()).appendleft(tab.row)
            self._discard(undone)
            tab.row = undone
        return self._view(tab)

    def close(self, tab_id: str) -> None:
        """The tab closed: its row goes back to the front of its labeller's queue."""
        with self._lock:
            tab = self.tabs.pop(tab_id, None)
            if tab is None:
                return
            if tab.row is not None:
                self._queues.setdefault(tab.who, deque()).appendleft(tab.row)
            if not any(other.who == tab.who for other in self.tabs.values()):
                self._left[tab.who] = time.monotonic()

    def sweep(self) -> None:
        """Close tabs that stopped beating; release the claims of labellers gone for ``release_after``."""
        clock = time.monotonic()
        with self._lock:
            stale = [tab_id for tab_id, tab in self.tabs.items() if clock - tab.seen > self.tab_timeout]
        for tab_id in stale:
            self.close(tab_id)
        with self._lock:
            present = {tab.who for tab in self.tabs.values()}
            gone = [who for who, since in self._left.items() if who not in present and clock - since > self.release_after]
            for who in present:
                self._left.pop(who, None)
        for who in gone:
            self._release_all(who)

    def queued(self, who: str) -> int:
        """Rows ready in ``who``'s queue."""
        with self._lock:
            return len(self._queues.get(who, ()))

    def busy(self) -> bool:
        """Whether the worker is picking rows (a refit runs or is asked for)."""
        with self._lock:
            return self.retraining or bool(self._pending)

    def status(self) -> Future:
        """``LabelingSession.metrics()`` (what `curate label status` shows), computed in the worker process.

        It fits a model on every label, so it runs where the refits run, never on the page's
        threads. Any thread may call this.
        """
        return self._pool.submit(_metrics)

    def board(self, who: str) -> dict[str, Any]:
        """What the side panel shows ``who``: counts, rounds, the accuracy curve, energy, stopping criteria.

        Nothing here fits a model: the accuracy is the one each round stored (the model that
        picked that round's rows), so this stays fast while the worker retrains.
        """
        session = self.session
        metrics = session.metrics(refit=False)
        rounds = session.store.rounds()
        scored = [r for r in rounds if r["accuracy"] is not None]
        with self._lock:
            retraining = self.retraining or bool(self._pending)
            queued = len(self._queues.get(who, ()))
        return {"metrics": metrics, "retraining": retraining, "queued": queued,
                "curve": [(r["labels"], r["accuracy"]) for r in scored], "accuracy": scored[-1] if scored else None,
                "test_rows": session.store.db.execute("SELECT COUNT(*) FROM test").fetchone()[0],
                "watts": session.stop.watts,
                "stops": stop_progress(session.stop, metrics["labelled"], metrics["kwh"],
                                       [r["changed"] for r in rounds if r["changed"] is not None])}

    # --- internals ------------------------------------------------------------------------------

    def _tab(self, tab_id: str, who: str, shown: str | None) -> Tab:
        with self._lock:
            tab = self.tabs.get(tab_id)
            if tab is not None and tab.who == who:
                tab.seen = time.monotonic()
                return tab
            tab = self.tabs[tab_id] = Tab(who)
            self._left.pop(who, None)
            keep = shown is not None and shown in self.session.pos_ and shown not in self._on_pages()
        if keep and self._as(who).claim([shown]):
            with self._lock:
                if shown not in self._on_pages():
                    self._discard(shown)
                    tab.row = shown
        return tab

    def _on_pages(self) -> set[str]:
        """Rows some page shows (lock held)."""
        return {tab.row for tab in self.tabs.values() if tab.row is not None}

    def _view(self, tab: Tab, message: str | None = None) -> View:
        session = self._as(tab.who)
        if tab.row is None:
            reason = session.stop_reason()
            if reason is not None:
                self._release_all(tab.who, keep_pages=True)
                return View(None, done=f"stopping criterion met: {reason}", message=message)
            self._lease(tab)
        with self._lock:
            row = tab.row
            guess = self._guesses.get(row) if row is not None else None
            waiting = tab.who in self._pending
            note = self._notes.get(tab.who)
        if row is None:
            return View(None, waiting=waiting, done=None if waiting or note is None else note[0], message=message)
        return View(Item(row, session.texts([row])[0], guess), message=message)

    def _note_pace(self, who: str) -> None:
        """Update ``who``'s seconds per label (a moving average; pauses over a minute are breaks, not pace)."""
        clock = time.monotonic()
        last = self._last_label.get(who)
        self._last_label[who] = clock
        if last is not None and clock - last < 60:
            previous = self._pace.get(who)
            self._pace[who] = clock - last if previous is None else 0.7 * previous + 0.3 * (clock - last)

    def _low_water(self, who: str) -> int:
        """Queued rows below which ``who``'s next batch is asked for (lock held).

        A batch; more when one refit takes longer than labelling a batch at ``who``'s pace,
        so the next batch is there before the queue runs out (at most three batches ahead:
        rows picked further ahead would come from an older model).
        """
        pace = self._pace.get(who)
        if pace is None or self.refit_seconds_ is None:
            return self.batch_size
        ahead = math.ceil(self.refit_seconds_ / max(pace, 1e-3)) + 1
        return min(max(self.batch_size, ahead), 3 * self.batch_size)

    def _lease(self, tab: Tab) -> None:
        """Give ``tab`` the first queued row; ask the worker for more when the queue runs low."""
        with self._lock:
            shown = self._on_pages()
            waiting = self._queues.setdefault(tab.who, deque())
            while waiting and tab.row is None:
                row = waiting.popleft()
                if row not in shown:
                    tab.row = row
            noted = self._notes.get(tab.who)
            retry = noted is None or time.monotonic() - noted[1] > RETRY_AFTER
            if len(waiting) < self._low_water(tab.who) and tab.who not in self._pending and retry:
                self._pending.add(tab.who)
                self._jobs.put(tab.who)

    def _discard(self, row: str) -> None:
        """Drop ``row`` from every queue (lock held)."""
        for waiting in self._queues.values():
            if row in waiting:
                waiting.remove(row)

    def _release_all(self, who: str, keep_pages: bool = False) -> None:
        """Release ``who``'s claims on queued rows (and on rows on their pages unless ``keep_pages``)."""
        with self._lock:
            rows = list(self._queues.pop(who, ()))
            self._left.pop(who, None)
            if not keep_pages:
                rows += [tab.row for tab in self.tabs.values() if tab.who == who and tab.row is not None]
        if rows:
            self._as(who).release(rows)

    # --- the worker -------------------------------------------------------------------------------

    def _work(self) -> None:
        """Dispatcher: hand each labeller's refill to the worker process, one at a time."""
        while (who := self._jobs.get()) is not None:
            try:
                self._refill(who)
            except InputError as exc:
                with self._lock:
                    self._notes[who] = (exc.message, time.monotonic())
            except Exception as exc:  # noqa: BLE001 - shown on the page, logged with its traceback
                log.exception("picking rows for %s failed", who)
                message = (f"picking rows failed: {exc}" if isinstance(exc, CurateError)
                           else f"picking rows failed: {type(exc).__name__}: {exc}")
                with self._lock:
                    self._notes[who] = (message, time.monotonic())
                if isinstance(exc, BrokenProcessPool):  # the worker process died: start another
                    self._pool = self._new_pool()
            finally:
                with self._lock:
                    self._pending.discard(who)

    def _refill(self, who: str) -> None:
        """Claim the strategy's next batch for ``who`` and refresh the model's guesses."""
        with self._lock:
            exclude = [*self._queues.get(who, ()), *self._skipped.get(who, ()), *self._on_pages()]
            known = [i for q in self._queues.values() for i in q] + sorted(self._on_pages())
        self.retraining = True
        started = time.monotonic()
        try:
            ids, guesses = self._pool.submit(_pick, who, self.batch_size, exclude, known).result()
        finally:
            self.retraining = False
        took = time.monotonic() - started
        self.refit_seconds_ = took if self.refit_seconds_ is None else 0.5 * self.refit_seconds_ + 0.5 * took
        with self._lock:
            shown = self._on_pages()
            waiting = self._queues.setdefault(who, deque())
            waiting.extend(i for i in ids if i not in waiting and i not in shown)
            self._notes.pop(who, None)
            self._guesses.update((row, guess) for row, guess in guesses.items() if guess is not None)


# --- the worker process ---------------------------------------------------------------------------

_WORKER_SESSION: list[LabelingSession] = []


def _open_session(folder: str, claim_ttl: float) -> None:
    """Worker process start: open the session it keeps (features and model stay loaded).

    It runs at a lower CPU priority than the server, and ends with the server even when the
    server is killed (SIGKILL leaves no chance to stop it): a thread waits on the parent
    process and exits when it is gone.
    """
    _WORKER_SESSION.append(LabelingSession(folder, claim_ttl=claim_ttl))
    if hasattr(os, "nice"):
        os.nice(10)  # on a busy machine the page's answers go before the refits
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), daemon=True, name="curate-parent-watch").start()


def _ready() -> bool:
    """Worker process, at start: load what the first refit needs, so that refit is not the slow one.

    That is the features (``fit`` loads them, and fits when a resumed session has labels of
    two classes), scikit-learn and modAL (importing them takes seconds).
    """
    _WORKER_SESSION[0].fit()
    for module, package in (("sklearn.linear_model", "scikit-learn"), ("modAL.uncertainty", "modAL-python"),
                            ("modAL.disagreement", "modAL-python")):
        require(module, "active", package)
    return True


def _exit_with(parent: Any) -> None:
    parent.join()
    os._exit(0)


def _pick(who: str, n: int, exclude: list[str], known: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Worker process: claim ``n`` rows for ``who`` (refit + strategy); the model's guesses for them and ``known``."""
    session = _WORKER_SESSION[0]
    reason = session.stop_reason()
    if reason is not None:
        raise InputError(f"stopping criterion met: {reason}", hint="export the labels")
    session.who = who
    ids = session.query(n, exclude=exclude)
    if session.model_ is None and session.fitted_on_ != session.store.labelled():
        session.fit()  # rows resumed from earlier claims: no query fitted a model yet
    rows = list(dict.fromkeys([*known, *ids]))
    return ids, dict(zip(rows, session.guesses(rows), strict=True))


def _metrics() -> dict[str, Any]:
    """Worker process: the session's metrics, with a model fitted on every label."""
    return _WORKER_SESSION[0].metrics()
