"""The carbon budget: warns once near the limit, says why when past it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from curate.energy import Budget, BudgetConfig, EnergyReading
from curate.record.build import budget_use


def _reading(kwh: float, gco2eq: float = 0.0) -> EnergyReading:
    return EnergyReading(kwh=kwh, cpu_kwh=kwh, ram_kwh=0.0, gpu_kwh=0.0, gco2eq=gco2eq, wall_seconds=1.0, cpu_seconds=1.0,
                         method="estimated")


def test_warns_once_then_stops_past_the_limit():
    budget = Budget(BudgetConfig(kwh=1.0, warn_at=0.5))
    assert budget.spend(_reading(0.3), "a").state == "ok"
    warn = budget.spend(_reading(0.3), "b")
    assert warn.state == "warn" and "60%" in warn.message
    assert budget.spend(_reading(0.1), "c").state == "ok"
    over = budget.spend(_reading(0.5), "stage 'd'")
    assert over.state == "exceeded"
    assert "stage 'd'" in over.message and "kWh" in over.message and "estimated" in over.message
    use = budget_use(budget)
    assert use.exceeded == over.message and use.kwh == 1.0
    assert use.used_kwh == pytest.approx(1.2) and use.method == "estimated"


def test_emission_budget_and_no_budget():
    budget = Budget(BudgetConfig(gco2eq=5.0))
    assert budget.spend(_reading(1.0, 6.0), "x").state == "exceeded"
    assert Budget(None).spend(_reading(1e9, 1e9), "x").state == "ok"


def test_a_budget_needs_a_limit():
    with pytest.raises(ValidationError, match="budget.kwh"):
        BudgetConfig()


def test_charge_passes_warnings_on_and_returns_the_reason_to_stop():
    budget, said = Budget(BudgetConfig(kwh=1.0)), []
    assert budget.charge(_reading(0.5), "a", said.append) is None and said == []
    assert budget.charge(_reading(0.4), "b", said.append) is None and len(said) == 1
    reason = budget.charge(_reading(0.2), "c", said.append)
    assert reason.startswith("carbon budget exceeded after c") and said[-1] == reason
