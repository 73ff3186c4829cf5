"""Step 3, curate: every stage in order on the pool, each resumed from its checkpoint when the config,
the input and everything before it are unchanged; with a guard, each stage's removals are judged
right after it runs (and given back when they cost accuracy); a carbon budget can stop the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

import polars as pl

from curate.config import config_hash
from curate.energy import Budget, Meter
from curate.engine.invariants import check_partition
from curate.engine.steps import Curation, Run
from curate.engine.steps.guard import check_stage, judge_settings_key
from curate.engine.steps.read import Source
from curate.engine.steps.split import Splits
from curate.errors import StageError
from curate.guard import Guard, Restoration
from curate.record import SCHEMA_VERSION, StageRecord
from curate.registry import get_stage
from curate.schema import ID, TEXT, empty_ledger
from curate.stages.base import RunContext, Stage, StageResult

Execute = Callable[[Stage, pl.DataFrame, RunContext], StageResult]
"""How an engine applies one stage to a frame (the local engine: ``stage.apply``)."""


def checkpoint_key(run: Run, source: Source, splits: Splits) -> str:
    """The key the first stage's checkpoint is chained from: the input, the seed, the record's schema
    version (checkpoints hold stats in the record's shapes), the split settings that shape the pool,
    and whether the text is on disk (its checkpoints then hold row numbers, not text)."""
    config = run.config
    return config_hash({"input": source.input_hash, "seed": config.seed, "record": SCHEMA_VERSION,
                        **({"test": config.proxy_train.test.model_dump(mode="json")} if splits.test is not None else {}),
                        **({"validation": judge_settings_key(config)} if splits.validation is not None else {}),
                        **({"text": "on disk"} if run.texts is not None else {})})


def curate(run: Run, source: Source, splits: Splits, guard: Guard | None, execute: Execute) -> Curation:
    """Run (or resume) every stage on the pool; stages the guard rejects give their rows back."""
    config = run.config
    key = checkpoint_key(run, source, splits)
    current = splits.pool
    curation = Curation(kept=current, ledgers=[source.empty], records=[], restorations=[], budget=Budget(config.budget))
    bases = set()
    if config.metered is not None:
        with Meter(config.metered):  # CodeCarbon's first-use costs (hardware probe, data tables) go here
            pass
    for index, stage_config in enumerate(config.stages, start=1):
        stage = get_stage(stage_config.type)(stage_config)
        key = config_hash({"previous": key, "stage": stage_config.model_dump(mode="json")})
        bases.add(run.run_dir.stage_base(index, stage.label).name)
        kept, removed, stats = run_stage(run, index, stage, current, key, guard, execute)
        record = StageRecord(index, stage.label, stage.name, stats, removed, stage.thresholds(stats),
                             artifacts(run, index, stage))
        verdict = record.verdict
        if verdict is not None and verdict.restored:
            run.observer.message(f"guard: restored the {removed.height:,} rows '{stage.label}' removed: "
                                 f"{verdict.reason}")
            curation.restorations.append(Restoration(stage.label, removed, verdict.reason, "stage"))
            record.removed = removed = empty_ledger()
        else:
            current = kept
        curation.ledgers.append(removed)
        curation.records.append(record)
        for warning in stats.get("warnings", []):
            run.observer.message(f"stage '{stage.label}': {warning}")
        if record.energy is not None and not stats["resumed"]:
            curation.stopped = curation.budget.charge(record.energy, f"stage '{stage.label}'", run.observer.message)
            if curation.stopped:
                break
    if curation.stopped is None:
        run.run_dir.prune_checkpoints(bases)
    curation.kept = current
    return curation


def run_stage(run: Run, index: int, stage: Stage, df: pl.DataFrame, key: str, guard: Guard | None,
              execute: Execute) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """Run (or resume) one stage under its meter; with a guard, its verdict on the stage goes into the stats."""
    run_dir, observer, metered = run.run_dir, run.observer, run.config.metered
    loaded = run_dir.load_checkpoint(index, stage.label, key, df)
    observer.stage_started(index, stage.label, df.height, resumed=loaded is not None)
    if loaded is not None:
        kept, removed, stats = loaded
        stats = {**stats, "resumed": True}
        observer.stage_finished(index, stage.label, stats)
        return kept, removed, stats
    missing = stage.requires - set(df.columns) - ({TEXT} if run.texts is not None else set())
    if missing:
        raise StageError(f"stage '{stage.label}' needs columns {sorted(missing)}; the data has {df.columns}",
                         hint="add a stage that makes them earlier, or map them with input.*")
    meter = Meter(metered) if metered is not None else None
    ctx = RunContext(seed=run.config.seed, artifacts_dir=run_dir.artifacts(index, stage.label),
                     progress=observer.progress, meter=meter,
                     validation=guard.judge if guard is not None else None, texts=run.texts)
    with meter or nullcontext():
        wall, cpu = time.perf_counter(), time.process_time()
        result = execute(stage, df, ctx)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stats = {
        "rows_in": df.height,
        "rows_out": result.kept.height,
        "removed": result.removed.height,
        "seconds": round(wall, 4),
        "cpu_seconds": round(cpu, 4),
        **result.stats,
        **({"energy": meter.reading_.model_dump(mode="json")} if meter is not None else {}),
        "resumed": False,
    }
    check_partition(df[ID], result.kept, result.removed, f"stage '{stage.label}'")
    if guard is not None and result.removed.height:
        stats["guard"] = check_stage(run, guard, stage.label, df, result.kept)
    removed = pl.concat([empty_ledger(), result.removed.select(empty_ledger().columns)], how="vertical_relaxed")
    run_dir.save_checkpoint(index, stage.label, key, result.kept, removed, stats, df, run.config.output.checkpoints)
    observer.stage_finished(index, stage.label, stats)
    return result.kept, removed, stats


def artifacts(run: Run, index: int, stage: Stage) -> list[str]:
    """The artefacts ``stage`` declares that exist, relative to the run directory."""
    folder = run.run_dir.artifacts(index, stage.label)
    return [str((folder / name).relative_to(run.run_dir.root)) for name in stage.artifacts if (folder / name).exists()]
