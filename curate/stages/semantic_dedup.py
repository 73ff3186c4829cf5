"""Semantic dedup (SemDeDup, Abbas et al., 2023): near-identical embeddings inside a k-means cluster."""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
import polars as pl
import xxhash
from pydantic import Field, model_validator

from curate.embed import EmbedderConfig
from curate.embed.arrays import cached_arrays
from curate.embed.kmeans import assign_clusters, choose_k, fit_kmeans
from curate.embed.semdedup import keepers, nearest_earlier
from curate.errors import require
from curate.io.writers import write_parquet
from curate.registry import register
from curate.schema import ID, TEXT, make_ledger
from curate.stages.base import RunContext, Stage, StageConfig, StageResult, Threshold
from curate.stages.exact_dedup import keeper_order


class SemanticDedupConfig(StageConfig):
    """Cluster embeddings with spherical k-means; inside each cluster drop rows whose cosine
    similarity to a higher-priority row is at least ``1 - eps``."""

    type: Literal["semantic_dedup"] = "semantic_dedup"
    embed: EmbedderConfig = Field(default_factory=EmbedderConfig, description="Embedding back-end (static by default; `embedder: sentence-transformers` for MiniLM).")
    eps: float = Field(0.07, gt=0, lt=1, description="Rows with cosine similarity >= 1 - eps to a kept row of their cluster are duplicates.")
    n_clusters: int | None = Field(None, gt=0, description="k for k-means; default ceil(rows / cluster_size).")
    cluster_size: int = Field(1000, gt=0, description="Target rows per cluster when n_clusters is not set.")
    niter: int = Field(20, gt=0, description="k-means iterations.")
    max_points_per_centroid: int = Field(256, gt=0, description="k-means trains on a seeded sample of at most k x this many rows.")
    block_size: int = Field(1024, gt=0, description="Similarity tiles are at most block_size x block_size, whatever the cluster size.")
    keep: Literal["semdedup", "first", "longest", "max"] = Field(
        "semdedup", description="Which row of a duplicate group stays: `semdedup` (the one least similar to its cluster centroid, as in the paper), the first, the longest text, or the max of `keep_column`.")
    keep_column: str | None = Field(None, description="Column whose maximum picks the kept row when keep is `max`.")
    threads: int | None = Field(None, gt=0, description="faiss OpenMP threads; default faiss's own.")

    @model_validator(mode="after")
    def _column_for_max(self) -> SemanticDedupConfig:
        if (self.keep == "max") != (self.keep_column is not None):
            raise ValueError("keep: max needs keep_column, and keep_column is only used with keep: max")
        return self


def cluster_segments(cluster: np.ndarray, order: np.ndarray) -> list[np.ndarray]:
    """Row indices of each cluster, in ``order`` (which must sort rows by cluster first)."""
    sorted_clusters = cluster[order]
    cuts = np.flatnonzero(np.diff(sorted_clusters)) + 1
    return np.split(order, cuts)


NEIGHBOURS = "semantic_neighbours.parquet"
_VERSION = "semantic_dedup/1"  # bump when k-means or the within-cluster step changes its results


def _digest(*parts: object) -> str:
    """xxh3-128 of arrays (their bytes, dtype and shape) and scalars, for cache file names."""
    digest = xxhash.xxh3_128()
    for part in parts:
        if isinstance(part, np.ndarray):
            array = np.ascontiguousarray(part)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(array)
        else:
            digest.update(repr(part).encode())
        digest.update(b"|")
    return digest.hexdigest()


@register("semantic_dedup")
class SemanticDedup(Stage):
    """SemDeDup: k-means on embeddings, then blockwise pairwise cosine within each cluster.

    Ledger rows: ``reason`` semantic_duplicate, ``duplicate_of`` the kept row the duplicate
    chain ends at, ``cluster_id`` its k-means cluster, ``score`` the cosine similarity to
    ``duplicate_of``. The artefact ``semantic_neighbours.parquet`` holds every row's nearest
    higher-priority neighbour and cosine, so any eps can be audited without recomputing.

    The k-means assignments and every row's nearest higher-priority neighbour are cached in
    ``ctx.cache_dir/semantic/`` as checksummed files named by a digest of the vectors and of
    every setting they depend on (eps is applied afterwards), so rerunning the stage on the
    same data, or with another eps, skips both steps.
    """

    kind = "global"
    Config = SemanticDedupConfig
    artifacts = (NEIGHBOURS,)

    def thresholds(self) -> list[Threshold]:
        """Cosine similarity ``1 - eps`` to a higher-priority row of the cluster (every row's in the artefact)."""
        return [Threshold(column="nearest_similarity", value=1.0 - self.config.eps, removes="at_or_above",
                          reason="semantic_duplicate", artifact=NEIGHBOURS)]

    def _priority(self, df: pl.DataFrame, cluster: np.ndarray, centroid_sim: np.ndarray) -> np.ndarray:
        """Row indices sorted by cluster, then keep priority (the row to keep first)."""
        cfg = self.config
        work = df.select(TEXT, *([cfg.keep_column] if cfg.keep_column in df.columns else [])).with_columns(
            _pos=pl.int_range(pl.len(), dtype=pl.Int64), _cluster=pl.Series(cluster), _csim=pl.Series(centroid_sim))
        if cfg.keep == "semdedup":
            order = [pl.col("_csim"), pl.col("_pos")]
        else:
            order = keeper_order(cfg.keep, cfg.keep_column, "_pos", work.height)
        return work.sort([pl.col("_cluster"), *order]).get_column("_pos").to_numpy()

    def apply(self, df: pl.DataFrame, ctx: RunContext) -> StageResult:
        """Drop semantic duplicates; the ledger names the kept row, the cluster and the cosine."""
        cfg = self.config
        n = df.height
        if n < 2:
            ctx.progress(n, n)
            return StageResult(kept=df, removed=make_ledger([], self.label, "semantic_duplicate"),
                               stats={"clusters": n, "duplicate_groups": 0})
        started = time.perf_counter()
        vectors = ctx.embeddings(df, cfg.embed)
        embedded = time.perf_counter()
        k = choose_k(n, cfg.cluster_size) if cfg.n_clusters is None else min(cfg.n_clusters, n)
        faiss = require("faiss", "embed", "faiss-cpu")
        inputs = _digest(_VERSION, faiss.__version__, np.__version__, vectors, k, ctx.seed, cfg.niter,
                         cfg.max_points_per_centroid, cfg.threads)
        clusters, kmeans_hit = cached_arrays(
            ctx.cache_dir / "semantic" / f"kmeans-{inputs}.arrays", lambda: self._cluster(vectors, k, ctx.seed))
        cluster, centroid_sim = clusters["cluster"], clusters["centroid_similarity"]
        clustered = time.perf_counter()

        order = self._priority(df, cluster, centroid_sim)
        segments = cluster_segments(cluster, order)
        key = _digest(inputs, order, cfg.block_size)
        neighbours, pairs_hit = cached_arrays(
            ctx.cache_dir / "semantic" / f"neighbours-{key}.arrays",
            lambda: self._neighbours(vectors, segments, ctx))
        nearest, similarity = neighbours["nearest"], neighbours["similarity"]
        parent = np.where(similarity >= np.float32(1.0 - cfg.eps), nearest, -1)
        if pairs_hit:
            ctx.progress(n, n)
        finished = time.perf_counter()

        return self.result(df, ctx, vectors, cluster, centroid_sim, nearest, similarity, parent, {
            "clusters": int(k), "largest_cluster": int(max(len(s) for s in segments)), "dims": int(vectors.shape[1]),
            "embed_seconds": round(embedded - started, 4), "kmeans_seconds": round(clustered - embedded, 4),
            "within_cluster_seconds": round(finished - clustered, 4),
            "kmeans_cached": kmeans_hit, "within_cluster_cached": pairs_hit})

    def result(self, df: pl.DataFrame, ctx: RunContext, vectors: np.ndarray, cluster: np.ndarray,
               centroid_sim: np.ndarray, nearest: np.ndarray, similarity: np.ndarray, parent: np.ndarray,
               stats: dict) -> StageResult:
        """Kept rows, ledger and the neighbours artefact from each row's duplicate parent (-1: none).

        Shared by this stage and the Ray engine, which finds the parents with a group-by.
        """
        removed = np.flatnonzero(parent >= 0)
        keeper = keepers(parent)[removed]
        score = np.einsum("ij,ij->i", vectors[removed], vectors[keeper]).astype(np.float64)
        ids = df[ID]
        ledger = make_ledger(ids.gather(removed), self.label, "semantic_duplicate", pl.Series(score),
                             duplicate_of=ids.gather(keeper), cluster_id=pl.Series(cluster[removed]))
        self._save_neighbours(ctx, ids, cluster, centroid_sim, nearest, similarity)
        mask = np.zeros(len(df), dtype=bool)
        mask[removed] = True
        return StageResult(kept=df.filter(pl.Series(~mask)), removed=ledger,
                           stats={**stats, "duplicate_groups": int(np.unique(keeper).size)})

    def _cluster(self, vectors: np.ndarray, k: int, seed: int) -> dict[str, np.ndarray]:
        """k-means fit and the nearest centroid of every row (and its cosine)."""
        cfg = self.config
        centroids = fit_kmeans(vectors, k, seed, cfg.niter, cfg.max_points_per_centroid, cfg.threads)
        cluster, centroid_sim = assign_clusters(vectors, centroids)
        return {"cluster": cluster, "centroid_similarity": centroid_sim}

    def _neighbours(self, vectors: np.ndarray, segments: list[np.ndarray], ctx: RunContext) -> dict[str, np.ndarray]:
        """Every row's nearest higher-priority row of its cluster (-1 for none) and their cosine."""
        n = len(vectors)
        nearest = np.full(n, -1, dtype=np.int64)
        similarity = np.full(n, -np.inf, dtype=np.float32)
        for rows in segments:
            local_nearest, local_sim = nearest_earlier(vectors[rows], self.config.block_size)
            has_nearest = local_nearest >= 0
            nearest[rows[has_nearest]] = rows[local_nearest[has_nearest]]
            similarity[rows] = local_sim
            ctx.progress(len(rows), n)
        return {"nearest": nearest, "similarity": similarity}

    def _save_neighbours(self, ctx: RunContext, ids: pl.Series, cluster: np.ndarray, centroid_sim: np.ndarray,
                         nearest: np.ndarray, similarity: np.ndarray) -> None:
        """Per row: cluster, similarity to its centroid, and its nearest higher-priority row with
        their cosine, so an audit can sweep eps without recomputing."""
        path = ctx.artifact_path(NEIGHBOURS)
        if path is None:
            return
        has = nearest >= 0
        table = pl.DataFrame({ID: ids, "cluster_id": cluster, "centroid_similarity": centroid_sim,
                              "nearest_id": ids.gather(np.maximum(nearest, 0)),
                              "nearest_similarity": np.where(has, similarity, 0.0), "_has": has})
        table = table.with_columns(nearest_id=pl.when("_has").then("nearest_id"),
                                   nearest_similarity=pl.when("_has").then("nearest_similarity")).drop("_has")
        write_parquet(table, path)
