"""Embeddings and SemDeDup on Ray Data.

Embeddings come from an actor pool: each actor builds the encoder once and keeps its model
loaded for every batch it gets (a GPU per actor when the embedder's device is cuda).
SemDeDup fits k-means on a sample on the driver, assigns clusters in ``map_batches`` and
finds duplicates within each cluster as a group-by on the cluster id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from curate.engine.ray import POS, Cluster, collect, ray_module, to_arrow
from curate.errors import StageError
from curate.schema import TEXT
from curate.stages.base import RunContext, Stage, StageResult

VECTOR = "__curate_vector"
CLUSTER = "__curate_cluster"
RANK = "__curate_rank"


def vectors_frame(positions: np.ndarray, vectors: np.ndarray, **columns: np.ndarray) -> pl.DataFrame:
    """Row positions, float32 vectors (one fixed-size array per row) and extra columns."""
    return pl.DataFrame({POS: positions, VECTOR: np.ascontiguousarray(vectors, dtype=np.float32), **columns})


# --- embeddings ------------------------------------------------------------------------


class EncoderActor:
    """One pool member: builds the encoder (and loads its model) once, then embeds batch after batch."""

    def __init__(self, config, cache_dir: str) -> None:
        from curate.embed import make_encoder

        self.encoder = make_encoder(config, cache_dir)
        self.encoder.encode([""])  # load the model now, once per actor

    def __call__(self, batch):
        df = pl.from_arrow(batch)
        return to_arrow(vectors_frame(df[POS].to_numpy(), self.encoder.encode(df[TEXT].to_list())))


def pool_size(device: str, actors: int | None, resources: dict[str, float]) -> tuple[int, int | None]:
    """Actors in the embedding pool and GPUs per actor: one GPU each when the device is cuda (or auto on a
    cluster with GPUs), one actor per GPU or per CPU unless ``actors`` is set."""
    gpus = int(resources.get("GPU", 0))
    on_gpu = device.startswith("cuda") or (device == "auto" and gpus > 0)
    if on_gpu and gpus == 0:
        raise StageError(f"the embedder's device is {device}, but the Ray cluster has no GPU",
                         hint="set embed.device: auto (GPU when there is one) or cpu, or add GPU nodes")
    default = gpus if on_gpu else int(resources.get("CPU", 1))
    return actors or max(1, default), (1 if on_gpu else None)


@dataclass
class PoolEncoder:
    """An encoder whose ``encode`` runs on the actor pool; same fingerprint as the local one."""

    config: Any
    cache_dir: Path
    cluster: Cluster

    def __post_init__(self) -> None:
        from curate.embed import make_encoder

        local = make_encoder(self.config, self.cache_dir)
        if hasattr(local, "model_folder"):
            local.model_folder()  # distil a static model once here, not in every actor
        self.fingerprint = local.fingerprint

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` on the pool; rows come back in order."""
        actors, gpus = pool_size(self.config.device, self.cluster.settings.embed_actors,
                                 ray_module().cluster_resources())
        frame = pl.DataFrame({TEXT: texts}).with_row_index(POS).with_columns(pl.col(POS).cast(pl.Int64))
        ds = self.cluster.dataset(frame).map_batches(
            EncoderActor, fn_constructor_kwargs={"config": self.config, "cache_dir": str(self.cache_dir.resolve())},
            batch_size=self.config.batch_size or 1024, concurrency=actors, num_gpus=gpus,
            **self.cluster.map_options())
        out = collect(ds).sort(POS)
        return out[VECTOR].to_numpy().astype(np.float32, copy=False)


def pool_embeddings(df: pl.DataFrame, config, cache_dir: Path, cluster: Cluster) -> np.ndarray:
    """``embed_frame`` with the encoding on the actor pool: the same cache, the same vectors."""
    from curate.embed import _cached_encode as cached_encode
    from curate.embed import embed_frame
    from curate.embed.cache import EmbeddingCache, text_keys

    if df.height == 0 or config.embedder == "column":
        return embed_frame(df, config, cache_dir=cache_dir)
    encoder = PoolEncoder(config, Path(cache_dir), cluster)
    texts = df[TEXT].cast(pl.String).fill_null("")
    cache = EmbeddingCache(cache_dir, encoder.fingerprint) if config.cache else None
    return cached_encode(encoder, texts, text_keys(texts), cache)


@dataclass
class RayRunContext(RunContext):
    """The run context of a stage on the Ray engine: embeddings come from the actor pool."""

    cluster: Cluster | None = None

    def embeddings(self, df: pl.DataFrame, config: Any) -> Any:
        """Embeddings of ``df`` (float32, L2-normalised), encoded on the Ray actor pool."""
        return pool_embeddings(df, config, self.cache_dir, self.cluster)


# --- SemDeDup --------------------------------------------------------------------------


def assign_batch(batch, centroids):
    """Nearest centroid and its cosine for one block (``embed.kmeans.assign_clusters``)."""
    from curate.embed.kmeans import assign_clusters

    df = pl.from_arrow(batch)
    cluster, similarity = assign_clusters(np.ascontiguousarray(df[VECTOR].to_numpy(), dtype=np.float32),
                                          ray_module().get(centroids))
    return to_arrow(pl.DataFrame({POS: df[POS], CLUSTER: cluster, "similarity": similarity}))


def cluster_group(batch, block_size: int):
    """Each row's nearest higher-priority row of its cluster (``embed.semdedup.nearest_earlier``) as an
    input position, and their cosine; rows arrive in keep priority."""
    from curate.embed.semdedup import nearest_earlier

    df = pl.from_arrow(batch).sort(RANK)
    positions = df[POS].to_numpy()
    nearest, similarity = nearest_earlier(np.ascontiguousarray(df[VECTOR].to_numpy(), dtype=np.float32), block_size)
    return to_arrow(pl.DataFrame({
        POS: positions,
        "nearest": np.where(nearest >= 0, positions[np.maximum(nearest, 0)], -1),
        "similarity": similarity,
    }))


def semantic_dedup(stage: Stage, df: pl.DataFrame, ctx: RunContext, cluster: Cluster) -> StageResult:
    """SemDeDup with the work on Ray; eps, ledger, stats and neighbour artefact are the stage's own."""
    from curate.embed.kmeans import choose_k, fit_kmeans

    cfg = stage.config
    n = df.height
    if n < 2:
        return stage.apply(df, ctx)
    ray = ray_module()
    started = time.perf_counter()
    vectors, chunk_stats = stage.vectors(df, lambda frame: pool_embeddings(frame, cfg.embed, ctx.cache_dir, cluster),
                                         ctx.cache_dir)
    embedded = time.perf_counter()
    k = choose_k(n, cfg.cluster_size) if cfg.n_clusters is None else min(cfg.n_clusters, n)
    centroids = fit_kmeans(vectors, k, ctx.seed, cfg.niter, cfg.max_points_per_centroid, cfg.threads)
    rows = cluster.dataset(vectors_frame(np.arange(n, dtype=np.int64), vectors))
    assigned = collect(rows.map_batches(assign_batch, fn_kwargs={"centroids": ray.put(centroids)}, batch_size=None,
                                        **cluster.map_options())).sort(POS)
    labels, centroid_sim = assigned[CLUSTER].to_numpy(), assigned["similarity"].to_numpy()
    clustered = time.perf_counter()

    order = stage.priority(df, labels, centroid_sim)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n, dtype=np.int64)
    grouped = cluster.dataset(vectors_frame(np.arange(n, dtype=np.int64), vectors, **{CLUSTER: labels, RANK: rank}))
    found = collect(grouped.groupby(CLUSTER, num_partitions=cluster.blocks(n)).map_groups(
        cluster_group, fn_kwargs={"block_size": cfg.block_size}, **cluster.map_options())).sort(POS)
    nearest, similarity = found["nearest"].to_numpy(), found["similarity"].to_numpy().astype(np.float32)
    ctx.progress(n, n)
    finished = time.perf_counter()

    return stage.result(df, ctx, labels, centroid_sim, nearest, similarity, {
        "clusters": int(k), "largest_cluster": int(np.bincount(labels).max()), "dims": int(vectors.shape[1]),
        **chunk_stats, "embed_seconds": round(embedded - started, 4), "kmeans_seconds": round(clustered - embedded, 4),
        "within_cluster_seconds": round(finished - clustered, 4)})
