"""The guard's steps: its judge, built once the splits exist; the per-stage check the curate step asks
for; and step 4, the final check of the whole curation, which restores stages until it holds.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import polars as pl

from curate.config import PipelineConfig
from curate.energy import EnergyReading, Meter
from curate.engine.steps import Curation, Run
from curate.engine.steps.split import Splits
from curate.errors import InputError
from curate.guard import Guard, JudgeSettings, Restoration
from curate.record import StageRecord
from curate.record.models import Fit, GuardRecord, Restored
from curate.schema import ID, LABEL
from curate.stages.base import RunContext


def judge_settings(config: PipelineConfig) -> JudgeSettings:
    """The judge's model and settings: the proxy's, unless guard.model names another."""
    from curate.embed import EmbedderConfig

    guard, proxy = config.guard, config.proxy_train
    proxy_model = proxy.model if proxy is not None and proxy.model != "transformer" else "tfidf"  # a fast judge
    model = guard.model if guard.model != "proxy" else proxy_model
    extra = {"max_iter": proxy.max_iter, "hidden": proxy.hidden, "max_epochs": proxy.max_epochs,
             "patience": proxy.patience} if proxy is not None else {}
    return JudgeSettings(model=model, embed=proxy.embed if proxy is not None else EmbedderConfig(),
                         tolerance=guard.tolerance, random_seeds=guard.random_seeds, confidence=guard.confidence,
                         **extra)


def judge_settings_key(config: PipelineConfig) -> dict[str, Any]:
    """What of the judge's settings a checkpoint depends on (its verdicts are in the stage stats)."""
    settings = judge_settings(config)
    return {"guard": config.guard.model_dump(mode="json"), "model": settings.model,
            "embed": settings.embed.model_dump(mode="json"), "proxy": [settings.max_iter, settings.hidden,
                                                                      settings.max_epochs, settings.patience]}


def open_guard(run: Run, splits: Splits) -> Guard | None:
    """The run's guard over a judge of the pool, or ``None`` when there is no validation split (or it
    has too few labelled rows)."""
    if splits.validation is None:
        return None
    from curate.guard import ValidationJudge

    config = run.config
    labelled = splits.validation[LABEL].is_not_null().sum()
    minimum = config.guard.min_validation_rows
    if labelled < minimum:
        needs = [c.name or c.type for c in config.stages if c.uses_validation()]
        if needs:
            raise InputError(f"stage '{needs[0]}' uses budget: auto, and the validation split has {labelled} labelled "
                             f"rows, fewer than the {minimum} (guard.min_validation_rows) needed to judge a reduction",
                             hint="give the stage a fixed budget, add labelled rows, or lower guard.min_validation_rows")
        run.observer.message(f"guard off: the validation split has {labelled} labelled rows, fewer than "
                             f"guard.min_validation_rows ({minimum})")
        return None
    context = RunContext(seed=config.seed)
    with Meter(config.metered) if config.metered is not None else nullcontext() as meter:
        judge = ValidationJudge(splits.pool, splits.validation, judge_settings(config), config.seed, config.metered,
                                embed=context.embeddings)
    guard = Guard(judge, config.guard.random_check_share)
    guard.energy_ = meter.reading_ if meter is not None else None
    run.observer.message(f"guard: the whole pool scores validation macro-F1 {judge.reference_.macro_f1:.4f} "
                         f"({judge.settings.model}, {judge.validation_rows:,} validation rows)")
    return guard


def check_stage(run: Run, guard: Guard, label: str, df: pl.DataFrame, kept: pl.DataFrame) -> dict[str, Any]:
    """The guard's verdict on one stage, metered on its own (it is curation cost, not the stage's),
    as the stats (and checkpoint) hold it."""
    metered = run.config.metered
    meter = Meter(metered) if metered is not None else None
    with meter or nullcontext():
        verdict = guard.check_stage(label, df, kept, guard.judge.score(df).macro_f1)
    verdict = verdict.model_copy(update={"energy": meter.reading_ if meter is not None else None})
    return verdict.model_dump(mode="json")


def review(run: Run, guard: Guard | None, splits: Splits, curation: Curation) -> Curation:
    """Step 4, guard: judge the whole curation on the validation split and restore stages until it holds
    (nothing to do without a guard, or when the budget stopped the run)."""
    if guard is None or curation.stopped is not None:
        return curation
    curation.kept, curation.ledgers, curation.guard = final_check(
        run, guard, splits.pool, curation.kept, curation.ledgers, curation.records, curation.restorations)
    return curation


def final_check(run: Run, guard: Guard, pool: pl.DataFrame, kept: pl.DataFrame, ledgers: list[pl.DataFrame],
                records: list[StageRecord], restorations: list[Restoration]
                ) -> tuple[pl.DataFrame, list[pl.DataFrame], GuardRecord]:
    """Judge the whole curation and restore stages until it holds; returns (kept, ledgers, the guard's record)."""
    candidates = [(r.verdict, r.removed) for r in records if r.removed.height and r.verdict is not None]
    metered = run.config.metered
    meter = Meter(metered) if metered is not None else None
    with meter or nullcontext():
        declined = [r for r in records if r.stats.get("auto_budget", {}).get("chosen_fraction", 0) >= 1]
        outcome, final = guard.check_final(pool, kept, candidates, backed_off=len(restorations) + len(declined))
    for restoration in final:
        run.observer.message(f"guard: restored the {restoration.ledger.height:,} rows '{restoration.stage}' "
                             f"removed: {restoration.reason}")
    restorations.extend(final)
    if final:
        back = pl.concat([r.ledger.select(ID) for r in final])
        order = pool.select(ID).with_row_index("_order")
        kept = (pl.concat([kept, pool.join(back, on=ID, how="semi")], how="diagonal_relaxed")
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
    return kept, ledgers, record
