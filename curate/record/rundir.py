"""The run directory's layout: one place that knows every path in it, who owns it, and its lock.

A folder is a run directory only when curate made it: it holds the marker ``.curate-run``
(or, written by older versions, ``manifest.json``). curate never writes into, and never
deletes from, any other folder, and inside its own it deletes only names it writes itself.
One run at a time holds the directory's lock (``flock`` on ``.curate.lock``, released by the
kernel when the process ends, however it ends).
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from curate.errors import OutputError
from curate.io.writers import output_error, write_json, write_parquet
from curate.schema import ID

MARKER = ".curate-run"
LOCK = ".curate.lock"
_CHECKPOINT_SUFFIXES = (".removed.parquet", ".parquet", ".done")
_STAGE_BASE = re.compile(r"^\d{2}-[A-Za-z0-9_.-]+$")


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label)


@dataclass(frozen=True)
class RunDir:
    """Paths and checkpoint I/O of ``runs/<name>/``."""

    root: Path

    curated = property(lambda self: self.root / "curated.parquet")
    removed = property(lambda self: self.root / "removed.parquet")
    manifest = property(lambda self: self.root / "manifest.json")
    report = property(lambda self: self.root / "report.json")
    quarantine = property(lambda self: self.root / "quarantine.jsonl")
    test = property(lambda self: self.root / "test.parquet")
    validation = property(lambda self: self.root / "validation.parquet")
    restored = property(lambda self: self.root / "restored.parquet")
    stages = property(lambda self: self.root / "stages")
    input = property(lambda self: self.root / "stages" / "00-input.parquet")

    marker = property(lambda self: self.root / MARKER)
    lock_file = property(lambda self: self.root / LOCK)

    @property
    def outputs(self) -> tuple[Path, ...]:
        """The files a finished run writes (a new run removes them first, so two runs never mix)."""
        return (self.curated, self.removed, self.manifest, self.report, self.root / "report.html", self.quarantine,
                self.test, self.validation, self.restored)

    def is_curates(self) -> bool:
        """Whether ``root`` is a run directory curate made (marker, lock or a manifest of an older version)."""
        return any((self.root / name).is_file() for name in (MARKER, LOCK, "manifest.json"))

    @contextmanager
    def claim(self) -> Iterator[RunDir]:
        """Create or recognise the run directory, hold its lock, and clear the last run's outputs.

        Raises
        ------
        OutputError
            ``root`` is a file, a folder curate did not make, not writable, or another run holds the lock.
        """
        self._make()
        with self._lock():
            if not self.marker.exists():
                from curate import __version__

                write_json({"tool": "curate", "version": __version__}, self.marker)
            for path in self.outputs:
                _unlink(path)
            yield self

    def _make(self) -> None:
        root = self.root
        for parent in (root, *root.parents):
            if parent.exists() and not parent.is_dir():
                what = "the run directory" if parent == root else "output.dir (or a folder above it)"
                raise OutputError(f"{what} {parent} is a file, not a folder",
                                  hint="set output.dir / output.name to a folder path, or move the file")
        if root.is_dir():
            if any(root.iterdir()) and not self.is_curates():
                raise OutputError(
                    f"{root} exists and is not a curate run directory (it has no {MARKER} or manifest.json); "
                    "curate will not write into or delete from it",
                    hint="set output.name (or output.dir) to a new or empty folder")
            return
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise output_error(root, exc) from None

    @contextmanager
    def _lock(self) -> Iterator[None]:
        import fcntl

        try:
            handle = open(self.lock_file, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole run
        except OSError as exc:
            raise output_error(self.lock_file, exc) from None
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise output_error(self.lock_file, exc) from None
                handle.seek(0)
                holder = _holder(handle.read())
                raise OutputError(f"run directory {self.root} is in use by another curate run ({holder})",
                                  hint="wait for that run to finish, or set output.name to run somewhere else") from None
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                     "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) + "\n")
            handle.flush()
            yield
        finally:
            handle.close()  # closing the file releases the lock

    def stage_base(self, index: int, label: str) -> Path:
        """Checkpoint path stem of stage ``index`` (1-based)."""
        return self.stages / f"{index:02d}-{_slug(label)}"

    def stage_file(self, index: int, label: str, suffix: str = ".parquet") -> Path:
        """A checkpoint file of stage ``index``: ``.parquet`` (kept rows), ``.removed.parquet`` or ``.done``."""
        return _beside(self.stage_base(index, label), suffix)

    def artifacts(self, index: int, label: str) -> Path:
        """Folder for stage ``index``'s cached artefacts (signatures, similarities)."""
        return self.root / "artifacts" / f"{index:02d}-{_slug(label)}"

    def load_checkpoint(self, index: int, label: str, key: str,
                        previous: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, dict] | None:
        """The kept rows, ledger and stats of a completed stage whose key matches, else ``None``.

        ``previous`` is the stage's input: a checkpoint that holds ids (``checkpoints: ids``) or
        nothing (the stage kept its input as it was) is rebuilt from it.
        """
        base = self.stage_base(index, label)
        done = _beside(base, ".done")
        if not done.exists():
            return None
        try:
            marker = json.loads(done.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        kept_path, removed_path = _beside(base, ".parquet"), _beside(base, ".removed.parquet")
        stored = marker.get("kept", "full")
        if marker.get("key") != key or not removed_path.exists() or (stored != "unchanged" and not kept_path.exists()):
            return None
        if stored == "unchanged":
            kept = previous
        elif stored == "ids":
            kept = _rebuild(pl.read_parquet(kept_path), previous, marker["columns"])
        else:
            kept = pl.read_parquet(kept_path)
        return kept, pl.read_parquet(removed_path), marker["stats"]

    def save_checkpoint(self, index: int, label: str, key: str, kept: pl.DataFrame, removed: pl.DataFrame,
                        stats: dict[str, Any], previous: pl.DataFrame, mode: str = "full") -> None:
        """Write a stage's outputs, then its ``.done`` marker last (a crash leaves no marker).

        The kept rows are written in full (``mode`` ``full``), or as their ids in order with the
        columns the stage added (``ids``); a stage that kept ``previous`` exactly writes no rows.
        """
        base = self.stage_base(index, label)
        _beside(base, ".done").unlink(missing_ok=True)
        kept_path = _beside(base, ".parquet")
        marker: dict[str, Any] = {"key": key, "stats": stats, "kept": mode}
        if kept.equals(previous):
            marker["kept"] = "unchanged"
            kept_path.unlink(missing_ok=True)
        elif mode == "ids":
            added = [c for c in kept.columns if c not in previous.columns]
            write_parquet(kept.select(ID, *added), kept_path)
            marker["columns"] = kept.columns
        else:
            write_parquet(kept, kept_path)
        write_parquet(removed, _beside(base, ".removed.parquet"))
        write_json(marker, _beside(base, ".done"))

    def prune_checkpoints(self, keep: set[str]) -> None:
        """Delete checkpoint files of stages no longer in the pipeline, and stale temp files.

        Only names curate writes (``NN-<label>.parquet``, ``.removed.parquet``, ``.done`` and
        their ``.<name>.<random>.tmp`` temp files) are touched; anything else stays.
        """
        if not self.stages.is_dir():
            return
        for path in self.stages.iterdir():
            base, temporary = checkpoint_base(path.name)
            if base is not None and path.is_file() and (temporary or (base != "00-input" and base not in keep)):
                _unlink(path)


def checkpoint_base(name: str) -> tuple[str | None, bool]:
    """The stage base (``03-filter``) a file name in ``stages/`` belongs to, and whether it is a temp file.

    ``(None, False)`` for a name curate does not write.
    """
    temporary = name.startswith(".") and name.endswith(".tmp") and name.count(".") >= 3
    if temporary:
        name = name[1:-len(".tmp")].rsplit(".", 1)[0]
    for suffix in _CHECKPOINT_SUFFIXES:
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if _STAGE_BASE.match(base):
                return base, temporary
    return None, False


def _holder(text: str) -> str:
    try:
        info = json.loads(text)
        return f"pid {info['pid']} on {info['host']}, started {info['started']}"
    except (ValueError, KeyError, TypeError):
        return "a process that has not written its pid yet"


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise output_error(path, exc) from None


def _rebuild(stored: pl.DataFrame, previous: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """A stage's kept rows from its stored ids (in order) and added columns, and its input's other columns."""
    carried = previous.select(ID, *[c for c in columns if c not in stored.columns])
    return stored.join(carried, on=ID, how="left", maintain_order="left").select(columns)


def _beside(base: Path, suffix: str) -> Path:
    """``base`` with ``suffix`` appended (a label may hold dots, so never ``with_suffix``)."""
    return base.parent / (base.name + suffix)
