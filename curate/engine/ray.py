"""The Ray engine: the local engine's run (checkpoints, invariants, report), each stage's work on Ray Data.

Only :meth:`RayEngine.execute` and :meth:`RayEngine.read` differ from the local engine. A stage
runs by the kind it declares, from its public phases (:mod:`curate.engine.ray_stages`): ``map``
stages as ``map_batches`` over blocks of rows, keyed (``shuffle``) stages as ``map_batches`` for
``prepare`` and ``keys`` and a group-by for ``group``, ``global`` stages on the driver; embeddings
any stage asks the run context for come from a Ray actor pool (:mod:`curate.engine.ray_embed`).
Every result is put back in input order, so ids, ledger and curated rows are identical to the
local engine's.
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import polars as pl

from curate.config import InputConfig, PipelineConfig, RayConfig
from curate.engine.local import EngineOutput, LocalEngine
from curate.engine.observer import RunObserver
from curate.errors import require
from curate.io.readers import ReadResult, read_input
from curate.stages.base import POSITION as POS
from curate.stages.base import RunContext, Stage, StageResult

ROWS_PER_BLOCK = 100_000
_URI = re.compile(r"^([a-z][a-z0-9+.-]+):/+")


def ray_module():
    """``ray`` with Ray Data, or :class:`MissingDependency` naming the ``ray`` extra."""
    require("ray.data", "ray", "ray[data]")
    return require("ray", "ray", "ray[data]")


@contextmanager
def ray_session(settings: RayConfig) -> Iterator[Any]:
    """Join the configured cluster (``address``, else ``RAY_ADDRESS``) or start a local Ray instance.

    An instance that is already initialised (a notebook's, a test fixture's) is used as is and
    left running; one started here is shut down on exit.
    """
    ray = ray_module()
    started = not ray.is_initialized()
    if started:
        address = settings.address or os.environ.get("RAY_ADDRESS")
        # one polars thread per task: each task holds one CPU of the cluster
        options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False,
                                   "runtime_env": {"env_vars": {"POLARS_MAX_THREADS": "1"}}}
        if address:
            ray.init(address=address, **options)
        else:
            ray.init(num_cpus=settings.num_cpus, include_dashboard=False, **options)
    context = ray.data.DataContext.get_current()
    saved = (context.execution_options.preserve_order, context.enable_progress_bars, context.shuffle_strategy)
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    context.shuffle_strategy = "sort_shuffle_pull_based" if settings.shuffle == "sort" else "hash_shuffle"
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    try:
        yield ray
    finally:
        context.execution_options.preserve_order, context.enable_progress_bars, context.shuffle_strategy = saved
        if started:
            ray.shutdown()


@dataclass(frozen=True)
class Cluster:
    """How the engine splits work into blocks."""

    settings: RayConfig

    @property
    def cpus(self) -> int:
        """CPUs in the cluster (at least 1)."""
        return max(1, int(ray_module().cluster_resources().get("CPU", 1)))

    def blocks(self, rows: int) -> int:
        """How many blocks ``rows`` rows are split into: ``blocks_per_cpu`` per CPU, at most 100k rows each."""
        return max(1, min(rows, max(self.settings.blocks_per_cpu * self.cpus, math.ceil(rows / ROWS_PER_BLOCK))))

    def dataset(self, df: pl.DataFrame):
        """``df`` as a Ray dataset of contiguous blocks (Arrow tables)."""
        ray = ray_module()
        size = math.ceil(df.height / self.blocks(df.height)) or 1
        tables = [to_arrow(df.slice(offset, size)) for offset in range(0, max(df.height, 1), size)]
        return ray.data.from_arrow(tables)

    def map_options(self) -> dict[str, Any]:
        """Keyword arguments of every ``map_batches`` / ``map_groups`` call."""
        return {"batch_format": "pyarrow"}


def to_arrow(df: pl.DataFrame):
    """``df`` as an Arrow table with plain (not view) string types, as Ray Data expects."""
    return df.to_arrow(compat_level=pl.CompatLevel.oldest())


def collect(ds) -> pl.DataFrame:
    """All rows of a Ray dataset as one polars frame, block order kept (empty blocks skipped)."""
    ray = ray_module()
    frames = [pl.from_arrow(table) for table in ray.get(ds.to_arrow_refs())]
    frames = [frame for frame in frames if frame.height] or frames[:1]
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def with_positions(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` plus its row position (the order every Ray result is put back in)."""
    return df.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(POS))


# --- input and output ------------------------------------------------------------------


def shard_source(config: InputConfig) -> tuple[str | list[str], str] | None:
    """(paths, format) when the input is a folder of Parquet/JSONL shards or an object-store URI."""
    if config.path is None or config.dataset is not None:
        return None
    text = str(config.path)
    uri = _URI.match(text)
    if uri and uri.group(1) != "file":
        location = _URI.sub(lambda m: f"{m.group(1)}://", text)
        fmt = config.format if config.format != "auto" else ("jsonl" if location.endswith((".jsonl", ".ndjson")) else "parquet")
        return (location, fmt) if fmt in {"parquet", "jsonl"} else None
    path = Path(config.path)
    if not path.is_dir() or config.format not in {"auto", "parquet", "jsonl"}:
        return None
    for fmt, patterns in (("parquet", ("*.parquet", "*.pq")), ("jsonl", ("*.jsonl", "*.ndjson"))):
        files = sorted(str(f) for pattern in patterns for f in path.rglob(pattern) if f.is_file())
        if files and config.format in {"auto", fmt}:
            return files, fmt
    return None


def read_shards(paths: str | list[str], fmt: str) -> pl.DataFrame:
    """Read Parquet or JSONL shards in parallel with Ray Data, in file order."""
    ray = ray_module()
    ds = ray.data.read_parquet(paths) if fmt == "parquet" else ray.data.read_json(paths, lines=True)
    return collect(ds)


def write_shards(df: pl.DataFrame, path: str, fmt: str, cluster: Cluster) -> None:
    """Write ``df`` as Parquet or JSONL shards (one per block), in parallel."""
    ds = cluster.dataset(df)
    if fmt == "parquet":
        ds.write_parquet(path)
    else:
        ds.write_json(path)


# --- the engine ------------------------------------------------------------------------


class RayEngine(LocalEngine):
    """Runs a pipeline on Ray Data; same run directory, ledger and report as :class:`LocalEngine`.

    Parameters
    ----------
    config : PipelineConfig
        The validated pipeline; ``config.ray`` holds the cluster settings.
    observer : RunObserver, optional
        Receives progress events.
    """

    def __init__(self, config: PipelineConfig, observer: RunObserver | None = None) -> None:
        super().__init__(config, observer)
        self.cluster = Cluster(config.ray)

    def run(self, data: Any = None) -> EngineOutput:
        """Join or start Ray, then run as the local engine does; optionally write curated shards."""
        metered = self.config.metered
        if metered is not None and metered.tracking_mode == "process":
            self.observer.message("energy.tracking_mode is `process`: Ray's workers are not this process's children, "
                                  "so stage energy and CPU seconds cover the driver only; set energy.tracking_mode: "
                                  "machine to meter this whole machine (other nodes are not metered)")
        with ray_session(self.config.ray):
            output = super().run(data)
            settings = self.config.ray
            if settings.write_shards is not None:
                target = settings.shards_path or str(output.run_dir.root / "curated")
                write_shards(output.curated, target, settings.write_shards, self.cluster)
        return output

    def read(self, data: Any = None) -> ReadResult:
        """Folders of Parquet/JSONL shards and object-store URIs are read in parallel; the rest as locally."""
        source = shard_source(self.config.input) if data is None else None
        if source is None:
            return super().read(data)
        paths, fmt = source
        result = read_input(self.config.input.model_copy(update={"path": None}), read_shards(paths, fmt))
        result.source = paths if isinstance(paths, str) else str(self.config.input.path)
        return result

    def execute(self, stage: Stage, df: pl.DataFrame, ctx: RunContext) -> StageResult:
        """Run ``stage`` on Ray by the kind it declares: ``map`` on ``map_batches``, ``shuffle`` through its
        keyed phases, ``global`` on the driver; embeddings it asks for come from the Ray actor pool."""
        from curate.engine.ray_embed import RayRunContext
        from curate.engine.ray_stages import run_keyed_stage, run_map_stage

        if df.height == 0:
            return stage.apply(df, ctx)
        pooled = RayRunContext(**{f.name: getattr(ctx, f.name) for f in fields(ctx)}, cluster=self.cluster)
        if stage.kind == "map":
            return run_map_stage(stage, df, ctx, self.cluster)
        if stage.kind == "shuffle":
            return run_keyed_stage(stage, df, pooled, self.cluster)
        return stage.apply(df, pooled)
