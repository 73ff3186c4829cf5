"""Exact dedup: identical texts after normalisation keep one row per group."""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from pydantic import Field, model_validator

from curate.errors import StageError
from curate.normalize import BATCH_ROWS, NormalizeConfig, text_hashes
from curate.registry import register
from curate.schema import ID, TEXT, make_ledger
from curate.stages.base import KEY, POSITION, KeyedStage, RunContext, StageConfig, StageResult


class ExactDedupConfig(StageConfig):
    """Remove rows whose normalised text is identical to an earlier kept row."""

    type: Literal["exact_dedup"] = "exact_dedup"
    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig, description="Normalisation applied before hashing.")
    hash_bits: Literal[64, 128] = Field(64, description="Width of the xxh3 hash of the normalised text.")
    keep: Literal["first", "longest", "max"] = Field("first", description="Which row of a duplicate group stays: the first, the longest text, or the max of `keep_column`.")
    keep_column: str | None = Field(None, description="Column whose maximum picks the kept row when keep is `max`.")

    @model_validator(mode="after")
    def _column_for_max(self) -> ExactDedupConfig:
        if (self.keep == "max") != (self.keep_column is not None):
            raise ValueError("keep: max needs keep_column, and keep_column is only used with keep: max")
        return self


CHARS = "__curate_chars"
"""Column holding each row's text length in characters, for the ``longest`` keep policy."""


def keeper_order(keep: str, keep_column: str | None, position: str, rows: int) -> list[pl.Expr]:
    """Sort keys that put the row to keep first in each group (ties go to the earliest row); ``longest``
    reads the lengths in :data:`CHARS`.

    Only the order of rows inside a group matters, so the keys give the same order on any subset
    holding the whole group (``max`` ranks descending, nulls last, ties by position).
    """
    if keep == "longest":
        return [-pl.col(CHARS).cast(pl.Int64), pl.col(position)]
    if keep == "max":
        return [pl.col(keep_column).rank("ordinal", descending=True).fill_null(rows + 1), pl.col(position)]
    return [pl.col(position)]


def check_keep_column(cfg, df: pl.DataFrame) -> None:
    """A :class:`StageError` when the keep policy's ``keep_column`` is not a column of ``df``."""
    if cfg.keep_column is not None and cfg.keep_column not in df.columns:
        raise StageError(f"keep_column '{cfg.keep_column}' not found; columns are: {', '.join(df.columns)}",
                         hint="set keep_column to one of them")


KEEPER, KEEPER_POSITION = "__curate_keeper", "__curate_keeper_pos"


@register("exact_dedup")
class ExactDedup(KeyedStage):
    """Group rows by a 64/128-bit xxh3 hash of their normalised text; keep one per group.

    Phases: ``keys`` hashes each row's normalised text (the key), ``group`` picks each hash group's
    keeper by the keep policy, ``finish`` writes the other rows to the ledger.
    """

    kind = "shuffle"
    Config = ExactDedupConfig
    examples = ({"keep": "longest", "hash_bits": 128}, {"keep": "max", "keep_column": "confidence"},
                {"normalize": {"lowercase": False, "strip_punctuation": True}})

    def fit(self, frame: pl.DataFrame, ctx: RunContext) -> pl.DataFrame:
        """Check that the keep policy's column exists."""
        check_keep_column(self.config, frame)
        return frame

    def streams_text(self) -> bool:
        """Yes: only each row's hash is kept, made a batch of text at a time."""
        return True

    def apply(self, df: pl.DataFrame, ctx: RunContext) -> StageResult:
        """The phases in this process, with the keys made a batch of texts at a time (from the frame,
        or from disk when the run keeps the text there)."""
        frame = self.fit(df, ctx)
        positioned = frame.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(POSITION))
        block_ctx, keyed, start = ctx.for_blocks(), [], 0
        for texts in ctx.text_batches(frame, BATCH_ROWS):
            keyed.append(self.keys(positioned.slice(start, len(texts)).with_columns(texts), block_ctx))
            start += len(texts)
        if not keyed:
            keyed.append(self.keys(positioned.clear().with_columns(pl.Series(TEXT, [], pl.String)), block_ctx))
        return self.finish(frame, self.group(pl.concat(keyed)), ctx)

    def keys(self, batch: pl.DataFrame, ctx: RunContext) -> pl.DataFrame:
        """Id, position, the hash of the normalised text (128-bit hashes as decimal text, which Arrow
        can carry) and what the keep policy compares."""
        cfg = self.config
        hashes = text_hashes(batch[TEXT], cfg.normalize, cfg.hash_bits)
        if hashes.dtype == pl.UInt128:
            hashes = hashes.cast(pl.String)
        policy = ([pl.col(TEXT).str.len_chars().alias(CHARS)] if cfg.keep == "longest"
                  else [cfg.keep_column] if cfg.keep == "max" else [])
        return batch.select(ID, POSITION, *policy).with_columns(hashes.alias(KEY))

    def group(self, keyed: pl.DataFrame) -> pl.DataFrame:
        """The rows that are not their hash group's keeper, with their keeper's id and position."""
        cfg = self.config
        order = keeper_order(cfg.keep, cfg.keep_column, POSITION, keyed.height)
        marked = keyed.with_columns(pl.col(ID).sort_by(order).first().over(KEY).alias(KEEPER),
                                    pl.col(POSITION).sort_by(order).first().over(KEY).alias(KEEPER_POSITION))
        return marked.filter(pl.col(KEEPER) != pl.col(ID)).select(ID, POSITION, KEEPER, KEEPER_POSITION)

    def finish(self, frame: pl.DataFrame, decisions: pl.DataFrame, ctx: RunContext) -> StageResult:
        """Keep one row per group; the others go to the ledger in input order (``cluster_id``: the keeper's position)."""
        dups = decisions.sort(POSITION)
        ctx.progress(frame.height, frame.height)
        duplicate = np.zeros(frame.height, dtype=bool)
        duplicate[dups[POSITION].to_numpy()] = True
        removed = make_ledger(dups[ID], self.label, "exact_duplicate", 1.0,
                              duplicate_of=dups[KEEPER], cluster_id=dups[KEEPER_POSITION])
        return StageResult(
            kept=frame.filter(pl.Series(~duplicate)),
            removed=removed,
            stats={"duplicate_groups": dups[KEEPER].n_unique(), "bytes": ctx.text_bytes(frame)},
        )
