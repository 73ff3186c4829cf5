"""Hours, money and regions: what the proxy's and the forecast's savings mean for a budget and a grid."""

from __future__ import annotations

from curate.energy.config import EnergyConfig
from curate.energy.regions import DEFAULT_REGIONS, known_regions, region
from curate.record.models import Arm, Forecast, Money, RegionRow, Savings


def _money(kwh: float, kwh_range: list[float] | None, cpu_hours: float | None, gpu_hours: float | None,
           wall_hours: float | None, energy: EnergyConfig) -> Money:
    prices = energy.prices
    compute = (cpu_hours or 0.0) * prices.per_cpu_hour + (gpu_hours or 0.0) * prices.per_gpu_hour
    energy_cost = kwh * prices.per_kwh
    return Money(kwh_saved=kwh, kwh_saved_range=kwh_range, cpu_hours_saved=cpu_hours, gpu_hours_saved=gpu_hours,
                 wall_hours_saved=wall_hours, energy_cost_saved=energy_cost,
                 energy_cost_saved_range=[k * prices.per_kwh for k in kwh_range] if kwh_range else None,
                 compute_cost_saved=compute, total_saved=energy_cost + compute)


def savings(full: Arm, curated: Arm, kwh_range: list[float] | None, forecast: Forecast | None,
            energy: EnergyConfig) -> Savings:
    """Hours and money one training run saves on the curated set: the proxy's, and the target's when forecast.

    CPU-hours are the CPU-seconds the fits used; GPU-hours, when the proxy ran on a GPU, its wall
    time; for the target, the forecast's GPU-hours. Energy cost is what electricity costs where
    you pay for it (on premises); compute cost what renting the hours costs (cloud prices include
    the electricity: add the two only where you pay both).
    """
    a, b = full.energy, curated.energy
    wall = (a.wall_seconds_per_fit - b.wall_seconds_per_fit) / 3600
    on_gpu = a.gpu_kwh_per_fit > 0
    proxy = _money(a.kwh_per_fit - b.kwh_per_fit, kwh_range, (a.cpu_seconds_per_fit - b.cpu_seconds_per_fit) / 3600,
                   wall if on_gpu else None, wall, energy)
    target = None
    if forecast is not None and forecast.kwh_saved is not None:
        target = _money(forecast.kwh_saved, None, None, forecast.gpu_hours_saved, forecast.hours_saved, energy)
    prices = energy.prices
    return Savings(currency=prices.currency, default_prices=prices.defaults,
                   prices={"per_kwh": prices.per_kwh, "per_cpu_hour": prices.per_cpu_hour,
                           "per_gpu_hour": prices.per_gpu_hour},
                   per_proxy_run=proxy, per_target_run=target)


def _this_grid(energy: EnergyConfig) -> str:
    if energy.grid_intensity is not None:
        return "custom"
    return energy.country_iso_code or "world"


def region_table(full: Arm, kwh_saved: float, forecast: Forecast | None, energy: EnergyConfig) -> list[RegionRow]:
    """gCO2eq of the same kWh on each grid of ``energy.regions`` (default: a spread of grids), this run's first."""
    keys = list(dict.fromkeys([_this_grid(energy), *(energy.regions or DEFAULT_REGIONS)]))
    rows = []
    for key in keys:
        if key == "custom":
            intensity, name, kind, year, source = (energy.grid_intensity, "set by energy.grid_intensity", "custom",
                                                   None, "energy.grid_intensity")
        else:
            found = region(key) if key in known_regions() else region("world")
            intensity, name, kind, year, source = (found.gco2eq_per_kwh, found.name, found.kind, found.year,
                                                   found.source)
        target_kwh = forecast.full_kwh if forecast is not None else None
        target_saved = forecast.kwh_saved if forecast is not None else None
        rows.append(RegionRow(
            key=key, name=name, kind=kind, gco2eq_per_kwh=intensity, year=year, source=source,
            this_run=key == keys[0], gco2eq_per_proxy_fit=full.energy.kwh_per_fit * intensity,
            gco2eq_saved_per_proxy_fit=kwh_saved * intensity,
            gco2eq_per_target_run=target_kwh * intensity if target_kwh is not None else None,
            gco2eq_saved_per_target_run=target_saved * intensity if target_saved is not None else None))
    return rows
