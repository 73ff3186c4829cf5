"""Embeddings on Ray Data: an actor pool behind the run context of every stage the Ray engine runs.

Each actor builds the encoder once and keeps its model loaded for every batch it gets (a GPU per
actor when the embedder's device is cuda). The vectors go through the same on-disk cache as the
local engine's, so both engines embed a text once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from curate.engine.ray import POS, Cluster, collect, ray_module, to_arrow
from curate.errors import StageError
from curate.schema import TEXT
from curate.stages.base import RunContext

VECTOR = "__curate_vector"


def vectors_frame(positions: np.ndarray, vectors: np.ndarray) -> pl.DataFrame:
    """Row positions and float32 vectors (one fixed-size array per row)."""
    return pl.DataFrame({POS: positions, VECTOR: np.ascontiguousarray(vectors, dtype=np.float32)})


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


def pool_embeddings(df: pl.DataFrame, config, cache_dir: Path, cluster: Cluster, memoize: bool = False) -> np.ndarray:
    """``embed_frame`` with the encoding on the actor pool: the same cache, the same vectors."""
    from curate.embed import embed_frame

    if df.height == 0 or config.embedder == "column":
        return embed_frame(df, config, cache_dir=cache_dir, memoize=memoize)
    return embed_frame(df, config, cache_dir=cache_dir, memoize=memoize,
                       encoder=PoolEncoder(config, Path(cache_dir), cluster))


@dataclass
class RayRunContext(RunContext):
    """The run context of a stage on the Ray engine: embeddings come from the actor pool."""

    cluster: Cluster | None = None

    def embeddings(self, df: pl.DataFrame, config: Any) -> Any:
        """Embeddings of ``df`` (float32, L2-normalised), encoded on the Ray actor pool."""
        return pool_embeddings(df, config, self.cache_dir, self.cluster, memoize=True)
