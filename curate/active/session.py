"""A persistent labelling session: propose rows, store answers, refit, resume after a crash."""

from __future__ import annotations

import getpass
import html
import json
import os
import pickle
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from curate.active.features import FeatureConfig, build_features
from curate.active.step import ActiveStep, Fitted
from curate.active.stopping import ProcessTimeEnergy, StopConfig, stop_reason
from curate.active.store import Store, now
from curate.active.strategies import check_estimator, check_strategy, default_estimator
from curate.errors import InputError, require
from curate.schema import ID, TEXT

DB_NAME = "session.db"


def _save_features(path: Path, X: Any) -> None:
    """Write features atomically (dense .npy or sparse .npz)."""
    sparse = require("scipy.sparse", "active", "scipy")
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        if sparse.issparse(X):
            sparse.save_npz(handle, sparse.csr_matrix(X))
        else:
            np.save(handle, np.asarray(X))
    os.replace(tmp, path)


def _load_features(path: Path) -> Any:
    if not path.exists():
        return None
    sparse = require("scipy.sparse", "active", "scipy")
    with open(path, "rb") as handle:
        head = handle.read(6)
    return np.load(path) if head == b"\x93NUMPY" else sparse.load_npz(path).tocsr()


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


class LabelingSession:
    """A labelling session stored in ``folder`` (SQLite in WAL mode plus cached features).

    Open an existing one with ``LabelingSession(folder)``; make one with :meth:`create`.

    Parameters
    ----------
    folder : str or Path
        The session folder.
    who : str, optional
        The labeller's name (default: the login name); stored with every label.
    claim_ttl : float
        Seconds a row proposed to one labeller is hidden from the others.
    """

    def __init__(self, folder: str | Path, who: str | None = None, claim_ttl: float = 1800.0) -> None:
        self.folder = Path(folder)
        if not (self.folder / DB_NAME).exists():
            raise InputError(f"no labelling session in {self.folder}",
                             hint="start one with `curate label init` or LabelingSession.create(...)")
        self.who = who or os.environ.get("CURATE_LABELLER") or getpass.getuser()
        self.claim_ttl = claim_ttl
        self.store = Store(self.folder / DB_NAME)
        self.meta_ = self.store.meta()
        self.labels: list[str] = self.meta_["labels"]
        self.strategy: str = self.meta_["strategy"]
        self.batch_size: int = self.meta_["batch_size"]
        self.stop = StopConfig(**self.meta_["stop"])
        self.ids_: list[str] = [row[0] for row in self.store.db.execute("SELECT id FROM pool ORDER BY pos")]
        self.pos_ = {row_id: pos for pos, row_id in enumerate(self.ids_)}
        self.X_ = None
        self.model_ = None
        self.fitted_on_: list[tuple[int, int]] = []
        self.step_: ActiveStep | None = None

    # --- creation -------------------------------------------------------------------------

    @classmethod
    def create(cls, folder: str | Path, data: pl.DataFrame, labels: Sequence[str], *, text: str = TEXT,
               id: str | None = None, strategy: str = "margin", batch_size: int = 10,
               features: FeatureConfig | None = None, estimator: Any = None, test: pl.DataFrame | None = None,
               test_label: str = "label", stop: StopConfig | None = None, seed: int = 0,
               who: str | None = None) -> LabelingSession:
        """Start a session over ``data``.

        Parameters
        ----------
        folder : str or Path
            New session folder (must not hold a session yet).
        data : polars.DataFrame
            The pool to label.
        labels : sequence of str
            The label names, in key order.
        text, id : str
            Columns with the text and (optionally) a unique id; ids are made when absent.
        strategy : str
            Query strategy (see :data:`curate.active.strategies.STRATEGIES`).
        batch_size : int
            Rows per query by default.
        features : FeatureConfig, optional
            Model features (default embeddings).
        estimator : scikit-learn classifier, optional
            Default logistic regression.
        test : polars.DataFrame, optional
            Held-out labelled rows for the accuracy metric (``text`` and ``test_label`` columns).
        stop : StopConfig, optional
            Stopping criteria (label budget, energy budget, stable predictions).
        seed : int
            Seed of every random choice.
        """
        folder = Path(folder)
        if (folder / DB_NAME).exists():
            raise InputError(f"{folder} already holds a labelling session", hint="use another --session folder, or `curate label next`")
        labels = [str(label).strip() for label in labels if str(label).strip()]
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise InputError(f"labels must be two or more distinct names, got {labels}", hint='e.g. --labels "neg,neu,pos"')
        check_strategy(strategy)
        estimator = check_estimator(estimator if estimator is not None else default_estimator())
        stop = stop or StopConfig()
        features = features or FeatureConfig()
        if text not in data.columns:
            raise InputError(f"text column '{text}' not found; columns are: {', '.join(data.columns)}", hint="set --text")
        if data.height == 0:
            raise InputError("the pool is empty: the data has no rows", hint="point --data at a file with rows")
        if stop.max_labels is not None and stop.max_labels > data.height:
            raise InputError(f"label budget {stop.max_labels} is larger than the pool ({data.height} rows)",
                             hint=f"set a budget of at most {data.height}")
        pool = data.select(pl.col(text).cast(pl.String).fill_null("").alias(TEXT),
                           *([pl.col(id).cast(pl.String).alias(ID)] if id else []))
        if id is None:
            from curate.io.readers import content_ids

            pool = pool.with_columns(content_ids(pool))
        elif pool[ID].is_duplicated().any() or pool[ID].null_count():
            raise InputError(f"id column '{id}' has empty or duplicated values", hint="make them unique, or drop --id")
        test_frame, y_test = None, None
        if test is not None:
            if test_label not in test.columns or text not in test.columns:
                raise InputError(f"the test set needs columns '{text}' and '{test_label}'; it has {', '.join(test.columns)}",
                                 hint="set --test-label")
            test_frame = test.select(pl.col(text).cast(pl.String).fill_null("").alias(TEXT))
            names = test[test_label].cast(pl.String)
            unknown = names.filter(~names.is_in(labels) | names.is_null()).unique()
            if len(unknown):
                raise InputError(f"the test set has labels outside the session's: {unknown.head(3).to_list()}",
                                 hint=f"labels are: {', '.join(labels)}")
            y_test = names.replace_strict(labels, list(range(len(labels))), return_dtype=pl.Int64).to_numpy()
        X, X_test = build_features(pool, features, extra=test_frame)
        folder.mkdir(parents=True, exist_ok=True)
        _save_features(folder / "features.bin", X)
        if X_test is not None:
            _save_features(folder / "test_features.bin", X_test)
        (folder / "estimator.pkl").write_bytes(pickle.dumps(estimator))
        store = Store(folder / (DB_NAME + ".tmp"))
        with store.write() as db:
            store.set_meta(db, {"labels": labels, "strategy": strategy, "batch_size": batch_size, "seed": seed,
                                "stop": stop.model_dump(), "features": features.model_dump(mode="json"),
                                "created": now()})
            db.executemany("INSERT INTO pool VALUES (?, ?, ?)",
                           zip(range(pool.height), pool[ID].to_list(), pool[TEXT].to_list(), strict=True))
            if y_test is not None:
                db.executemany("INSERT INTO test VALUES (?, ?, ?)",
                               zip(range(len(y_test)), test_frame[TEXT].to_list(), y_test.tolist(), strict=True))
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
        os.replace(folder / (DB_NAME + ".tmp"), folder / DB_NAME)
        for suffix in ("-wal", "-shm"):
            (folder / (DB_NAME + ".tmp" + suffix)).unlink(missing_ok=True)
        return cls(folder, who=who)

    # --- the loop ---------------------------------------------------------------------------

    def _features(self) -> Any:
        if self.X_ is None:
            self.X_ = _load_features(self.folder / "features.bin")
            self.X_test_ = _load_features(self.folder / "test_features.bin")
            self.y_test_ = np.array([row[0] for row in self.store.db.execute("SELECT label FROM test ORDER BY pos")], dtype=np.int64)
            self.estimator_ = pickle.loads((self.folder / "estimator.pkl").read_bytes())
            self.step_ = ActiveStep(self.X_, self.strategy, self.estimator_, self.meta_["seed"], self.batch_size)
        return self.X_

    def _fit(self, labelled: list[tuple[int, int]]) -> tuple[Fitted, np.ndarray, np.ndarray]:
        self._features()
        positions = np.array([p for p, _ in labelled], dtype=np.int64)
        y = np.array([label for _, label in labelled], dtype=np.int64)
        return self.step_.fit(positions, y), positions, y

    def _test_accuracy(self, model: Any) -> float | None:
        if self.X_test_ is None or model is None:
            return None
        return float((model.predict(self.X_test_) == self.y_test_).mean())

    def fit(self) -> Any:
        """Fit the model on every label so far and keep it as ``model_``.

        Returns
        -------
        estimator or None
            The fitted model; ``None`` while fewer than two classes are labelled.
        """
        labelled = self.store.labelled()
        self.model_ = self._fit(labelled)[0].model
        self.fitted_on_ = labelled
        return self.model_

    def guesses(self, ids: Sequence[str]) -> list[tuple[str, float] | None]:
        """The model's most likely label and its probability for each of ``ids``.

        The model is the one the last :meth:`query` (or :meth:`fit`) fitted; every entry is
        ``None`` before there is one.
        """
        positions = self._positions(ids)
        model = self.model_
        if model is None or not positions:
            return [None] * len(positions)
        proba = model.predict_proba(self._features()[positions])
        best = proba.argmax(axis=1)
        return [(self.labels[int(model.classes_[b])], float(proba[row, b])) for row, b in enumerate(best)]

    def _free_rows(self, labelled: list[tuple[int, int]], also_taken: Sequence[int]) -> np.ndarray:
        """Positions nobody labelled, nobody else claimed, and not in ``also_taken``."""
        taken = np.zeros(len(self.ids_), dtype=bool)
        taken[[p for p, _ in labelled] + self.store.claimed_by_others(self.who, self.claim_ttl) + list(also_taken)] = True
        return np.flatnonzero(~taken)

    def query(self, n: int | None = None, exclude: Sequence[str] = ()) -> list[str]:
        """Propose up to ``n`` rows to label (default: the batch size) and claim them.

        Rows this labeller was shown and has not answered come first (so a session
        resumes where it stopped); the rest are picked by the strategy after refitting
        the model on every label so far. Each call that picks rows is a round, stored
        with its query and metrics.

        The model is fitted and the rows picked outside any transaction, so other labellers
        (and a web page) can store labels meanwhile; the picks are then claimed in one short
        transaction, leaving out rows labelled or claimed by someone else in between.

        Raises
        ------
        InputError
            When no row is left to propose.
        """
        n = n or self.batch_size
        if n < 1:
            raise InputError(f"cannot query {n} rows", hint="ask for at least one")
        skip = {self.pos_[i] for i in exclude if i in self.pos_}
        while True:
            own = [p for p in self.store.own_claims(self.who) if p not in skip][:n]
            if len(own) == n:
                return [self.ids_[p] for p in own]
            energy = ProcessTimeEnergy(self.stop.watts)
            labelled = self.store.labelled()
            pool = self._free_rows(labelled, own + list(skip))
            if len(pool) == 0:
                if own:
                    return [self.ids_[p] for p in own]
                raise InputError("the pool is empty: every row is labelled, claimed by another labeller or skipped",
                                 hint="see `curate label status`, or export the labels")
            round_no = self.store.db.execute("SELECT COALESCE(MAX(round), 0) FROM rounds").fetchone()[0] + 1
            fitted, positions, y = self._fit(labelled)
            model = fitted.model
            self.model_, self.fitted_on_ = model, labelled
            predictions = fitted.predictions.astype(np.int8) if fitted.predictions is not None else None
            # in position order, the order the store gives claimed rows back in when a labeller resumes
            picks = sorted(self.step_.query(fitted, positions, y, pool, n - len(own), round_no).tolist())
            accuracy, kwh = self._test_accuracy(model), energy()
            with self.store.write() as db:
                taken = set(self.store.claimed_by_others(self.who, self.claim_ttl))
                taken.update(p for p, _ in self.store.labelled())
                picks = [p for p in picks if p not in taken]
                if picks:
                    last = db.execute("SELECT predictions FROM rounds WHERE predictions IS NOT NULL "
                                      "ORDER BY round DESC LIMIT 1").fetchone()
                    changed = (float((np.frombuffer(last[0], dtype=np.int8) != predictions).mean())
                               if last is not None and predictions is not None else None)
                    stamp = time.time()
                    db.executemany("INSERT OR REPLACE INTO claims VALUES (?, ?, ?)", [(p, self.who, stamp) for p in picks])
                    db.execute("INSERT INTO rounds (at, who, strategy, labels, query, accuracy, changed, kwh, predictions) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                               (now(), self.who, self.strategy, len(labelled), json.dumps([self.ids_[p] for p in picks]),
                                accuracy, changed, kwh, predictions.tobytes() if predictions is not None else None))
            if picks:  # else someone took every pick while the model fitted: look again
                return [self.ids_[p] for p in own + picks]

    def _label_index(self, label: Any) -> int:
        if isinstance(label, (int, np.integer)) and not isinstance(label, bool) and 0 <= label < len(self.labels):
            return int(label)
        if isinstance(label, str) and label in self.labels:
            return self.labels.index(label)
        raise InputError(f"unknown label {label!r}; labels are: {', '.join(self.labels)}",
                         hint=f"use one of those names, or its index 0..{len(self.labels) - 1}")

    def _positions(self, ids: Sequence[str]) -> list[int]:
        unknown = [i for i in ids if i not in self.pos_]
        if unknown:
            raise InputError(f"{len(unknown)} ids are not in the pool (e.g. {unknown[0]!r})", hint="use ids from query()")
        return [self.pos_[i] for i in ids]

    def teach(self, ids: Sequence[str], labels: Sequence[Any]) -> int:
        """Store the labels of ``ids`` (names or indices), in one transaction.

        A row another labeller already labelled keeps that label (it is never doubled).

        Returns
        -------
        int
            How many labels were stored.
        """
        if len(ids) != len(labels):
            raise InputError(f"{len(ids)} ids but {len(labels)} labels", hint="give one label per id")
        classes = [self._label_index(label) for label in labels]
        positions = self._positions(ids)
        with self.store.write() as db:
            round_no = db.execute("SELECT MAX(round) FROM rounds").fetchone()[0]
            stamp = now()
            stored = db.executemany("INSERT OR IGNORE INTO labels (pos, label, who, at, round) VALUES (?, ?, ?, ?, ?)",
                                    [(p, c, self.who, stamp, round_no) for p, c in zip(positions, classes, strict=True)]).rowcount
            db.executemany("DELETE FROM claims WHERE pos = ?", [(p,) for p in positions])
        return stored

    def undo(self) -> str | None:
        """Withdraw this labeller's last label (kept in the history as undone); return its id."""
        with self.store.write() as db:
            row = db.execute("SELECT seq, pos FROM labels WHERE who = ? AND active = 1 ORDER BY seq DESC LIMIT 1",
                             (self.who,)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE labels SET active = 0, undone_at = ? WHERE seq = ?", (now(), row[0]))
            db.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?)", (row[1], self.who, time.time()))
        return self.ids_[row[1]]

    def claim(self, ids: Sequence[str]) -> list[str]:
        """Claim ``ids`` for this labeller, except rows already labelled or claimed by someone else.

        Returns
        -------
        list of str
            The ids now claimed by this labeller.
        """
        positions = self._positions(ids)
        marks = ",".join("?" * len(positions))
        with self.store.write() as db:
            taken = {row[0] for row in db.execute(
                f"SELECT pos FROM labels WHERE active = 1 AND pos IN ({marks}) UNION "
                f"SELECT pos FROM claims WHERE who != ? AND at > ? AND pos IN ({marks})",
                [*positions, self.who, time.time() - self.claim_ttl, *positions])}
            mine = [p for p in positions if p not in taken]
            stamp = time.time()
            db.executemany("INSERT OR REPLACE INTO claims VALUES (?, ?, ?)", [(p, self.who, stamp) for p in mine])
        return [self.ids_[p] for p in mine]

    def release(self, ids: Sequence[str]) -> None:
        """Give back this labeller's claims on ``ids`` (skipped or left unanswered)."""
        positions = self._positions(ids)
        with self.store.write() as db:
            db.executemany("DELETE FROM claims WHERE pos = ? AND who = ?", [(p, self.who) for p in positions])

    def texts(self, ids: Sequence[str]) -> list[str]:
        """The texts of ``ids``."""
        positions = self._positions(ids)
        found = dict(self.store.db.execute(
            f"SELECT pos, text FROM pool WHERE pos IN ({','.join('?' * len(positions))})", positions).fetchall())
        return [found[p] for p in positions]

    # --- reporting --------------------------------------------------------------------------

    def stop_reason(self) -> str | None:
        """The stopping criterion met, or ``None``."""
        rounds = self.store.rounds()
        changed = [r["changed"] for r in rounds if r["changed"] is not None]
        labelled = self.store.db.execute("SELECT COUNT(*) FROM labels WHERE active = 1").fetchone()[0]
        return stop_reason(self.stop, labelled, sum(r["kwh"] for r in rounds), changed)

    def metrics(self, refit: bool = True) -> dict[str, Any]:
        """Counts, rounds, energy, and the held-out accuracy of a model fitted on every label so far.

        Parameters
        ----------
        refit : bool
            Fit that model when the last one (from :meth:`query` or :meth:`fit`) is out of
            date; with ``False`` the accuracy is ``None`` then, and nothing slow runs.
        """
        labelled = self.store.labelled()
        rounds = self.store.rounds()
        counts = np.bincount(np.array([c for _, c in labelled], dtype=np.int64), minlength=len(self.labels))
        accuracy = None
        if labelled and self.store.db.execute("SELECT COUNT(*) FROM test").fetchone()[0]:
            if labelled != self.fitted_on_ and refit:
                self.model_, self.fitted_on_ = self._fit(labelled)[0].model, labelled
            if labelled == self.fitted_on_:
                accuracy = self._test_accuracy(self.model_)
        return {
            "pool": len(self.ids_), "labelled": len(labelled), "unlabelled": len(self.ids_) - len(labelled),
            "per_label": dict(zip(self.labels, counts.tolist(), strict=True)),
            "labellers": dict(self.store.db.execute("SELECT who, COUNT(*) FROM labels WHERE active = 1 GROUP BY who").fetchall()),
            "undone": self.store.db.execute("SELECT COUNT(*) FROM labels WHERE active = 0").fetchone()[0],
            "rounds": len(rounds), "strategy": self.strategy, "accuracy": accuracy,
            "changed": next((r["changed"] for r in reversed(rounds) if r["changed"] is not None), None),
            "kwh": sum(r["kwh"] for r in rounds), "energy_kind": "estimated", "stop": self.stop_reason(),
        }

    def export(self) -> pl.DataFrame:
        """Every active label: id, text, label, who, at, round."""
        rows = self.store.db.execute(
            "SELECT p.id, p.text, l.label, l.who, l.at, l.round FROM labels l JOIN pool p ON p.pos = l.pos "
            "WHERE l.active = 1 ORDER BY l.seq").fetchall()
        frame = pl.DataFrame(rows, schema={"id": pl.String, "text": pl.String, "label_index": pl.Int64,
                                           "who": pl.String, "at": pl.String, "round": pl.Int64}, orient="row")
        names = pl.Series(self.labels, dtype=pl.String)
        return frame.with_columns(label=names.gather(frame["label_index"]) if frame.height else pl.lit(None, pl.String)).select(
            "id", "text", "label", "who", "at", "round")

    def close(self) -> None:
        """Close the database."""
        self.store.close()

    def _repr_html_(self) -> str:
        m = self.metrics()
        cells = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in m["per_label"].items())
        recent = "".join(
            f"<tr><td>{r['round']}</td><td>{r['labels']}</td><td>{len(r['query'])}</td>"
            f"<td>{_fmt(r['accuracy'])}</td><td>{_fmt(r['changed'])}</td></tr>" for r in self.store.rounds()[-10:])
        accuracy = "n/a (no test set)" if m["accuracy"] is None else f"{m['accuracy']:.3f}"
        return (f"<div><b>LabelingSession</b> {html.escape(str(self.folder))}: {m['labelled']} / {m['pool']} labelled, "
                f"{m['rounds']} rounds, strategy {html.escape(self.strategy)}, held-out accuracy {accuracy}, "
                f"stop: {m['stop'] or 'not yet'}"
                f"<table><tr><th>label</th><th>rows</th></tr>{cells}</table>"
                f"<table><tr><th>round</th><th>labels before</th><th>queried</th><th>accuracy</th><th>changed</th></tr>"
                f"{recent}</table></div>")
