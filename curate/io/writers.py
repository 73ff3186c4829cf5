"""Atomic writes: a temp file in the same folder, fsync, then rename over the target."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[Any]:
    """Open a temp file beside ``path``; on success it replaces ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, 0o666 & ~_UMASK)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_parquet(df: pl.DataFrame, path: str | Path) -> None:
    """Write ``df`` atomically; the bytes depend only on the data (one row group layout)."""
    with atomic_write(path) as handle:
        df.rechunk().write_parquet(handle, compression="zstd", statistics=False)


def write_json(value: Any, path: str | Path) -> None:
    """Write ``value`` as indented JSON atomically."""
    with atomic_write(path, "w") as handle:
        json.dump(value, handle, indent=2, sort_keys=False, default=str)
        handle.write("\n")


def write_jsonl(rows: list[dict], path: str | Path) -> None:
    """Write ``rows`` as JSON lines atomically."""
    with atomic_write(path, "w") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
