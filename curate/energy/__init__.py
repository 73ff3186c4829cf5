"""Energy metering (the only package that imports CodeCarbon) and the carbon budget."""

from curate.energy.budget import Budget, BudgetStatus
from curate.energy.config import BudgetConfig, EnergyConfig
from curate.energy.meter import ESTIMATED, MEASURED, EnergyReading, EnergySource, Meter, cpu_seconds

__all__ = ["Budget", "BudgetConfig", "BudgetStatus", "ESTIMATED", "EnergyConfig", "EnergyReading", "EnergySource",
           "MEASURED", "Meter", "cpu_seconds"]
