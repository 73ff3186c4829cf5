"""Energy-meter and carbon-budget settings (pydantic only; no CodeCarbon import here)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class EnergyConfig(BaseModel):
    """How energy is metered: grid intensity, CPU power, sampling period, tracking mode."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    country_iso_code: str | None = Field(None, pattern=r"^[A-Z]{3}$", description="3-letter ISO code of the country whose grid mix gives gCO2eq/kWh (CodeCarbon's offline table); default: CodeCarbon's world average (475 g/kWh).")
    grid_intensity: float | None = Field(None, ge=0, description="Grid carbon intensity in gCO2eq/kWh; overrides country_iso_code.")
    cpu_watts: float | None = Field(None, gt=0, description="The CPU's power in watts, for CPUs CodeCarbon does not know (used by its load x power model).")
    ram_watts: float | None = Field(None, gt=0, description="RAM power in watts; default: CodeCarbon's RAM model.")
    measure_power_secs: float = Field(0.5, gt=0, le=60, description="Seconds between CodeCarbon's energy samples (its default is 15 s, too coarse for short fits).")
    tracking_mode: Literal["process", "machine"] = Field("process", description="Meter this process and its children (`process`) or the whole machine.")
    offline: bool = Field(True, description="Offline tracker: no network calls. `false` lets CodeCarbon look up the location online.")


class BudgetConfig(BaseModel):
    """A carbon budget: the run warns near it and stops cleanly past it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kwh: float | None = Field(None, gt=0, description="Energy budget of the whole run in kWh.")
    gco2eq: float | None = Field(None, gt=0, description="Emissions budget of the whole run in gCO2eq.")
    warn_at: float = Field(0.8, gt=0, le=1, description="Warn once the run has used this fraction of a budget.")

    @model_validator(mode="after")
    def _some_limit(self) -> BudgetConfig:
        if self.kwh is None and self.gco2eq is None:
            raise ValueError("set budget.kwh, budget.gco2eq or both")
        return self
