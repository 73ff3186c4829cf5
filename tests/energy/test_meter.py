"""The meter: finite, positive, method-tagged figures; settings reach CodeCarbon; no network."""

from __future__ import annotations

import math
import socket
import time

import pytest

from curate.energy import ESTIMATED, MEASURED, EnergyConfig, EnergyReading, EnergySource, Meter

pytest.importorskip("codecarbon")


def _busy(seconds: float) -> None:
    start = time.process_time()
    while time.process_time() - start < seconds:
        sum(range(1000))


def test_reading_is_finite_positive_and_method_tagged():
    with Meter(EnergyConfig(measure_power_secs=0.1)) as meter:
        _busy(0.3)
    reading = meter.reading_
    for name in ("kwh", "cpu_kwh", "ram_kwh", "gco2eq", "wall_seconds", "cpu_seconds"):
        value = getattr(reading, name)
        assert math.isfinite(value) and value > 0, name
    assert reading.gpu_kwh >= 0
    assert reading.kwh == pytest.approx(reading.cpu_kwh + reading.ram_kwh + reading.gpu_kwh)
    assert reading.cpu_seconds >= 0.25
    assert reading.method in {MEASURED, ESTIMATED}
    assert {"cpu", "ram", "grid"} <= set(reading.sources)
    methods = {source.method for part, source in reading.sources.items() if part != "grid"}
    assert methods <= {MEASURED, ESTIMATED}
    # never an estimate presented as a measurement: measured only if every component is
    assert (reading.method == MEASURED) == (methods == {MEASURED})
    # every estimate says what figure it used and where that came from
    for part, source in reading.sources.items():
        if source.method == ESTIMATED:
            assert source.figure is not None and source.figure > 0 and source.unit and source.origin, part
    grid = reading.sources["grid"]
    assert grid.unit == "gCO2eq/kWh" and grid.figure == pytest.approx(reading.gco2eq / reading.kwh, rel=1e-6)


def test_settings_reach_codecarbon_and_no_network_is_used(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the meter tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    with Meter(EnergyConfig(cpu_watts=123.0, grid_intensity=100.0, measure_power_secs=0.1)) as meter:
        _busy(0.2)
    reading = meter.reading_
    assert reading.gco2eq / reading.kwh == pytest.approx(100.0, rel=1e-6)
    cpu = reading.sources["cpu"]
    assert cpu.figure == 123.0 and cpu.unit == "W" and "energy.cpu_watts" in cpu.origin
    assert "123 W" in cpu.describe()
    assert reading.sources["grid"].figure == pytest.approx(100.0) and "energy.grid_intensity" in reading.sources["grid"].origin


def test_country_code_sets_grid_intensity():
    with Meter(EnergyConfig(country_iso_code="FRA")) as france:
        _busy(0.1)
    with Meter(EnergyConfig(country_iso_code="POL")) as poland:
        _busy(0.1)
    assert france.reading_.gco2eq / france.reading_.kwh < poland.reading_.gco2eq / poland.reading_.kwh


def test_readings_add_and_divide():
    a = EnergyReading(kwh=2.0, cpu_kwh=1.0, ram_kwh=1.0, gpu_kwh=0.0, gco2eq=10.0, wall_seconds=4.0, cpu_seconds=2.0,
                      method=MEASURED, sources={"cpu": EnergySource(method=MEASURED, how="RAPL energy counters")})
    b = EnergyReading(kwh=1.0, cpu_kwh=0.5, ram_kwh=0.5, gpu_kwh=0.0, gco2eq=5.0, wall_seconds=2.0, cpu_seconds=1.0,
                      method=ESTIMATED, sources={"ram": EnergySource(method=ESTIMATED, how="RAM power x time",
                                                                   figure=3.0, unit="W", origin="model")})
    total = a + b
    assert (total.kwh, total.gco2eq, total.wall_seconds, total.repetitions) == (3.0, 15.0, 6.0, 2)
    assert total.method == ESTIMATED and set(total.sources) == {"cpu", "ram"}
    per = a.per(4)
    assert (per.kwh, per.cpu_seconds, per.repetitions) == (0.5, 0.5, 4)
    assert (EnergyReading.zero() + a).method == MEASURED


def test_an_error_in_the_block_is_not_masked():
    meter = Meter(EnergyConfig(measure_power_secs=0.1))
    with pytest.raises(ZeroDivisionError):
        with meter:
            1 / 0  # noqa: B018
    assert meter.reading_ is None
