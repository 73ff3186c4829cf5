"""Proxy training: prove how much energy a curated set saves, and what it costs in accuracy.

A model is trained on (a) the full input, (b) the curated set and (c) a random subset of (b)'s
size, each over several seeds, under the energy meter, and evaluated on a held-out,
decontaminated test set; with ``models``, several model families are (the bake-off).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import polars as pl

from curate.energy import Budget
from curate.proxy.bakeoff import bake_off
from curate.proxy.decontam import contamination
from curate.proxy.forecast import count_tokens
from curate.proxy.models import MLPClassifier, make_model
from curate.proxy.outcome import arm_summary, summarise
from curate.proxy.split import stratified_split
from curate.proxy.train import ARMS, CONTAMINATION, ProxyRun, check_labels, train_arms
from curate.schema import ID, LABEL, TEXT

if TYPE_CHECKING:
    from curate.config import ProxyTestConfig, ProxyTrainConfig
    from curate.energy import EnergyConfig, EnergyReading
    from curate.record.models import ProxyOutcome

__all__ = ["ARMS", "CONTAMINATION", "MLPClassifier", "ProxyRun", "annotate_test", "check_labels", "contamination", "make_model",
           "run_proxy", "stratified_split", "summarise", "train_arms"]


def annotate_test(pool: pl.DataFrame, test: pl.DataFrame, config: ProxyTestConfig) -> pl.DataFrame:
    """``test`` with ``contamination`` (null, ``exact_duplicate``, ``near_duplicate``), its
    ``contamination_similarity`` and ``contaminated_with`` (the training row's id)."""
    if not config.decontaminate:
        return test.with_columns(pl.lit(None, pl.String).alias(CONTAMINATION),
                                 pl.lit(None, pl.Float64).alias(f"{CONTAMINATION}_similarity"),
                                 pl.lit(None, pl.String).alias("contaminated_with"))
    found = contamination(pool[TEXT], test[TEXT], config.near_threshold)
    match = found["match"]
    matched_id = pl.Series("contaminated_with", [None] * test.height, dtype=pl.String)
    if pool.height:
        matched_id = pool[ID].gather(match.fill_null(0)).zip_with(match.is_not_null(), matched_id)
    return test.with_columns(found["reason"].alias(CONTAMINATION),
                             found["similarity"].alias(f"{CONTAMINATION}_similarity"),
                             matched_id.alias("contaminated_with"))


def _tokens(config: ProxyTrainConfig, pool: pl.DataFrame, curated: pl.DataFrame) -> tuple[int, int] | None:
    """Tokens of the labelled full and curated training rows, for a forecast given by model size."""
    target = config.target
    if target is None or target.params is None or LABEL not in pool.columns:
        return None
    labelled = pool.filter(pl.col(LABEL).is_not_null())
    lengths = count_tokens(labelled[TEXT].cast(pl.String).fill_null("").to_list(), target.max_length or 512)
    kept = labelled[ID].is_in(curated[ID].implode()).to_numpy()
    return int(lengths.sum()), int(lengths[kept].sum())


def run_proxy(config: ProxyTrainConfig, energy: EnergyConfig, pool: pl.DataFrame, curated: pl.DataFrame,
              test: pl.DataFrame, seed: int, budget: Budget | None = None, curation: EnergyReading | None = None,
              message: Callable[[str], None] = lambda text: None) -> ProxyOutcome:
    """Train every arm over every seed and return the record's proxy outcome.

    With ``config.models`` (the bake-off), every model family is trained on the same arms, the
    headline model first; the budget is checked across all of them.
    """
    budget = budget or Budget(None)
    runs: dict[str, ProxyRun] = {}
    for model in [config.model, *[m for m in (config.models or []) if m != config.model]]:
        runs[model] = train_arms(config.model_copy(update={"model": model}), energy, pool, curated, test, seed,
                                 budget, message)
        if runs[model].stopped:
            break
    tokens = _tokens(config, pool, curated)
    outcome = summarise(runs[config.model], config, seed, curation, energy, tokens)
    if not config.models:
        return outcome
    arms = {model: {arm: arm_summary(fits) for arm in ARMS if (fits := [f for f in run.fits if f.arm == arm])}
            for model, run in runs.items()}
    stopped = next((run.stopped for run in runs.values() if run.stopped), None)
    return outcome.model_copy(update={"bakeoff": bake_off(arms, config.tolerance), "stopped": stopped})
