"""User filter: keep rows where a safe expression over columns holds (see :mod:`curate.quality.expr`)."""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import Field, field_validator

from curate.errors import StageError
from curate.quality.expr import ExpressionError, check, compile_clauses
from curate.registry import register
from curate.schema import ID, make_ledger
from curate.stages.base import RunContext, Stage, StageConfig, StageResult


class FilterConfig(StageConfig):
    """Keep rows where ``expr`` is true, e.g. ``confidence >= 0.6 and text.len() > 20``."""

    type: Literal["filter"] = "filter"
    expr: str = Field("True", description="Expression over columns: and/or/not, comparisons, in [...], arithmetic, and the methods len lower upper strip contains startswith endswith is_null is_not_null abs. No Python is run.")
    keep_null: bool = Field(False, description="Keep rows where the expression is null (a missing value); by default they are removed.")

    @field_validator("expr")
    @classmethod
    def _safe(cls, value: str) -> str:
        check(value)
        return value


@register("filter")
class Filter(Stage):
    """Keep the rows where the expression holds; a removed row names the first failing clause."""

    kind = "map"
    Config = FilterConfig
    requires = {"id"}
    examples = ({"expr": "confidence >= 0.6 and text.len() > 40"}, {"expr": "label in [0, 2] or text.contains('sport')"},
                {"expr": "confidence > 0.5", "keep_null": True})

    def apply(self, df: pl.DataFrame, ctx: RunContext) -> StageResult:
        """Evaluate each top-level ``and`` clause; remove rows where any is false (or null)."""
        try:
            clauses = compile_clauses(self.config.expr, df.columns)
        except ExpressionError as exc:
            raise StageError(str(exc), hint="fix the filter's expr (column names are case-sensitive)") from None
        null_pass = self.config.keep_null
        names, values = [], []
        for clause in clauses:
            fails = (~clause.expr).fill_null(not null_pass)
            value = clause.value.cast(pl.Float64, strict=False) if clause.value is not None else pl.lit(None, pl.Float64)
            names.append(pl.when(fails).then(pl.lit(clause.text)))
            values.append(pl.when(fails).then(value))
        try:
            verdict = df.select(_clause=pl.coalesce(names), _score=pl.coalesce(values))
        except pl.exceptions.PolarsError as exc:
            raise StageError(f"filter expression \"{self.config.expr}\" cannot be evaluated: {exc}".splitlines()[0],
                             hint="check the column types: len/lower/contains need text, < and + need numbers") from None
        ctx.progress(df.height, df.height)
        failed = verdict["_clause"].is_not_null()
        bad = verdict.filter(failed)
        detail = bad.select(pl.concat_str(pl.lit("failed: "), pl.col("_clause"))).to_series()
        removed = make_ledger(df[ID].filter(failed), self.label, "filter_expr", bad["_score"], detail=detail)
        return StageResult(kept=df.filter(~failed), removed=removed, stats={"expr": self.config.expr})
