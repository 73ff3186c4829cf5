"""Step 5, prove: train the proxy model on the full pool, the curated rows and a random same-size subset,
under the meter, and score each on the test set, read once here."""

from __future__ import annotations

from curate.engine.steps import Curation, Run
from curate.engine.steps.split import Splits
from curate.record.build import curation_energy
from curate.record.models import ProxyOutcome


def prove(run: Run, splits: Splits, curation: Curation) -> ProxyOutcome | None:
    """The proxy outcome, or ``None`` when the pipeline trains no proxy or the budget stopped the run.
    Curation energy is every stage's (checkpointed ones included) plus the guard's."""
    config = run.config
    if config.proxy_train is None or curation.stopped is not None:
        return None
    from curate.proxy import run_proxy

    energy = curation_energy(curation.records, curation.guard.energy if curation.guard else None)
    index = len(config.stages) + 1
    run.observer.stage_started(index, "proxy_train", splits.pool.height, resumed=False)
    proxy = run_proxy(config.proxy_train, config.metered, splits.pool, curation.kept, splits.test, config.seed,
                      curation.budget, energy, run.observer.message)
    run.observer.stage_finished(index, "proxy_train", {})
    return proxy
