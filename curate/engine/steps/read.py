"""Step 1, read: the input's rows get ids, are written as the run's input, and empty texts go to the ledger."""

from __future__ import annotations

import io
from dataclasses import dataclass

import polars as pl
import xxhash

from curate.config import PipelineConfig
from curate.engine.steps import Run
from curate.errors import InputError
from curate.io.readers import ReadResult, content_ids, read_input
from curate.io.writers import write_jsonl, write_parquet
from curate.schema import ID, TEXT, make_ledger


@dataclass(frozen=True)
class Source:
    """The run's input: every row with its id (``frame``), its content hash, the rows with a text
    (``rows``, what the splits and the stages see) and the ledger of those without (``empty``)."""

    read: ReadResult
    frame: pl.DataFrame
    input_hash: str
    rows: pl.DataFrame
    empty: pl.DataFrame


class _HashSink(io.RawIOBase):
    """A write-only stream that hashes what is written to it (xxh3-128) and keeps none of it."""

    def __init__(self) -> None:
        self.digest = xxhash.xxh3_128()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.digest.update(data)
        return len(data)


HASH_ROWS = 16_384
"""Rows per slice of the input hash (changing it changes every input's hash: checkpoints are rebuilt)."""


def frame_hash(df: pl.DataFrame) -> str:
    """A stable content hash of a frame: xxh3-128 of the Arrow IPC bytes of its slices of
    :data:`HASH_ROWS` rows, each made contiguous and hashed as it is written (never a copy of the
    whole frame; the same however the frame is chunked)."""
    sink = _HashSink()
    for start in range(0, max(df.height, 1), HASH_ROWS):
        df.slice(start, HASH_ROWS).rechunk().write_ipc(sink, compression="uncompressed")
    return sink.digest.hexdigest()


def prepare_input(read: ReadResult, config: PipelineConfig) -> pl.DataFrame:
    """Give every row a unique string id (content hash + row number when none is given)."""
    df = read.frame
    if ID not in df.columns:
        return df.clone().insert_column(0, content_ids(df))  # insert_column works in place: read.frame stays as read
    ids = df[ID].cast(pl.String)
    if ids.null_count():
        raise InputError(f"id column '{config.input.id}' has {ids.null_count()} empty values in {read.source}",
                         hint="fill them, or drop input.id to let curate make ids")
    duplicated = ids.filter(ids.is_duplicated()).unique(maintain_order=True)
    if len(duplicated):
        if config.input.ids == "error":
            examples = ", ".join(repr(v) for v in duplicated.head(3))
            raise InputError(f"id column '{config.input.id}' has {len(duplicated)} duplicated values (e.g. {examples})",
                             hint="make the ids unique, or set input.ids: regenerate to replace them by content ids")
        df = df.rename({ID: f"{ID}_original"})
        return df.insert_column(0, content_ids(df))
    return df.with_columns(ids).select(ID, pl.exclude(ID))


def split_empty(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows with null or whitespace-only text go to the ledger as ``empty_text``."""
    empty = pl.col(TEXT).is_null() | pl.col(TEXT).str.contains(r"^\s*$")  # no stripped copy of every text
    dropped = df.filter(empty)
    return df.filter(~empty), make_ledger(dropped[ID], "input", "empty_text")


def read_rows(config: PipelineConfig, input_config) -> pl.DataFrame:
    """The rows with a text of another input (the proxy's separate test file), with ids."""
    read = read_input(input_config)
    rows, _ = split_empty(prepare_input(read, config.model_copy(update={"input": input_config})))
    return rows


def take_input(run: Run, read: ReadResult) -> Source:
    """Set malformed rows aside (``quarantine.jsonl``), give every row an id, write the run's input
    checkpoint, and send rows without text to the ledger."""
    if read.bad_rows:
        write_jsonl(read.bad_rows, run.run_dir.quarantine)
        run.observer.message(f"{len(read.bad_rows)} malformed rows set aside in {run.run_dir.quarantine}")
    else:
        run.run_dir.quarantine.unlink(missing_ok=True)
    frame = prepare_input(read, run.config)
    input_hash = frame_hash(frame)
    write_parquet(frame, run.run_dir.input)
    rows, empty = split_empty(frame)
    return Source(read, frame, input_hash, rows, empty)
