"""Atomic writes: a temp file in the same folder, fsync, then rename over the target."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from curate.errors import OutputError

_UMASK = os.umask(0)
os.umask(_UMASK)


def output_error(path: Path, exc: OSError) -> OutputError:
    """The one-line error for an ``OSError`` met while writing ``path``: what happened and what to do."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        return OutputError(f"no space left on the device while writing {path}",
                           hint="free some space, or set output.dir to a folder on another disk")
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        what = "a read-only file system" if code == errno.EROFS else "permission denied"
        return OutputError(f"cannot write {path}: {what}", hint="set output.dir to a folder you can write to")
    if code in (errno.ENOTDIR, errno.EEXIST):
        return OutputError(f"cannot write {path}: a file is in the way of a folder on its path",
                           hint="move that file, or set output.dir to another folder")
    return OutputError(f"cannot write {path}: {exc.strerror or exc}", hint="check the output folder")


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[Any]:
    """Open a temp file beside ``path``; on success it replaces ``path`` atomically.

    An ``OSError`` (permissions, a full disk) becomes an :class:`OutputError`; the temp file is removed.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise output_error(path, exc) from None
    os.chmod(tmp, 0o666 & ~_UMASK)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise output_error(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


ROW_GROUP_ROWS = 16_384
"""Rows per Parquet row group: a reader that filters or streams a file decodes one group at a time."""


def write_parquet(df: pl.DataFrame, path: str | Path, metadata: dict[str, str] | None = None) -> None:
    """Write ``df`` atomically, with ``metadata`` as the file's key-value metadata; the bytes
    depend only on the data and the metadata (row groups of :data:`ROW_GROUP_ROWS` rows, each
    made contiguous on its own: the frame is never copied whole)."""
    blocks = (df.slice(start, ROW_GROUP_ROWS) for start in range(0, df.height, ROW_GROUP_ROWS))
    write_parquet_blocks(blocks, df.head(0), path, metadata)


def write_parquet_blocks(blocks: Iterable[pl.DataFrame], schema: pl.DataFrame, path: str | Path,
                         metadata: dict[str, str] | None = None) -> None:
    """Write ``blocks`` (frames of at most :data:`ROW_GROUP_ROWS` rows with ``schema``'s columns)
    atomically as one Parquet file, a row group each, made as they come: only one block is held."""
    import pyarrow.parquet as pq

    arrow = lambda frame: frame.to_arrow(compat_level=pl.CompatLevel.oldest())  # noqa: E731
    with atomic_write(path) as handle:
        with pq.ParquetWriter(handle, arrow(schema).schema, compression="zstd", write_statistics=False) as writer:
            if metadata:
                writer.add_key_value_metadata(metadata)
            for block in blocks:
                writer.write_table(arrow(block.rechunk()), row_group_size=ROW_GROUP_ROWS)


def json_default(value: Any) -> Any:
    """JSON for values ``json`` does not know: numpy scalars and arrays as numbers and lists
    (so a stat reads back as the number it was), anything else as its string."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def write_json(value: Any, path: str | Path) -> None:
    """Write ``value`` as indented JSON atomically."""
    with atomic_write(path, "w") as handle:
        json.dump(value, handle, indent=2, sort_keys=False, default=json_default)
        handle.write("\n")


def write_jsonl(rows: list[dict], path: str | Path) -> None:
    """Write ``rows`` as JSON lines atomically."""
    with atomic_write(path, "w") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, default=json_default) + "\n")
