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
from pydantic import Field

from curate.embed import EmbedderConfig
from curate.embed.kmeans import assign_clusters, choose_k, fit_kmeans
from curate.registry import register
from curate.schema import ID, make_ledger
from curate.stages.base import RunContext, Stage, StageConfig, StageResult


class PrototypePruneConfig(StageConfig):
    """Keep a fraction of rows ranked by distance to their k-means centroid."""

    type: Literal["prototype_prune"] = "prototype_prune"
    embed: EmbedderConfig = Field(default_factory=EmbedderConfig, description="Embedding back-end (static by default).")
    keep_fraction: float = Field(0.8, gt=0, le=1, description="Fraction of rows kept (rounded up).")
    keep: Literal["hardest", "easiest"] = Field("hardest", description="Keep the rows farthest from their centroid (hardest) or closest (easiest).")
    n_clusters: int | None = Field(None, gt=0, description="k for k-means; default ceil(rows / cluster_size).")
    cluster_size: int = Field(1000, gt=0, description="Target rows per cluster when n_clusters is not set.")
    niter: int = Field(20, gt=0, description="k-means iterations.")
    threads: int | None = Field(None, gt=0, description="faiss OpenMP threads; default faiss's own.")


@register("prototype_prune")
class PrototypePrune(Stage):
    """Score rows by cosine distance to their centroid; prune the most (or least) prototypical."""

    kind = "global"
    Config = PrototypePruneConfig

    def apply(self, df: pl.DataFrame, ctx: RunContext) -> StageResult:
        """Keep ``keep_fraction`` of the rows; the ledger gives each pruned row's distance and cluster."""
        cfg = self.config
        n = df.height
        n_keep = math.ceil(cfg.keep_fraction * n)
        if n_keep >= n:
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
        mask = np.zeros(n, dtype=bool)
        mask[ranked[n_keep:]] = True
        removed = np.flatnonzero(mask)
        ctx.progress(n, n)
        ledger = make_ledger(df[ID].gather(removed), self.label, "prototypical", pl.Series(distance[removed]),
                             cluster_id=pl.Series(cluster[removed]), detail=f"kept the {cfg.keep} {cfg.keep_fraction:g}")
        return StageResult(kept=df.filter(pl.Series(~mask)), removed=ledger,
                           stats={"clusters": int(k), "keep": cfg.keep,
                                  "distance_threshold": float(distance[ranked[n_keep - 1]])})
