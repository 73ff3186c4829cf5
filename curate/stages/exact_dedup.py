"""Exact dedup: identical texts after normalisation keep one row per group."""

from __future__ import annotations

from typing import Literal

import polars as pl
import polars_hash as plh
from pydantic import Field, model_validator

from curate.errors import StageError
from curate.normalize import NormalizeConfig, normalize
from curate.registry import register
from curate.schema import ID, TEXT, make_ledger
from curate.stages.base import RunContext, Stage, StageConfig, StageResult


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


def keeper_order(keep: str, keep_column: str | None, position: str, rows: int) -> list[pl.Expr]:
    """Sort keys that put the row to keep first in each group (ties go to the earliest row)."""
    if keep == "longest":
        return [-pl.col(TEXT).str.len_chars().cast(pl.Int64), pl.col(position)]
    if keep == "max":
        return [pl.col(keep_column).rank("ordinal", descending=True).fill_null(rows + 1), pl.col(position)]
    return [pl.col(position)]


def text_hashes(texts: pl.Series, cfg: ExactDedupConfig) -> pl.Series:
    """The xxh3 hash (64 or 128 bits) of each normalised text; nulls hash as empty text."""
    normalized = normalize(texts.fill_null(""), cfg.normalize)
    column = plh.col(TEXT).nchash
    hash_expr = column.xxh3_128() if cfg.hash_bits == 128 else column.xxh3_64()
    return normalized.to_frame(TEXT).select(hash_expr).to_series().rename("_hash")


def mark_keepers(work: pl.DataFrame, cfg: ExactDedupConfig) -> pl.DataFrame:
    """Add ``_keeper`` (id) and ``_keeper_pos`` to ``work`` (columns id, ``_hash``, ``_pos`` in row
    order, plus text / keep_column as the keep policy needs); a row is a duplicate when it is not its
    group's keeper. Groups are independent, so any subset holding whole groups gives the same marks."""
    order = keeper_order(cfg.keep, cfg.keep_column, "_pos", work.height)
    return work.with_columns(
        _keeper=pl.col(ID).sort_by(order).first().over("_hash"),
        _keeper_pos=pl.col("_pos").sort_by(order).first().over("_hash"),
    )


@register("exact_dedup")
class ExactDedup(Stage):
    """Group rows by a 64/128-bit xxh3 hash of their normalised text; keep one per group."""

    kind = "shuffle"
    Config = ExactDedupConfig

    def apply(self, df: pl.DataFrame, ctx: RunContext) -> StageResult:
        """Keep one row per normalised-text group; the others go to the ledger."""
        cfg = self.config
        if cfg.keep_column is not None and cfg.keep_column not in df.columns:
            raise StageError(f"keep_column '{cfg.keep_column}' not found; columns are: {', '.join(df.columns)}",
                             hint="set keep_column to one of them")
        work = df.select(ID, TEXT, *([cfg.keep_column] if cfg.keep_column else [])).with_columns(
            _hash=text_hashes(df[TEXT], cfg), _pos=pl.int_range(pl.len(), dtype=pl.Int64)
        )
        groups = mark_keepers(work, cfg)
        is_dup = groups["_keeper"] != groups[ID]
        dups = groups.filter(is_dup)
        ctx.progress(df.height, df.height)
        removed = make_ledger(dups[ID], self.label, "exact_duplicate", 1.0,
                              duplicate_of=dups["_keeper"], cluster_id=dups["_keeper_pos"])
        return StageResult(
            kept=df.filter(~is_dup),
            removed=removed,
            stats={"duplicate_groups": dups["_keeper"].n_unique(), "bytes": int(df[TEXT].str.len_bytes().sum() or 0)},
        )
