"""A keyed stage that lives in the test suite only, written as a newcomer would write one.

It shows that a stage made of public phases runs on every engine with no change to
``curate/engine/``: the contract suite runs it like the registered stages, and
tests/test_ray_engine.py runs it on the local and the Ray engine.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from pydantic import Field

from curate.schema import ID, TEXT, make_ledger
from curate.stages.base import KEY, POSITION, KeyedStage, RunContext, StageConfig, StageResult

NAME = "test_cap_per_key"
WORDS = "__curate_words"
KEEPER = "__curate_keeper"


class CapPerKeyConfig(StageConfig):
    """Keep at most ``cap`` rows per value of ``column``: the ones with the most words (ties: the first)."""

    type: Literal["test_cap_per_key"] = "test_cap_per_key"
    column: str = Field("label", description="Rows with the same value of this column form a group.")
    cap: int = Field(2, ge=1, description="Rows kept per group.")


class CapPerKey(KeyedStage):
    """Caps each group's rows; a removed row names the group's first kept row."""

    name = NAME
    kind = "shuffle"
    Config = CapPerKeyConfig
    examples = ({"cap": 1}, {"column": "text", "cap": 1})

    def prepare(self, batch: pl.DataFrame, ctx: RunContext) -> pl.DataFrame:
        return batch.with_columns(pl.col(TEXT).str.count_matches(r"\S+").cast(pl.Int64).alias(WORDS))

    def keys(self, batch: pl.DataFrame, ctx: RunContext) -> pl.DataFrame:
        return batch.select(ID, POSITION, WORDS, pl.col(self.config.column).cast(pl.String).alias(KEY))

    def group(self, keyed: pl.DataFrame) -> pl.DataFrame:
        ranked = keyed.sort(WORDS, POSITION, descending=[True, False]).with_columns(
            pl.int_range(pl.len()).over(KEY).alias("rank"), pl.col(ID).first().over(KEY).alias(KEEPER))
        return ranked.filter(pl.col("rank") >= self.config.cap).select(ID, POSITION, WORDS, KEEPER)

    def finish(self, frame: pl.DataFrame, decisions: pl.DataFrame, ctx: RunContext) -> StageResult:
        over = decisions.sort(POSITION)
        dropped = np.zeros(frame.height, dtype=bool)
        dropped[over[POSITION].to_numpy()] = True
        ctx.progress(frame.height, frame.height)
        return StageResult(kept=frame.filter(pl.Series(~dropped)).drop(WORDS),
                           removed=make_ledger(over[ID], self.label, "over_cap", over[WORDS], duplicate_of=over[KEEPER]),
                           stats={"over_cap": over.height, "groups_capped": over[KEEPER].n_unique()})
