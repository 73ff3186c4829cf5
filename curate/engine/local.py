"""The local engine: runs the stages in order, in-process, with checkpoints and invariants."""

from __future__ import annotations

import io
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import xxhash

from curate.config import PipelineConfig, config_hash
from curate.energy import Budget, EnergyReading, Meter
from curate.engine.invariants import check_partition
from curate.engine.observer import RunObserver
from curate.engine.rundir import RunDir
from curate.errors import InputError, StageError
from curate.io.readers import ReadResult, content_ids, read_input
from curate.io.writers import write_json, write_jsonl, write_parquet
from curate.registry import get_stage
from curate.report.html import publish_report
from curate.report.manifest import build_manifest
from curate.report.summary import build_report
from curate.schema import ID, TEXT, empty_ledger, make_ledger
from curate.stages.base import RunContext


@dataclass
class StageRecord:
    """One stage's outcome as the engine saw it."""

    index: int
    label: str
    type: str
    stats: dict[str, Any]
    removed: pl.DataFrame


@dataclass
class EngineOutput:
    """Everything a run produced, in memory."""

    curated: pl.DataFrame
    removed: pl.DataFrame
    report: dict[str, Any]
    run_dir: RunDir
    records: list[StageRecord] = field(default_factory=list)


def frame_hash(df: pl.DataFrame) -> str:
    """A stable content hash of a frame (xxh3-128 of its Arrow IPC bytes)."""
    buffer = io.BytesIO()
    df.rechunk().write_ipc(buffer, compression="uncompressed")
    return xxhash.xxh3_128_hexdigest(buffer.getvalue())


def prepare_input(read: ReadResult, config: PipelineConfig) -> pl.DataFrame:
    """Give every row a unique string id (content hash + row number when none is given)."""
    df = read.frame
    if ID not in df.columns:
        return df.insert_column(0, content_ids(df))
    ids = df[ID].cast(pl.String)
    if ids.null_count():
        raise InputError(f"id column '{config.input.id}' has {ids.null_count()} empty values in {read.source}",
                         hint="fill them, or drop input.id to let curate make ids")
    duplicated = ids.filter(ids.is_duplicated()).unique(maintain_order=True)
    if len(duplicated):
        if config.input.ids == "error":
            examples = ", ".join(repr(v) for v in duplicated.head(3))
            raise InputError(f"id column '{config.input.id}' has {len(duplicated)} duplicated values (e.g. {examples})",
                             hint="make the ids unique, or set input.ids: regenerate to replace them by content ids")
        df = df.rename({ID: f"{ID}_original"})
        return df.insert_column(0, content_ids(df))
    return df.with_columns(ids).select(ID, pl.exclude(ID))


def split_empty(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows with null or whitespace-only text go to the ledger as ``empty_text``."""
    empty = pl.col(TEXT).is_null() | (pl.col(TEXT).str.strip_chars() == "")
    dropped = df.filter(empty)
    return df.filter(~empty), make_ledger(dropped[ID], "input", "empty_text")


class LocalEngine:
    """Runs a pipeline in this process.

    Parameters
    ----------
    config : PipelineConfig
        The validated pipeline.
    observer : RunObserver, optional
        Receives progress events (the CLI draws bars from them).
    """

    def __init__(self, config: PipelineConfig, observer: RunObserver | None = None) -> None:
        self.config = config
        self.observer = observer or RunObserver()

    def run(self, data: Any = None) -> EngineOutput:
        """Read the input, then claim and lock the run directory, run every stage and write the outputs.

        Input that cannot be read stops the run before the run directory is touched.
        """
        started = time.time()
        read = self.read(data)
        with RunDir(self.config.run_dir).claim() as run_dir:
            return self._run(read, run_dir, started)

    def _run(self, read: ReadResult, run_dir: RunDir, started: float) -> EngineOutput:
        config = self.config
        if read.bad_rows:
            write_jsonl(read.bad_rows, run_dir.quarantine)
            self.observer.message(f"{len(read.bad_rows)} malformed rows set aside in {run_dir.quarantine}")
        else:
            run_dir.quarantine.unlink(missing_ok=True)
        frame = prepare_input(read, config)
        input_hash = frame_hash(frame)
        write_parquet(frame, run_dir.input)
        current, ledger = split_empty(frame)
        current, test = self._split_test(current, run_dir)
        pool = current
        ledgers = [ledger]
        records: list[StageRecord] = []
        key = config_hash({"input": input_hash, "seed": config.seed,
                           **({"test": config.proxy_train.test.model_dump(mode="json")} if test is not None else {})})
        bases = set()
        budget = Budget(config.budget)
        stopped = None
        if config.metered is not None:
            with Meter(config.metered):  # CodeCarbon's first-use costs (hardware probe, data tables) go here
                pass
        for index, stage_config in enumerate(config.stages, start=1):
            stage = get_stage(stage_config.type)(stage_config)
            key = config_hash({"previous": key, "stage": stage_config.model_dump(mode="json")})
            bases.add(run_dir.stage_base(index, stage.label).name)
            current, removed, stats = self._run_stage(index, stage, current, key, run_dir)
            ledgers.append(removed)
            records.append(StageRecord(index, stage.label, stage.name, stats, removed))
            for warning in stats.get("warnings", []):
                self.observer.message(f"stage '{stage.label}': {warning}")
            if "energy" in stats and not stats["resumed"]:
                stopped = budget.charge(EnergyReading(**stats["energy"]), f"stage '{stage.label}'", self.observer.message)
                if stopped:
                    break
        if stopped is None:
            run_dir.prune_checkpoints(bases)
        removed_all = pl.concat([empty_ledger(), *ledgers], how="vertical_relaxed")
        split_off = test if test is not None and config.proxy_train.test.input is None else None
        kept_ids = current.select(ID) if split_off is None else pl.concat([current.select(ID), split_off.select(ID)])
        check_partition(frame[ID], kept_ids, removed_all, "the run")
        write_parquet(current, run_dir.curated)
        write_parquet(removed_all, run_dir.removed)
        proxy = None
        if config.proxy_train is not None and stopped is None:
            proxy = self._proxy(pool, current, test, records, budget, len(config.stages) + 1)
            stopped = proxy["stopped"]
        report = build_report(config, read, frame, current, removed_all, records, time.time() - started,
                              proxy=proxy, budget=budget.to_dict() if config.budget else None, stopped=stopped,
                              test_rows=0 if split_off is None else split_off.height)
        write_json(build_manifest(config, input_hash, read.source), run_dir.manifest)
        write_json(report, run_dir.report)
        report = publish_report(run_dir.root)
        return EngineOutput(current, removed_all, report, run_dir, records)

    def read(self, data: Any = None) -> ReadResult:
        """Read the configured input (or ``data``); the Ray engine reads shard folders in parallel."""
        return read_input(self.config.input, data)

    def execute(self, stage, df: pl.DataFrame, ctx: RunContext):
        """Apply one stage to ``df``; the Ray engine overrides only this."""
        return stage.apply(df, ctx)

    def _split_test(self, df: pl.DataFrame, run_dir: RunDir) -> tuple[pl.DataFrame, pl.DataFrame | None]:
        """Set the proxy's test set aside before the first stage (split off, or read) and write test.parquet."""
        proxy = self.config.proxy_train
        if proxy is None:
            run_dir.test.unlink(missing_ok=True)
            return df, None
        from curate.proxy import annotate_test, check_labels, stratified_split

        if proxy.test.input is None:
            df, test = stratified_split(df, proxy.test.split, self.config.seed)
        else:
            test_config = self.config.model_copy(update={"input": proxy.test.input})
            test, _ = split_empty(prepare_input(read_input(proxy.test.input), test_config))
        check_labels(df, test)
        test = annotate_test(df, test, proxy.test)
        write_parquet(test, run_dir.test)
        self.observer.message(f"proxy test set: {test.height:,} rows set aside "
                              f"({test['contamination'].is_not_null().sum():,} duplicates of training rows)")
        return df, test

    def _proxy(self, pool: pl.DataFrame, curated: pl.DataFrame, test: pl.DataFrame, records: list[StageRecord],
               budget: Budget, index: int) -> dict[str, Any]:
        """Proxy training after the stages; curation energy is every stage's (checkpointed ones included)."""
        from curate.proxy import run_proxy

        readings = [EnergyReading(**r.stats["energy"]) for r in records if "energy" in r.stats]
        curation = sum(readings, EnergyReading.zero()) if readings else None
        self.observer.stage_started(index, "proxy_train", pool.height, resumed=False)
        proxy = run_proxy(self.config.proxy_train, self.config.metered, pool, curated, test, self.config.seed,
                          budget, curation, self.observer.message)
        self.observer.stage_finished(index, "proxy_train", {})
        return proxy

    def _run_stage(self, index: int, stage, df: pl.DataFrame, key: str, run_dir: RunDir):
        loaded = run_dir.load_checkpoint(index, stage.label, key)
        self.observer.stage_started(index, stage.label, df.height, resumed=loaded is not None)
        if loaded is not None:
            kept, removed, stats = loaded
            stats = {**stats, "resumed": True}
            self.observer.stage_finished(index, stage.label, stats)
            return kept, removed, stats
        missing = stage.requires - set(df.columns)
        if missing:
            raise StageError(f"stage '{stage.label}' needs columns {sorted(missing)}; the data has {df.columns}",
                             hint="add a stage that makes them earlier, or map them with input.*")
        meter = Meter(self.config.metered) if self.config.metered is not None else None
        ctx = RunContext(seed=self.config.seed, artifacts_dir=run_dir.artifacts(index, stage.label),
                         progress=self.observer.progress, meter=meter)
        with meter or nullcontext():
            wall, cpu = time.perf_counter(), time.process_time()
            result = self.execute(stage, df, ctx)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        stats = {
            "rows_in": df.height,
            "rows_out": result.kept.height,
            "removed": result.removed.height,
            "seconds": round(wall, 4),
            "cpu_seconds": round(cpu, 4),
            **result.stats,
            **({"energy": meter.reading_.to_dict()} if meter is not None else {}),
            "resumed": False,
        }
        check_partition(df[ID], result.kept, result.removed, f"stage '{stage.label}'")
        removed = pl.concat([empty_ledger(), result.removed.select(empty_ledger().columns)], how="vertical_relaxed")
        run_dir.save_checkpoint(index, stage.label, key, result.kept, removed, stats)
        self.observer.stage_finished(index, stage.label, stats)
        return result.kept, removed, stats
