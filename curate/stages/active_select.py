"""Active selection: simulate labelling from a seed set with an oracle column; keep what was selected."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import numpy as np
import polars as pl
from pydantic import Field, field_validator

from curate.active.curves import encode_labels, resolve_budget
from curate.active.features import FeatureConfig, build_features
from curate.active.loop import run_loop
from curate.active.stopping import MeterEnergy, StopConfig
from curate.active.strategies import STRATEGIES, default_estimator
from curate.errors import StageError
from curate.guard import prefix_search
from curate.registry import register
from curate.schema import ID, LABEL, make_ledger
from curate.stages.base import RunContext, Stage, StageConfig, StageResult


class ActiveSelectConfig(StageConfig):
    """Keep the rows an active learner would ask to label, until a budget or stopping criterion."""

    type: Literal["active_select"] = "active_select"
    oracle: str = Field(LABEL, description="Column with the labels that answer each query (the oracle).")
    strategy: Literal[STRATEGIES] = Field("balanced_margin", description="Query strategy; balanced_margin (margin sampling spread over the predicted classes) held against random on every corpus of the selection benchmark.")
    budget: Annotated[int, Field(gt=0)] | Annotated[float, Field(gt=0, le=1)] | Literal["auto"] = Field(
        0.5, description="Rows to select: a count, a fraction of the input in (0, 1], or `auto`: the smallest query-order prefix whose validation macro-F1 (proxy model) is within guard.tolerance of the whole pool's and not below random (see docs/guard.md).")
    seed_size: int | Literal["auto"] = Field("auto", description="Random seed set the loop starts from (it holds a row of every class); auto: 10 rows per class or 0.5% of the input, the larger.")
    batch_size: int | Literal["auto"] = Field("auto", description="Rows labelled per round; auto: a quarter of the rows labelled so far, so no query of an early model picks most of the budget.")
    random_share: float = Field(0.2, ge=0, le=1, description="Share of every batch picked at random instead of by the strategy (a guard against sampling bias).")
    stop: StopConfig = Field(default_factory=StopConfig, description="Further stopping criteria (energy budget, stable predictions).")
    features: FeatureConfig = Field(default_factory=FeatureConfig, description="Features of the model (embeddings or tfidf).")
    C: float = Field(1.0, gt=0, description="Inverse regularisation of the logistic-regression model.")
    class_weight: Literal["balanced"] | None = Field(None, description="Class weights of the model: null (unweighted) or balanced.")

    @field_validator("seed_size", "batch_size")
    @classmethod
    def _positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("must be a count of at least 1, or 'auto'")
        return value

    def uses_validation(self) -> bool:
        """``budget: auto`` judges prefixes on the run's validation split."""
        return self.budget == "auto"


@register("active_select")
class ActiveSelect(Stage):
    """Simulated active learning over an oracle column; unselected rows go to the ledger."""

    kind = "global"
    Config = ActiveSelectConfig
    examples = ({"budget": 30, "strategy": "entropy", "features": {"source": "tfidf"}},
                {"budget": 0.4, "strategy": "diversity", "seed_size": 5, "batch_size": 7},
                {"strategy": "coreset", "stop": {"max_labels": 25}, "features": {"source": "tfidf", "ngrams": 1}})

    def apply(self, df: pl.DataFrame, ctx: RunContext) -> StageResult:
        """Run the loop; keep the selected rows (with the round that picked them)."""
        cfg = self.config
        if cfg.oracle not in df.columns:
            raise StageError(f"oracle column '{cfg.oracle}' not found; columns are: {', '.join(df.columns)}",
                             hint="set active_select.oracle to the column holding the labels")
        if df.height == 0:
            return StageResult(kept=df.with_columns(active_round=pl.lit(None, pl.Int64)),
                               removed=make_ledger([], self.label, "not_selected"), stats={"strategy": cfg.strategy})
        search = prefix_search(self, df, ctx) if cfg.budget == "auto" else None
        budget = search.largest if search is not None else resolve_budget(cfg.budget, df.height)
        y, _ = encode_labels(df[cfg.oracle])
        X, _ = build_features(df, cfg.features, ctx)
        estimator = default_estimator().set_params(C=cfg.C, class_weight=cfg.class_weight)
        result = run_loop(X, y, cfg.strategy, estimator=estimator, seed=ctx.seed, seed_size=cfg.seed_size,
                          batch_size=cfg.batch_size, budget=max(budget, 1), stop=cfg.stop,
                          random_share=cfg.random_share,
                          energy=MeterEnergy(ctx.meter) if ctx.meter is not None else None,
                          on_round=search.offer if search is not None else None)
        ctx.progress(df.height, df.height)
        order, rounds_of = result.order, result.round_of
        if search is not None and search.chosen_ is not None:
            order, rounds_of = order[: search.chosen_], rounds_of[: search.chosen_]
        round_of = np.full(df.height, -1, dtype=np.int64)
        round_of[order] = rounds_of
        chosen = np.ones(df.height, dtype=bool) if search is not None and search.chosen_ is None else round_of >= 0
        dropped = df.filter(pl.Series(~chosen))
        detail = json.dumps({"round": result.rounds, "stop": result.stop})
        rounds_column = pl.Series("active_round", round_of[chosen]).replace(-1, None)  # null: kept, never queried
        return StageResult(
            kept=df.filter(pl.Series(chosen)).with_columns(rounds_column),
            removed=make_ledger(dropped[ID], self.label, "not_selected", detail=detail),
            stats={"strategy": cfg.strategy, "budget": int(chosen.sum()) if search is not None else budget,
                   "selected": int(chosen.sum()), "rounds": result.rounds, "stop": result.stop,
                   "energy_kwh": result.kwh, "energy_kind": result.energy_kind,
                   "accuracy_on": "rows not selected (oracle)", "curve": result.curve,
                   **({"auto_budget": search.summary().model_dump(mode="json")} if search is not None else {})},
        )
