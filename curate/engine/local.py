"""The local engine: runs the stages in order, in-process, with checkpoints and invariants."""

from __future__ import annotations

import io
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import xxhash

from curate.audit.html import write_page
from curate.audit.views import build_views
from curate.config import PipelineConfig, config_hash
from curate.energy import Budget, EnergyReading, Meter
from curate.engine.invariants import check_partition
from curate.engine.observer import RunObserver
from curate.errors import ConfigError, InputError, StageError
from curate.guard import Guard, Restoration
from curate.io.readers import ReadResult, content_ids, read_input
from curate.io.writers import write_json, write_jsonl, write_parquet
from curate.record import SCHEMA_VERSION, RunDir, RunRecord, StageRecord, build_record, write_record
from curate.record.build import budget_use, curation_energy
from curate.record.manifest import build_manifest
from curate.record.models import Fit, GuardRecord, ProxyOutcome, Restored, Split, Splits
from curate.registry import get_stage
from curate.schema import ID, LABEL, TEXT, empty_ledger, make_ledger
from curate.stages.base import RunContext


@dataclass
class EngineOutput:
    """Everything a run produced, in memory."""

    curated: pl.DataFrame
    removed: pl.DataFrame
    report: RunRecord
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
        """Read the input, then claim and lock the run directory: set the test and validation splits
        aside, run every stage under the guard, prove the saving, write the outputs.

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
        current, validation = self._split_validation(current, run_dir)
        pool = current
        guard = self._guard(pool, validation)
        ledgers = [ledger]
        records: list[StageRecord] = []
        restorations: list[Restoration] = []
        # checkpoints hold stats in the record's shapes: a new schema version recomputes them
        key = config_hash({"input": input_hash, "seed": config.seed, "record": SCHEMA_VERSION,
                           **({"test": config.proxy_train.test.model_dump(mode="json")} if test is not None else {}),
                           **({"validation": self._judge_settings_key()} if validation is not None else {})})
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
            kept, removed, stats = self._run_stage(index, stage, current, key, run_dir, guard)
            record = StageRecord(index, stage.label, stage.name, stats, removed, stage.thresholds(stats),
                                 self._artifacts(run_dir, index, stage))
            verdict = record.verdict
            if verdict is not None and verdict.restored:
                self.observer.message(f"guard: restored the {removed.height:,} rows '{stage.label}' removed: "
                                      f"{verdict.reason}")
                restorations.append(Restoration(stage.label, removed, verdict.reason, "stage"))
                record.removed = removed = empty_ledger()
            else:
                current = kept
            ledgers.append(removed)
            records.append(record)
            for warning in stats.get("warnings", []):
                self.observer.message(f"stage '{stage.label}': {warning}")
            if record.energy is not None and not stats["resumed"]:
                stopped = budget.charge(record.energy, f"stage '{stage.label}'", self.observer.message)
                if stopped:
                    break
        if stopped is None:
            run_dir.prune_checkpoints(bases)
        guard_report = None
        if guard is not None and stopped is None:
            current, ledgers, guard_report = self._final_guard(guard, pool, current, ledgers, records, restorations)
        removed_all = pl.concat([empty_ledger(), *ledgers], how="vertical_relaxed")
        split_off = test if test is not None and config.proxy_train.test.input is None else None
        set_aside = [f.select(ID) for f in (split_off, validation) if f is not None]
        check_partition(frame[ID], pl.concat([current.select(ID), *set_aside]), removed_all, "the run")
        write_parquet(current, run_dir.curated)
        write_parquet(removed_all, run_dir.removed)
        if restorations:
            write_parquet(pl.concat([r.frame() for r in restorations]), run_dir.restored)
        else:
            run_dir.restored.unlink(missing_ok=True)
        proxy = None
        if config.proxy_train is not None and stopped is None:
            proxy = self._proxy(pool, current, test, records, budget, len(config.stages) + 1,
                                guard_report.energy if guard_report else None)
            stopped = proxy.stopped
        splits = self._splits(frame, pool, split_off, test, validation, guard)
        record = build_record(config, read, frame, current, removed_all, records, time.time() - started,
                              proxy=proxy, budget=budget_use(budget) if config.budget else None, stopped=stopped,
                              test_rows=0 if split_off is None else split_off.height,
                              validation_rows=0 if validation is None else validation.height,
                              splits=splits, guard=guard_report)
        record = record.model_copy(update={"views": build_views(run_dir, record)})
        write_json(build_manifest(config, input_hash, read.source).model_dump(mode="json"), run_dir.manifest)
        write_record(record, run_dir.root)
        write_page(record, run_dir.root)
        return EngineOutput(current, removed_all, record, run_dir, records)

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

    def _split_validation(self, df: pl.DataFrame, run_dir: RunDir) -> tuple[pl.DataFrame, pl.DataFrame | None]:
        """Carve the guard's validation split (stratified, seeded) from the pool and write validation.parquet."""
        wanted = self._validation_wanted(df)
        if not wanted:
            run_dir.validation.unlink(missing_ok=True)
            return df, None
        from curate.proxy import stratified_split

        guard = self.config.guard
        labelled = df[LABEL].is_not_null().sum()
        fraction = min(guard.validation, guard.max_validation_rows / max(labelled, 1))
        pool, validation = stratified_split(df, fraction, self.config.seed + 1)
        write_parquet(validation, run_dir.validation)
        self.observer.message(f"validation split: {validation.height:,} rows set aside to judge the curation")
        return pool, validation

    def _validation_wanted(self, df: pl.DataFrame) -> bool:
        """Whether this run needs a validation split (the guard is on, or a stage judges prefixes)."""
        config = self.config
        needs = [s.type for s in config.stages if s.uses_validation()]
        labelled = LABEL in df.columns and df[LABEL].drop_nulls().n_unique() >= 2
        if config.guard.enabled is False:
            if needs:
                raise ConfigError(f"stage '{needs[0]}' uses budget: auto, which needs the guard's validation split, "
                                  "and guard.enabled is false", hint="set guard.enabled: auto, or give the stage a fixed budget")
            return False
        if not labelled:
            if config.guard.enabled is True or needs:
                what = "guard.enabled: true" if config.guard.enabled is True else f"stage '{needs[0]}' (budget: auto)"
                raise InputError(f"{what} needs labels (at least two classes) to judge the curation on a validation split",
                                 hint="set input.label to the label column, or turn the guard off / give a fixed budget")
            return False
        return config.guard.enabled is True or config.proxy_train is not None or bool(needs)

    def _judge_settings(self):
        """The judge's model and settings: the proxy's, unless guard.model names another."""
        from curate.embed import EmbedderConfig
        from curate.guard import JudgeSettings

        guard, proxy = self.config.guard, self.config.proxy_train
        proxy_model = proxy.model if proxy is not None and proxy.model != "transformer" else "tfidf"  # a fast judge
        model = guard.model if guard.model != "proxy" else proxy_model
        extra = {"max_iter": proxy.max_iter, "hidden": proxy.hidden, "max_epochs": proxy.max_epochs,
                 "patience": proxy.patience} if proxy is not None else {}
        return JudgeSettings(model=model, embed=proxy.embed if proxy is not None else EmbedderConfig(),
                             tolerance=guard.tolerance, random_seeds=guard.random_seeds, confidence=guard.confidence,
                             **extra)

    def _judge_settings_key(self) -> dict[str, Any]:
        settings = self._judge_settings()
        return {"guard": self.config.guard.model_dump(mode="json"), "model": settings.model,
                "embed": settings.embed.model_dump(mode="json"), "proxy": [settings.max_iter, settings.hidden,
                                                                          settings.max_epochs, settings.patience]}

    def _guard(self, pool: pl.DataFrame, validation: pl.DataFrame | None) -> Guard | None:
        """The run's guard over a judge of the pool, or ``None`` when there is no validation split."""
        if validation is None:
            return None
        from curate.guard import Guard, ValidationJudge

        labelled = validation[LABEL].is_not_null().sum()
        minimum = self.config.guard.min_validation_rows
        if labelled < minimum:
            self.observer.message(f"guard off: the validation split has {labelled} labelled rows, fewer than "
                                  f"guard.min_validation_rows ({minimum})")
            return None
        context = RunContext(seed=self.config.seed)
        with Meter(self.config.metered) if self.config.metered is not None else nullcontext() as meter:
            judge = ValidationJudge(pool, validation, self._judge_settings(), self.config.seed, self.config.metered,
                                    embed=context.embeddings)
        guard = Guard(judge, self.config.guard.random_check_share)
        guard.energy_ = meter.reading_ if meter is not None else None
        self.observer.message(f"guard: the whole pool scores validation macro-F1 {judge.reference_.macro_f1:.4f} "
                              f"({judge.settings.model}, {judge.validation_rows:,} validation rows)")
        return guard

    def _final_guard(self, guard: Guard, pool: pl.DataFrame, current: pl.DataFrame, ledgers: list[pl.DataFrame],
                     records: list[StageRecord], restorations: list[Restoration]):
        """Judge the compound, restore stages until it holds; returns (kept, ledgers, the guard's record)."""
        candidates = [(r.verdict, r.removed) for r in records if r.removed.height and r.verdict is not None]
        meter = Meter(self.config.metered) if self.config.metered is not None else None
        with meter or nullcontext():
            declined = [r for r in records if r.stats.get("auto_budget", {}).get("chosen_fraction", 0) >= 1]
            outcome, final = guard.check_final(pool, current, candidates, backed_off=len(restorations) + len(declined))
        for restoration in final:
            self.observer.message(f"guard: restored the {restoration.ledger.height:,} rows '{restoration.stage}' "
                                  f"removed: {restoration.reason}")
        restorations.extend(final)
        if final:
            back = pl.concat([r.ledger.select(ID) for r in final])
            order = pool.select(ID).with_row_index("_order")
            current = (pl.concat([current, pool.join(back, on=ID, how="semi")], how="diagonal_relaxed")
                       .join(order, on=ID, how="left").sort("_order").drop("_order"))
            ledgers = [ledger.join(back, on=ID, how="anti") for ledger in ledgers]
        verdicts = [r.verdict for r in records if r.verdict is not None]
        readings = [r for r in (guard.energy_, meter.reading_ if meter is not None else None) if r is not None]
        readings += [v.energy for v in verdicts if v.energy is not None]
        judge = guard.judge
        record = GuardRecord(
            verdict=outcome.verdict, reason=outcome.reason, tolerance=judge.settings.tolerance,
            model=judge.settings.model, validation_rows=judge.validation_rows,
            reference=Fit.model_validate(judge.reference_.model_dump()),  # the figures, without the predictions
            stages=verdicts, final_checks=outcome.checks,
            restored=[Restored(stage=r.stage, rows=r.ledger.height, reason=r.reason, at=r.at) for r in restorations],
            energy=sum(readings, EnergyReading.zero()) if readings else None,
        )
        return current, ledgers, record

    def _splits(self, frame: pl.DataFrame, pool: pl.DataFrame, split_off: pl.DataFrame | None,
                test: pl.DataFrame | None, validation: pl.DataFrame | None, guard: Guard | None) -> Splits:
        """How many rows each split has and what each was used for."""
        return Splits(
            input=Split(rows=frame.height),
            pool=Split(rows=pool.height, used_for="curation; the full, curated and random proxy arms all train on it"),
            test=None if test is None else Split(
                rows=test.height, source="split off the input" if split_off is not None else "a separate file",
                used_for="read once, after curation, to score the proxy arms"),
            validation=None if validation is None else Split(
                rows=validation.height, used_for="every data-driven decision: budget: auto and the guard"
                if guard is not None else "nothing: too few rows for the guard to judge"),
        )

    def _artifacts(self, run_dir: RunDir, index: int, stage) -> list[str]:
        """The artefacts ``stage`` declares that exist, relative to the run directory."""
        folder = run_dir.artifacts(index, stage.label)
        return [str((folder / name).relative_to(run_dir.root)) for name in stage.artifacts if (folder / name).exists()]

    def _proxy(self, pool: pl.DataFrame, curated: pl.DataFrame, test: pl.DataFrame, records: list[StageRecord],
               budget: Budget, index: int, guard_energy: EnergyReading | None = None) -> ProxyOutcome:
        """Proxy training after the stages; curation energy is every stage's (checkpointed ones included)
        plus the guard's."""
        from curate.proxy import run_proxy

        curation = curation_energy(records, guard_energy)
        self.observer.stage_started(index, "proxy_train", pool.height, resumed=False)
        proxy = run_proxy(self.config.proxy_train, self.config.metered, pool, curated, test, self.config.seed,
                          budget, curation, self.observer.message)
        self.observer.stage_finished(index, "proxy_train", {})
        return proxy

    def _run_stage(self, index: int, stage, df: pl.DataFrame, key: str, run_dir: RunDir, guard: Guard | None = None):
        """Run (or resume) one stage; with a guard, its verdict on the stage goes into the stats."""
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
                         progress=self.observer.progress, meter=meter,
                         validation=guard.judge if guard is not None else None)
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
            **({"energy": meter.reading_.model_dump(mode="json")} if meter is not None else {}),
            "resumed": False,
        }
        check_partition(df[ID], result.kept, result.removed, f"stage '{stage.label}'")
        if guard is not None and result.removed.height:
            stats["guard"] = self._check_stage(guard, stage.label, df, result.kept)
        removed = pl.concat([empty_ledger(), result.removed.select(empty_ledger().columns)], how="vertical_relaxed")
        run_dir.save_checkpoint(index, stage.label, key, result.kept, removed, stats)
        self.observer.stage_finished(index, stage.label, stats)
        return result.kept, removed, stats

    def _check_stage(self, guard: Guard, label: str, df: pl.DataFrame, kept: pl.DataFrame) -> dict[str, Any]:
        """The guard's verdict on one stage, metered on its own (it is curation cost, not the stage's),
        as the stats (and checkpoint) hold it."""
        meter = Meter(self.config.metered) if self.config.metered is not None else None
        with meter or nullcontext():
            verdict = guard.check_stage(label, df, kept, guard.judge.score(df).macro_f1)
        verdict = verdict.model_copy(update={"energy": meter.reading_ if meter is not None else None})
        return verdict.model_dump(mode="json")
