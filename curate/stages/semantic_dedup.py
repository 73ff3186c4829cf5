"""Semantic dedup (SemDeDup, Abbas et al., 2023): near-identical embeddings inside a k-means cluster."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
import xxhash
from pydantic import Field, field_validator, model_validator

from curate.embed import EmbedderConfig, make_encoder
from curate.embed.arrays import cached_arrays, read_cached, save_arrays
from curate.embed.cache import text_keys
from curate.embed.chunks import WORD, document_vectors
from curate.embed.kmeans import assign_clusters, choose_k, fit_kmeans
from curate.embed.semdedup import AUTO_MIN_ROWS, auto_eps, duplicate_parents, keepers, nearest_earlier, threshold_of
from curate.errors import require
from curate.io.writers import write_parquet
from curate.registry import register
from curate.schema import ID, TEXT, make_ledger
from curate.stages.base import KEY, POSITION, KeyedStage, RunContext, StageConfig, StageResult, Threshold
from curate.stages.exact_dedup import CHARS, keeper_order


class SemanticDedupConfig(StageConfig):
    """Cluster embeddings with spherical k-means; inside each cluster drop rows whose cosine
    similarity to a higher-priority row is at least ``1 - eps``."""

    type: Literal["semantic_dedup"] = "semantic_dedup"
    embed: EmbedderConfig = Field(default_factory=EmbedderConfig, description="Embedding back-end (static by default; `embedder: sentence-transformers` for MiniLM).")
    eps: float | Literal["auto"] = Field(
        "auto", description="Rows with cosine similarity >= 1 - eps to a higher-priority row of their cluster are duplicates (0 < eps < 1). `auto` (default): each row's eps is eps_ratio x the median nearest-neighbour cosine distance of the 100 texts closest to it in length (all texts of its length when more), at most eps_max, so it follows the embedder and the corpus (long texts crowd together); the stage stats say what was used (eps_by_length, eps_reason).")
    eps_ratio: float = Field(0.2, gt=0, lt=1, description="With eps: auto, eps is this fraction of the median nearest-neighbour cosine distance: a duplicate sits at least 1 / eps_ratio times closer to its neighbour than a typical row of its length.")
    eps_max: float = Field(0.1, gt=0, lt=1, description="With eps: auto, the largest eps it may choose (MiniLM on short texts reaches it; the static back-end stays below), and the eps of a corpus with fewer than 20 rows to measure.")
    chunk_words: int | None = Field(128, gt=0, description="Texts longer than this many words are embedded in chunks of at most this many words and pooled (word-weighted mean), so no part of a long text is truncated away by the model; null embeds whole texts. Ignored for embedder: column.")
    max_chunks: int = Field(64, gt=0, description="At most this many chunks per text (longer texts get longer chunks).")
    n_clusters: int | None = Field(None, gt=0, description="k for k-means; default ceil(rows / cluster_size).")
    cluster_size: int = Field(1000, gt=0, description="Target rows per cluster when n_clusters is not set.")
    niter: int = Field(20, gt=0, description="k-means iterations.")
    max_points_per_centroid: int = Field(256, gt=0, description="k-means trains on a seeded sample of at most k x this many rows.")
    block_size: int = Field(1024, gt=0, description="Similarity tiles are at most block_size x block_size, whatever the cluster size.")
    keep: Literal["semdedup", "first", "longest", "max"] = Field(
        "semdedup", description="Which row of a duplicate group stays: `semdedup` (the one least similar to its cluster centroid, as in the paper), the first, the longest text, or the max of `keep_column`.")
    keep_column: str | None = Field(None, description="Column whose maximum picks the kept row when keep is `max`.")
    threads: int | None = Field(None, gt=0, description="faiss OpenMP threads; default faiss's own.")

    @field_validator("eps")
    @classmethod
    def _eps_in_range(cls, eps: float | str) -> float | str:
        if eps != "auto" and not 0 < eps < 1:
            raise ValueError("eps must be between 0 and 1 (exclusive), or auto")
        return eps

    @model_validator(mode="after")
    def _column_for_max(self) -> SemanticDedupConfig:
        if (self.keep == "max") != (self.keep_column is not None):
            raise ValueError("keep: max needs keep_column, and keep_column is only used with keep: max")
        return self


NEIGHBOURS = "semantic_neighbours.parquet"
VECTOR, CLUSTER, CENTROID_SIM, RANK = "__curate_vector", "__curate_cluster", "__curate_centroid_sim", "__curate_rank"
NEAREST, NEAREST_SIM = "__curate_nearest", "__curate_nearest_sim"
WORKING = (VECTOR, CLUSTER, CENTROID_SIM, RANK, NEAREST, NEAREST_SIM)
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
class SemanticDedup(KeyedStage):
    """SemDeDup: k-means on embeddings, then blockwise pairwise cosine within each cluster.

    Texts longer than ``chunk_words`` are embedded chunk by chunk and pooled, so the model's
    token limit never hides the end of a document. With ``eps: auto`` the threshold is derived
    from the corpus's nearest-neighbour distances (:func:`curate.embed.semdedup.auto_eps`);
    the stats give the eps used (``eps``, ``threshold`` = the float32 cosine compared against)
    and why (``eps_reason``).

    Ledger rows: ``reason`` semantic_duplicate, ``duplicate_of`` the row whose cosine similarity
    caused the removal (the row's nearest higher-priority neighbour, itself possibly removed),
    ``score`` that cosine (always ``>= threshold``), ``cluster_id`` the k-means cluster, and
    ``detail`` the eps and the kept row the chain of duplicates ends at. The artefact
    ``semantic_neighbours.parquet`` holds every row's nearest higher-priority neighbour and
    cosine, so any eps can be audited without recomputing.

    The k-means assignments and every row's nearest higher-priority neighbour are cached in
    ``ctx.cache_dir/semantic/`` as checksummed files named by a digest of the vectors and of
    every setting they depend on (eps is applied afterwards), so rerunning the stage on the
    same data, or with another eps, skips both steps.

    Phases: ``fit`` embeds every row, fits k-means and orders each cluster by keep priority;
    ``keys`` keys each row by its cluster; ``group`` finds each row's nearest higher-priority row
    of its cluster; ``finish`` applies eps and writes the ledger and the artefact.
    """

    kind = "shuffle"
    Config = SemanticDedupConfig
    artifacts = (NEIGHBOURS,)
    examples = ({"eps": 0.05, "n_clusters": 3}, {"keep": "longest", "cluster_size": 20, "block_size": 7},
                {"keep": "max", "keep_column": "confidence", "eps_ratio": 0.5, "chunk_words": 8, "max_chunks": 2})

    def thresholds(self, stats: dict | None = None) -> list[Threshold]:
        """Cosine similarity ``1 - eps`` to a higher-priority row of the cluster (every row's in the artefact).

        With ``eps: auto`` the cut is the one the run applied (its stats), or per row (``value``
        None: the artefact's ``eps`` column) when texts of different lengths got different eps.
        """
        eps = self.config.eps
        value = 1.0 - eps if eps != "auto" else (stats or {}).get("threshold")
        return [Threshold(column="nearest_similarity", value=value, removes="at_or_above",
                          reason="semantic_duplicate", artifact=NEIGHBOURS)]

    def priority(self, df: pl.DataFrame, cluster: np.ndarray, centroid_sim: np.ndarray) -> np.ndarray:
        """Row indices sorted by cluster, then keep priority (the row to keep first)."""
        cfg = self.config
        work = df.select(pl.col(TEXT).str.len_chars().alias(CHARS),
                         *([cfg.keep_column] if cfg.keep_column in df.columns else [])).with_columns(
            _pos=pl.int_range(pl.len(), dtype=pl.Int64), _cluster=pl.Series(cluster), _csim=pl.Series(centroid_sim))
        if cfg.keep == "semdedup":
            order = [pl.col("_csim"), pl.col("_pos")]
        else:
            order = keeper_order(cfg.keep, cfg.keep_column, "_pos", work.height)
        return work.sort([pl.col("_cluster"), *order]).get_column("_pos").to_numpy()

    def vectors(self, df: pl.DataFrame, embed: Callable[[pl.DataFrame], np.ndarray],
                cache_dir: Path) -> tuple[np.ndarray, dict]:
        """One vector per row, long texts pooled over their chunks; ``embed`` embeds a frame of texts
        (the run context's cached embeddings, or the Ray actor pool's).

        When some texts are long enough to chunk, the pooled vectors are kept in
        ``cache_dir/semantic/documents-<digest>.arrays`` (digest of the model, the texts and the
        chunk settings; only with ``embed.cache``), so a rerun skips splitting and pooling.
        """
        cfg = self.config
        if cfg.embed.embedder == "column" or cfg.chunk_words is None:
            return embed(df), {"chunked_rows": 0, "chunks": 0}
        texts = df[TEXT].cast(pl.String).fill_null("")
        words = texts.str.count_matches(WORD)
        if words.max() <= cfg.chunk_words:
            return embed(df), {"chunked_rows": 0, "chunks": 0}

        def pool() -> dict[str, np.ndarray]:
            vectors, stats = document_vectors(texts, embed, cfg.chunk_words, cfg.max_chunks, words)
            return {"vectors": vectors, "chunked_rows": np.array([stats["chunked_rows"]]), "chunks": np.array([stats["chunks"]])}

        if cfg.embed.cache:
            fingerprint = make_encoder(cfg.embed, cache_dir).fingerprint
            key = _digest(_VERSION, fingerprint, text_keys(texts), cfg.chunk_words, cfg.max_chunks)
            pooled, _ = cached_arrays(cache_dir / "semantic" / f"documents-{key}.arrays", pool)
        else:
            pooled = pool()
        return pooled["vectors"], {"chunked_rows": int(pooled["chunked_rows"][0]), "chunks": int(pooled["chunks"][0])}

    def eps_used(self, df: pl.DataFrame, similarity: np.ndarray) -> tuple[np.ndarray, dict]:
        """The eps applied to each row (the config's, or derived from the similarities per text
        length) and the stats that say which and why."""
        cfg = self.config
        if cfg.eps != "auto":
            eps = float(cfg.eps)
            return np.full(df.height, eps), {"eps": eps, "threshold": float(threshold_of(eps)), "eps_mode": "fixed",
                                             "eps_reason": "set in the config"}
        words = df[TEXT].cast(pl.String).fill_null("").str.count_matches(WORD).to_numpy()
        eps, by_length = auto_eps(similarity, words, cfg.eps_ratio, cfg.eps_max)
        measured = int(np.isfinite(similarity).sum())
        if measured < AUTO_MIN_ROWS:
            reason = (f"auto: only {measured} rows have a neighbour to measure (fewer than {AUTO_MIN_ROWS}), "
                      f"so eps_max {cfg.eps_max:g}")
        else:
            reason = (f"auto: {cfg.eps_ratio:g} x the median nearest-neighbour cosine distance of the texts closest in "
                      f"length, at most {cfg.eps_max:g}; by length: " + ", ".join(
                          f"{b['words']} words {b['eps_min']:g}" + (f"-{b['eps_max']:g}" if b["eps_max"] > b["eps_min"] else "")
                          for b in by_length))
        stats = {"eps": float(np.median(eps)) if len(eps) else cfg.eps_max, "eps_mode": "auto", "eps_reason": reason, "eps_by_length": by_length}
        if len(eps) and eps.min() == eps.max():
            stats["threshold"] = float(threshold_of(eps[0]))
        return eps, stats

    def fit(self, frame: pl.DataFrame, ctx: RunContext) -> pl.DataFrame:
        """Embed every row, fit k-means (or read both from the cache), and rank each cluster's rows by
        keep priority; a cached within-cluster result for these inputs comes along as columns."""
        cfg = self.config
        n = frame.height
        self.started_ = time.perf_counter()
        self.fit_stats_: dict = {}
        if n < 2:
            return frame
        vectors, chunk_stats = self.vectors(frame, lambda rows: ctx.embeddings(rows, cfg.embed), ctx.cache_dir)
        embedded = time.perf_counter()
        k = choose_k(n, cfg.cluster_size) if cfg.n_clusters is None else min(cfg.n_clusters, n)
        faiss = require("faiss", "embed", "faiss-cpu")
        inputs = _digest(_VERSION, faiss.__version__, np.__version__, vectors, k, ctx.seed, cfg.niter,
                         cfg.max_points_per_centroid, cfg.threads)
        clusters, kmeans_hit = cached_arrays(
            ctx.cache_dir / "semantic" / f"kmeans-{inputs}.arrays", lambda: self._cluster(vectors, k, ctx.seed))
        cluster, centroid_sim = clusters["cluster"], clusters["centroid_similarity"]
        self.clustered_ = time.perf_counter()
        order = self.priority(frame, cluster, centroid_sim)
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n, dtype=np.int64)
        self.neighbours_path_ = ctx.cache_dir / "semantic" / f"neighbours-{_digest(inputs, order, cfg.block_size)}.arrays"
        neighbours = read_cached(self.neighbours_path_)
        self.fit_stats_ = {"clusters": int(k), "largest_cluster": int(np.bincount(cluster).max()),
                           "dims": int(vectors.shape[1]), **chunk_stats,
                           "embed_seconds": round(embedded - self.started_, 4),
                           "kmeans_seconds": round(self.clustered_ - embedded, 4)}
        self.cached_ = {"kmeans_cached": kmeans_hit, "within_cluster_cached": neighbours is not None}
        columns = [pl.Series(VECTOR, vectors, dtype=pl.Array(pl.Float32, vectors.shape[1])),
                   pl.Series(CLUSTER, cluster, dtype=pl.Int64), pl.Series(CENTROID_SIM, centroid_sim, dtype=pl.Float32),
                   pl.Series(RANK, rank)]
        if neighbours is not None:
            columns += [pl.Series(NEAREST, neighbours["nearest"], dtype=pl.Int64),
                        pl.Series(NEAREST_SIM, neighbours["similarity"], dtype=pl.Float32)]
        return frame.with_columns(columns)

    def keys(self, batch: pl.DataFrame, ctx: RunContext) -> pl.DataFrame:
        """Each row keyed by its cluster, with its keep rank and vector (no rows when the within-cluster
        result came from the cache, or there are fewer than two rows)."""
        if VECTOR not in batch.columns or NEAREST in batch.columns:
            return pl.DataFrame(schema={POSITION: pl.Int64, KEY: pl.Int64, RANK: pl.Int64})
        return batch.select(POSITION, pl.col(CLUSTER).alias(KEY), RANK, VECTOR)

    def group(self, keyed: pl.DataFrame) -> pl.DataFrame:
        """Each row's nearest higher-priority row of its cluster (a position; -1 for none) and their cosine."""
        parts = [pl.DataFrame(schema={POSITION: pl.Int64, NEAREST: pl.Int64, NEAREST_SIM: pl.Float32})]
        if keyed.height:
            for rows in keyed.sort(RANK).partition_by(KEY, maintain_order=True):
                positions = rows[POSITION].to_numpy()
                vectors = np.ascontiguousarray(rows[VECTOR].to_numpy(), dtype=np.float32)
                nearest, similarity = nearest_earlier(vectors, self.config.block_size)
                parts.append(pl.DataFrame({
                    POSITION: positions, NEAREST: np.where(nearest >= 0, positions[np.maximum(nearest, 0)], -1),
                    NEAREST_SIM: similarity}, schema=parts[0].schema))
        return pl.concat(parts)

    def finish(self, frame: pl.DataFrame, decisions: pl.DataFrame, ctx: RunContext) -> StageResult:
        """Apply eps to every row's nearest neighbour: kept rows, ledger, artefact (and the cache, when the
        within-cluster step ran)."""
        n = frame.height
        data = frame.drop([c for c in WORKING if c in frame.columns])
        if n < 2:
            ctx.progress(n, n)
            return StageResult(kept=data, removed=make_ledger([], self.label, "semantic_duplicate"),
                               stats={"clusters": n, "duplicate_groups": 0,
                                      **self.eps_used(data, np.full(n, -np.inf, dtype=np.float32))[1]})
        if NEAREST in frame.columns:
            nearest, similarity = frame[NEAREST].to_numpy(), frame[NEAREST_SIM].to_numpy()
        else:
            found = decisions.sort(POSITION)
            nearest, similarity = found[NEAREST].to_numpy(), found[NEAREST_SIM].to_numpy().astype(np.float32)
            save_arrays(self.neighbours_path_, {"nearest": nearest, "similarity": similarity})
        ctx.progress(n, n)
        stats = {**self.fit_stats_, "within_cluster_seconds": round(time.perf_counter() - self.clustered_, 4), **self.cached_}
        return self.result(data, ctx, frame[CLUSTER].to_numpy(), frame[CENTROID_SIM].to_numpy(), nearest, similarity,
                           stats)

    def result(self, df: pl.DataFrame, ctx: RunContext, cluster: np.ndarray, centroid_sim: np.ndarray,
               nearest: np.ndarray, similarity: np.ndarray, stats: dict) -> StageResult:
        """Kept rows, ledger and the neighbours artefact from each row's nearest higher-priority row
        (-1: none) and their cosine; eps is chosen (or taken from the config) and applied here.

        """
        eps, eps_stats = self.eps_used(df, similarity)
        parent = duplicate_parents(nearest, similarity, eps)
        removed = np.flatnonzero(parent >= 0)
        ids = df[ID].cast(pl.String)
        kept_row = ids.gather(keepers(parent)[removed])
        detail = pl.concat_str(pl.lit("cosine >= "), pl.Series(threshold_of(eps[removed])).round(4).cast(pl.String),
                               pl.lit(" (eps "), pl.Series(eps[removed]).cast(pl.String),
                               pl.lit(f", {eps_stats['eps_mode']}); kept row "), kept_row)
        ledger = make_ledger(ids.gather(removed), self.label, "semantic_duplicate",
                             pl.Series(similarity[removed].astype(np.float64)), duplicate_of=ids.gather(parent[removed]),
                             cluster_id=pl.Series(cluster[removed]), detail=pl.select(detail).to_series())
        self._save_neighbours(ctx, ids, cluster, centroid_sim, nearest, similarity, eps)
        mask = np.zeros(len(df), dtype=bool)
        mask[removed] = True
        return StageResult(kept=df.filter(pl.Series(~mask)), removed=ledger,
                           stats={**stats, **eps_stats, "duplicate_groups": int(kept_row.n_unique())})

    def _cluster(self, vectors: np.ndarray, k: int, seed: int) -> dict[str, np.ndarray]:
        """k-means fit and the nearest centroid of every row (and its cosine)."""
        cfg = self.config
        centroids = fit_kmeans(vectors, k, seed, cfg.niter, cfg.max_points_per_centroid, cfg.threads)
        cluster, centroid_sim = assign_clusters(vectors, centroids)
        return {"cluster": cluster, "centroid_similarity": centroid_sim}

    def _save_neighbours(self, ctx: RunContext, ids: pl.Series, cluster: np.ndarray, centroid_sim: np.ndarray,
                         nearest: np.ndarray, similarity: np.ndarray, eps: np.ndarray) -> None:
        """Per row: cluster, similarity to its centroid, its nearest higher-priority row with their
        cosine, and the eps applied to it, so an audit can sweep eps without recomputing."""
        path = ctx.artifact_path(NEIGHBOURS)
        if path is None:
            return
        has = nearest >= 0
        table = pl.DataFrame({ID: ids, "cluster_id": cluster, "centroid_similarity": centroid_sim,
                              "nearest_id": ids.gather(np.maximum(nearest, 0)),
                              "nearest_similarity": np.where(has, similarity, 0.0), "eps": eps, "_has": has})
        table = table.with_columns(nearest_id=pl.when("_has").then("nearest_id"),
                                   nearest_similarity=pl.when("_has").then("nearest_similarity")).drop("_has")
        write_parquet(table, path)
