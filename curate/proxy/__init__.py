"""Proxy training: prove how much energy a curated set saves, and what it costs in accuracy.

A small model is trained on (a) the full input, (b) the curated set and (c) a random subset
of (b)'s size, each over several seeds, under the energy meter, and evaluated on a held-out,
decontaminated test set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import polars as pl

from curate.proxy.decontam import contamination
from curate.proxy.models import MLPClassifier, make_model
from curate.proxy.outcome import summarise
from curate.proxy.split import stratified_split
from curate.proxy.train import ARMS, CONTAMINATION, ProxyRun, check_labels, train_arms
from curate.schema import ID, TEXT

if TYPE_CHECKING:
    from curate.config import ProxyTestConfig, ProxyTrainConfig
    from curate.energy import Budget, EnergyConfig, EnergyReading
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


def run_proxy(config: ProxyTrainConfig, energy: EnergyConfig, pool: pl.DataFrame, curated: pl.DataFrame,
              test: pl.DataFrame, seed: int, budget: Budget | None = None, curation: EnergyReading | None = None,
              message: Callable[[str], None] = lambda text: None) -> ProxyOutcome:
    """Train every arm over every seed and return the record's proxy outcome."""
    run = train_arms(config, energy, pool, curated, test, seed, budget, message)
    return summarise(run, config, seed, curation)
