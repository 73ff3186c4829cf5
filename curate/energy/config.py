"""Energy-meter and carbon-budget settings (pydantic only; no CodeCarbon import here)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class PricesConfig(BaseModel):
    """What a kWh, a CPU-hour and a GPU-hour cost, to put money on the hours and energy a curated set saves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str = Field("USD", min_length=1, max_length=8, description="Currency the prices are in (a label).")
    per_kwh: float = Field(0.17, ge=0, description="Price of a kWh of electricity (default: a typical industrial/commercial tariff; set your own).")
    per_cpu_hour: float = Field(0.048, ge=0, description="Price of one logical CPU (vCPU) for an hour (default: a general-purpose cloud vCPU-hour on demand; set your own).")
    per_gpu_hour: float = Field(2.5, ge=0, description="Price of one GPU for an hour (default: a data-centre GPU on demand; set your own).")
    defaults: bool = Field(True, description="Whether these are curate's default prices (set automatically: false once any price is given).", exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _given(cls, data: object) -> object:
        if isinstance(data, dict) and any(key in data for key in ("per_kwh", "per_cpu_hour", "per_gpu_hour")):
            return {**data, "defaults": False}
        return data


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
    powercap: Path | None = Field(None, description="Folder of the Linux powercap tree to read RAPL counters from; default /sys/class/powercap.")
    prices: PricesConfig = Field(default_factory=PricesConfig, description="Prices of a kWh, a CPU-hour and a GPU-hour, for the money saved.")
    regions: list[str] | None = Field(None, description="Grids for the what-if table of gCO2eq (3-letter country codes, `gcp:<region>`, `world`); default: a spread of low- to high-carbon grids.")

    @field_validator("regions")
    @classmethod
    def _known_regions(cls, value: list[str] | None) -> list[str] | None:
        if value:
            from curate.energy.regions import region
            from curate.errors import ConfigError

            for key in value:
                try:
                    region(key)
                except ConfigError as exc:
                    raise ValueError(str(exc)) from None
        return value


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
