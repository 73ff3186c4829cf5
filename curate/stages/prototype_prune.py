"""Prototype pruning (Sorscher et al., 2022, "Beyond neural scaling laws").

Each row is scored by its cosine distance to its k-means centroid: close rows are
prototypical (easy), far rows are hard. Keep a fraction of the hardest (the paper's choice
for large data) or of the easiest (for small data).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import polars as pl
from pydantic import Field, field_validator

from curate.embed import EmbedderConfig
from curate.embed.kmeans import assign_clusters, choose_k, fit_kmeans
from curate.guard import prefix_search
from curate.registry import register
from curate.schema import ID, make_ledger
from curate.stages.base import RunContext, Stage, StageConfig, StageResult


class PrototypePruneConfig(StageConfig):
    """Keep a fraction of rows ranked by distance to their k-means centroid."""

    type: Literal["prototype_prune"] = "prototype_prune"
    embed: EmbedderConfig = Field(default_factory=EmbedderConfig, description="Embedding back-end (static by default).")
    keep_fraction: float | Literal["auto"] = Field(0.8, description="Fraction of rows kept (rounded up), in (0, 1]; or `auto`: the smallest fraction, in ranking order, whose validation macro-F1 (proxy model) is within guard.tolerance of the whole pool's and not below random (see docs/guard.md).")
    keep: Literal["hardest", "easiest"] = Field("hardest", description="Keep the rows farthest from their centroid (hardest) or closest (easiest).")
    n_clusters: int | None = Field(None, gt=0, description="k for k-means; default ceil(rows / cluster_size).")
    cluster_size: int = Field(1000, gt=0, description="Target rows per cluster when n_clusters is not set.")
    niter: int = Field(20, gt=0, description="k-means iterations.")
    threads: int | None = Field(None, gt=0, description="faiss OpenMP threads; default faiss's own.")

    @field_validator("keep_fraction")
    @classmethod
    def _fraction(cls, value: float | str) -> float | str:
        if value != "auto" and not 0 < value <= 1:
            raise ValueError("keep_fraction must be in (0, 1], or auto")
        return value

    def uses_validation(self) -> bool:
        """``keep_fraction: auto`` judges prefixes on the run's validation split."""
        return self.keep_fraction == "auto"


@register("prototype_prune")
class PrototypePrune(Stage):
    """Score rows by cosine distance to their centroid; prune the most (or least) prototypical."""

    kind = "global"
    Config = PrototypePruneConfig
    examples = ({"keep_fraction": 0.5, "keep": "easiest", "n_clusters": 3}, {"cluster_size": 25, "niter": 5})

    def apply(self, df: pl.DataFrame, ctx: RunContext) -> StageResult:
        """Keep ``keep_fraction`` of the rows; the ledger gives each pruned row's distance and cluster."""
        cfg = self.config
        n = df.height
        search = prefix_search(self, df, ctx) if cfg.keep_fraction == "auto" else None
        n_keep = n if search is not None else math.ceil(cfg.keep_fraction * n)
        if (n_keep >= n and search is None) or n < 2:
            ctx.progress(n, n)
            return StageResult(kept=df, removed=make_ledger([], self.label, "prototypical"), stats={"clusters": 0})
        vectors = ctx.embeddings(df, cfg.embed)
        k = choose_k(n, cfg.cluster_size) if cfg.n_clusters is None else min(cfg.n_clusters, n)
        centroids = fit_kmeans(vectors, k, ctx.seed, cfg.niter, threads=cfg.threads)
        cluster, similarity = assign_clusters(vectors, centroids)
        distance = 1.0 - similarity.astype(np.float64)
        position = np.arange(n)
        primary = -distance if cfg.keep == "hardest" else distance
        ranked = np.lexsort((position, primary))
        if search is not None:
            search.offer(ranked)
            n_keep = search.keep()
        mask = np.zeros(n, dtype=bool)
        mask[ranked[n_keep:]] = True
        removed = np.flatnonzero(mask)
        ctx.progress(n, n)
        fraction = n_keep / n
        ledger = make_ledger(df[ID].gather(removed), self.label, "prototypical", pl.Series(distance[removed]),
                             cluster_id=pl.Series(cluster[removed]), detail=f"kept the {cfg.keep} {fraction:.4g}")
        return StageResult(kept=df.filter(pl.Series(~mask)), removed=ledger,
                           stats={"clusters": int(k), "keep": cfg.keep, "keep_fraction": round(fraction, 6),
                                  "distance_threshold": float(distance[ranked[n_keep - 1]]),
                                  **({"auto_budget": search.summary().model_dump(mode="json")} if search is not None else {})})
