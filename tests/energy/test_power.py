"""Power you can defend: counter readers on a simulated powercap tree and a simulated NVML, the
source order counters → user figure → table → default, ranges, and the table kept in step with CodeCarbon's."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from curate.energy import EnergyConfig, Meter
from curate.energy.counters import NvmlCounters, RaplCounters, joules_between
from curate.energy.power import IDLE_SHARE, load_table, match, resolve_cpu_power, resolve_gpu_power


def powercap_tree(root: Path, packages: int = 2, energy_uj: int = 1_000_000, wrap_uj: int = 262_143_328_850) -> Path:
    """A powercap folder laid out as Linux lays it out: the control type, packages with core/dram sub-domains,
    and an MMIO domain (which must not be counted twice)."""
    (root / "intel-rapl").mkdir(parents=True)
    (root / "intel-rapl" / "enabled").write_text("1\n")
    for i in range(packages):
        package = root / f"intel-rapl:{i}"
        package.mkdir()
        (package / "name").write_text(f"package-{i}\n")
        (package / "energy_uj").write_text(f"{energy_uj}\n")
        (package / "max_energy_range_uj").write_text(f"{wrap_uj}\n")
        for j, name in enumerate(("core", "dram")):
            sub = root / f"intel-rapl:{i}:{j}"
            sub.mkdir()
            (sub / "name").write_text(f"{name}\n")
            (sub / "energy_uj").write_text("5\n")
    mmio = root / "intel-rapl-mmio:0"
    mmio.mkdir()
    (mmio / "name").write_text("package-0\n")
    (mmio / "energy_uj").write_text("7\n")
    return root


def advance(root: Path, package: int, joules: float) -> None:
    path = root / f"intel-rapl:{package}" / "energy_uj"
    path.write_text(f"{int(path.read_text()) + int(joules * 1e6)}\n")


class NVMLError(Exception):
    """What the real binding raises (a class of its own, as pynvml.NVMLError is)."""


class SimulatedNVML:
    """NVML's functions over simulated GPUs whose energy counters (mJ) grow at ``watts`` while time passes."""

    NVMLError = NVMLError

    def __init__(self, names: list[str], watts: float = 250.0) -> None:
        self.names, self.watts, self.started = names, watts, None

    def nvmlInit(self) -> None:  # noqa: N802 - NVML's names
        self.started = time.perf_counter()

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        return len(self.names)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:  # noqa: N802
        return index

    def nvmlDeviceGetName(self, handle: int) -> bytes:  # noqa: N802
        return self.names[handle].encode()

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: int) -> int:  # noqa: N802
        return int(1000 * self.watts * (time.perf_counter() - self.started)) + 10_000_000 * (handle + 1)


def test_rapl_reader_finds_the_packages_only_and_reads_joules(tmp_path):
    root = powercap_tree(tmp_path / "powercap")
    reader = RaplCounters(root)
    domains, why = reader.probe()
    assert [d.name for d in domains] == ["package-0", "package-1"] and why == ""  # not core, dram or MMIO
    start = reader.read(domains)
    assert start == {"package-0": 1.0, "package-1": 1.0}
    advance(root, 0, 12.5)
    advance(root, 1, 7.5)
    assert joules_between(domains, start, reader.read(domains)) == pytest.approx(20.0)


def test_a_counter_that_wrapped_around_adds_its_range(tmp_path):
    root = powercap_tree(tmp_path / "powercap", packages=1, energy_uj=999_000_000, wrap_uj=1_000_000_000)
    reader = RaplCounters(root)
    domains, _ = reader.probe()
    start = reader.read(domains)
    (root / "intel-rapl:0" / "energy_uj").write_text("4000000\n")  # 999 J -> wrapped at 1000 J -> 4 J
    assert joules_between(domains, start, reader.read(domains)) == pytest.approx(5.0)


def test_rapl_reader_says_why_when_it_cannot_read(tmp_path, monkeypatch):
    assert "no powercap folder" in RaplCounters(tmp_path / "absent").probe()[1]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no RAPL package domain" in RaplCounters(empty).probe()[1]
    root = powercap_tree(tmp_path / "powercap", packages=1)
    real = Path.read_text

    def refuse(self, *args, **kwargs):  # the fault: the kernel's default 0400 on energy_uj, for a non-root user
        if self.name == "energy_uj":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", refuse)
    domains, why = RaplCounters(root).probe()
    assert domains == [] and "cannot be read" in why and "chmod" in why


def test_nvml_reader_on_a_simulated_nvml():
    nvml = SimulatedNVML(["NVIDIA H100", "NVIDIA H100"])
    reader = NvmlCounters(nvml)
    domains, why = reader.probe()
    assert [d.name for d in domains] == ["gpu-0 NVIDIA H100", "gpu-1 NVIDIA H100"] and why == ""
    start = reader.read(domains)
    assert start["gpu-1 NVIDIA H100"] - start["gpu-0 NVIDIA H100"] == pytest.approx(10_000.0, abs=1.0)
    time.sleep(0.2)
    joules = joules_between(domains, start, reader.read(domains))
    assert joules == pytest.approx(2 * 250.0 * 0.2, rel=0.5)


def test_nvml_faults_are_reported_not_raised(monkeypatch):
    nvml = SimulatedNVML(["Tesla P100", "NVIDIA A100"])

    def not_supported(handle):  # the fault: energy counters arrived with Volta
        if handle == 0:
            raise NVMLError("Not Supported")
        return 1_000

    monkeypatch.setattr(nvml, "nvmlDeviceGetTotalEnergyConsumption", not_supported)
    domains, _ = NvmlCounters(nvml).probe()
    assert [d.name for d in domains] == ["gpu-1 NVIDIA A100"]
    broken = SimulatedNVML(["NVIDIA A100"])
    monkeypatch.setattr(broken, "nvmlInit", lambda: (_ for _ in ()).throw(NVMLError("Driver Not Loaded")))
    domains, why = NvmlCounters(broken).probe()
    assert domains == [] and "Driver Not Loaded" in why
    gpu = resolve_gpu_power(broken)
    assert gpu.method is None and "Driver Not Loaded" in gpu.note
    assert resolve_gpu_power(SimulatedNVML(["NVIDIA A100"])).method == "measured"


def test_the_power_source_order_counters_then_user_then_table_then_default(tmp_path):
    tree = powercap_tree(tmp_path / "powercap")
    absent = tmp_path / "no-powercap"
    epyc = "AMD EPYC 7763 64-Core Processor"
    # 1. counters win over everything, even a user figure
    first = resolve_cpu_power(cpu_watts=100.0, powercap=tree, cpu_model=epyc, cpus=4)
    assert (first.source, first.method, first.watts_per_cpu) == ("counters", "measured", None)
    assert first.counters == ["package-0", "package-1"]
    # 2. no counters: the user's figure, over the CPUs this process can use
    second = resolve_cpu_power(cpu_watts=100.0, powercap=absent, cpu_model=epyc, cpus=4)
    assert (second.source, second.watts_per_cpu) == ("user", 25.0)
    assert second.low_watts_per_cpu == pytest.approx(25.0 * (1 - IDLE_SHARE)) and second.high_watts_per_cpu == 25.0
    assert second.fallbacks[0].startswith("counters: no powercap folder")
    # 3. no user figure: the table's row for the detected model: TDP per thread, bounded by 0.9x and TDP per core
    third = resolve_cpu_power(powercap=absent, cpu_model=epyc, cpus=4)
    assert (third.source, third.matched) == ("table", "AMD EPYC 7763")
    assert third.watts_per_cpu == pytest.approx(280 / 128)
    assert third.low_watts_per_cpu == pytest.approx(0.9 * 280 / 128) and third.high_watts_per_cpu == pytest.approx(280 / 64)
    # a VM that hides the model number: the family's median, bounded by the family's extremes
    family = resolve_cpu_power(powercap=absent, cpu_model="AMD EPYC", cpus=2)
    rows = [r for r in load_table() if r.model.startswith("AMD EPYC ")]
    assert (family.source, family.matched, family.rows) == ("table", "AMD EPYC", len(rows))
    assert family.low_watts_per_cpu < family.watts_per_cpu < family.high_watts_per_cpu
    assert family.high_watts_per_cpu == max(r.tdp_watts / r.cores for r in rows)
    # 4. an unknown CPU: the stated default, the median of the whole table
    fourth = resolve_cpu_power(powercap=absent, cpu_model="Fantasy CPU 9000", cpus=2)
    assert fourth.source == "default" and fourth.rows == len(load_table()) and "default" in fourth.origin
    assert [f.split(":")[0] for f in fourth.fallbacks] == ["counters", "user figure", "table"]


def test_model_names_match_rows_not_prefixes():
    table = load_table()
    assert match("Intel(R) Xeon(R) Platinum 8380 CPU @ 2.30GHz", table)[1][0].model == "Intel Xeon Platinum 8380"
    assert match("AMD EPYC 7H12 64-Core Processor", table)[1][0].model == "AMD EPYC 7H12"
    assert match("AMD EPYC 77630", table)[0] == "none"  # no row is a prefix match
    assert match("Intel(R) Xeon(R) Gold", table)[0] == "family"


def test_the_table_agrees_with_codecarbons_tdp_table():
    codecarbon = pytest.importorskip("codecarbon")
    with open(Path(codecarbon.__file__).parent / "data" / "hardware" / "cpu_power.csv", encoding="utf-8") as handle:
        theirs = {row["Name"]: row["TDP"] for row in csv.DictReader(handle)}  # a few of its rows are not numbers
    for row in load_table():
        assert float(theirs[row.model]) == row.tdp_watts, row.model
        assert row.threads in (row.cores, 2 * row.cores), row.model


def test_meter_takes_joules_from_the_counters_when_they_can_be_read(tmp_path):
    pytest.importorskip("codecarbon")
    tree = powercap_tree(tmp_path / "powercap", packages=1)
    nvml = SimulatedNVML(["NVIDIA H100"], watts=300.0)
    outer = time.perf_counter()
    with Meter(EnergyConfig(measure_power_secs=0.1, powercap=tree), nvml=nvml) as meter:
        advance(tree, 0, 36.0)  # 36 J = 1e-5 kWh on the package
        time.sleep(0.2)
    outer = time.perf_counter() - outer
    reading = meter.reading_
    assert reading.cpu_kwh == pytest.approx(36.0 / 3.6e6)
    # the GPU counted 300 W over the block: at least its 0.2 s sleep, at most the whole meter's life
    assert 300.0 * 0.2 / 3.6e6 <= reading.gpu_kwh <= 300.0 * outer / 3.6e6
    cpu, gpu = reading.sources["cpu"], reading.sources["gpu"]
    assert (cpu.method, cpu.basis, gpu.method) == ("measured", "counters", "measured")
    assert "gpu-0 NVIDIA H100" in gpu.origin
    # RAM has no counter: the reading stays an estimate, with a range on its RAM part only
    assert reading.method == "estimated"
    low, high = reading.kwh_range
    assert low <= reading.kwh <= high and low >= reading.cpu_kwh + reading.gpu_kwh


def test_an_estimate_carries_the_range_of_its_power_figures(tmp_path):
    pytest.importorskip("codecarbon")
    with Meter(EnergyConfig(measure_power_secs=0.1, powercap=tmp_path / "none", cpu_watts=40.0)) as meter:
        start = time.process_time()
        while time.process_time() - start < 0.3:
            sum(range(1000))
        lap = meter.lap()
    reading = meter.reading_
    cpu = reading.sources["cpu"]
    assert (cpu.basis, cpu.figure, cpu.low, cpu.high) == ("user", 40.0, pytest.approx(36.0), 40.0)
    # the span's CPU energy is its CPU-seconds x the power per busy CPU, as every lap's
    assert reading.cpu_seconds >= 0.3 - 1e-3 and reading.cpu_kwh == pytest.approx(reading.cpu_seconds * 40.0 / meter.power_.cpus / 3.6e6)
    low, high = reading.kwh_range
    assert low < reading.kwh <= high * (1 + 1e-9)  # equal up to float rounding when the span is all CPU
    assert reading.kwh - low >= reading.cpu_kwh * IDLE_SHARE * 0.99  # the CPU part at its low bound
    # a lap uses the same model: CPU-seconds x watts per CPU
    assert lap.cpu_kwh == pytest.approx(lap.cpu_seconds * 40.0 / meter.power_.cpus / 3.6e6)
    assert lap.kwh_range[0] * (1 - 1e-9) <= lap.kwh <= lap.kwh_range[1] * (1 + 1e-9)
