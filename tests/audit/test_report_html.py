"""report.html on real runs: every number the page shows is the record's, the energy proof is whole, and it renders."""

from __future__ import annotations

import io
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curate.audit.html import rebuild_page
from curate.cli import app
from curate.record import read_record
from curate.record.models import RunRecord

SCALE = {"": 1.0, "%": 1.0, "Wh": 1e3, "mWh": 1e6, "pt": 100.0, "PFLOP": 1e-15}


class PageParser(HTMLParser):
    """Collects tagged numbers, funnel and energy bars, thresholds, attributes that load things, and scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.numbers: list[dict] = []
        self.bars: list[dict] = []
        self.energy_bars: list[dict] = []
        self.thresholds: list[str] = []
        self.markers: dict[str, str] = {}
        self.loads: list[str] = []
        self.tags: set[str] = set()
        self._open: dict | None = None
        self._svg: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        self.loads += [v for k, v in attrs.items() if k in ("src", "href", "data", "xlink:href") and v]
        if tag == "svg":
            self._svg = attrs.get("id")
        if tag == "span" and "data-path" in attrs:
            self._open = {"path": attrs["data-path"], "value": attrs["data-value"], "unit": attrs["data-unit"], "text": ""}
        if tag == "rect" and attrs.get("class") == "bar" and "data-rows-out" in attrs:
            self.bars.append(attrs)
        if tag == "rect" and attrs.get("class") == "bar" and self._svg == "proxy-energy":
            self.energy_bars.append(attrs)
        if tag == "line" and attrs.get("class") == "threshold":
            self.thresholds.append(attrs["data-threshold"])
        if tag == "line" and attrs.get("class") == "marker":
            self.markers[self._svg] = attrs["data-x"]

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag):
        if tag == "span" and self._open is not None:
            self.numbers.append(self._open)
            self._open = None
        if tag == "svg":
            self._svg = None


def parse(run_dir: Path) -> tuple[dict, PageParser]:
    """report.json as plain JSON (the page's paths point into it) and the parsed page."""
    page = PageParser()
    page.feed((run_dir / "report.html").read_text(encoding="utf-8"))
    return json.loads((run_dir / "report.json").read_text()), page


def resolve(report: dict, path: str):
    value = report
    for key in path.split("."):
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


def check_agreement(report: dict, page: PageParser) -> None:
    """Each tagged number is the JSON value at its path, and its text shows that value in its unit."""
    assert page.numbers
    for number in page.numbers:
        value = resolve(report, number["path"])
        assert json.loads(number["value"]) == value, number
        text = number["text"].replace(",", "").removesuffix(number["unit"]).strip()
        if isinstance(value, bool):
            assert text == ("yes" if value else "no")
            continue
        shown, expected = float(text), value * SCALE[number["unit"]]
        decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 0
        assert abs(shown - expected) <= max(0.5 * 10 ** -decimals, 0.005 * abs(expected)) + 1e-12, number


def shown(page: PageParser) -> dict[str, str]:
    """Tagged path -> the text the page shows for it."""
    return {n["path"]: n["text"] for n in page.numbers}


def claimed_paths(record: RunRecord) -> set[str]:
    """Every figure of the record the page says it shows: the funnel with per-stage energy, totals, removals,
    splits, the guard, auto-budget curves, each proxy arm's scores and energy per fit, the headline, the sources."""
    paths = {f"totals.{k}" for k in ("rows_in", "rows_kept", "rows_removed", "kept_pct", "seconds")}
    for i, row in enumerate(record.funnel):
        paths |= {f"funnel.{i}.{k}" for k in ("rows_in", "rows_out", "removed", "kept_pct")}
        if row.index:
            paths |= {f"funnel.{i}.seconds", f"funnel.{i}.cpu_seconds"}
        if row.energy is not None:
            paths |= {f"funnel.{i}.energy.kwh", f"funnel.{i}.energy.gco2eq"}
        if row.auto_budget is not None:
            base = f"funnel.{i}.auto_budget"
            paths |= {f"{base}.chosen_rows", f"{base}.chosen_fraction"}
            paths |= {f"{base}.curve.{j}.{k}" for j, point in enumerate(row.auto_budget.curve)
                      for k in ("fraction", "rows", "macro_f1", "kwh_per_fit", "seconds_per_fit", "random_macro_f1")
                      if getattr(point, k) is not None}
    paths |= {f"removed_by_reason.{i}.rows" for i in range(len(record.removed_by_reason))}
    if record.totals.curation_energy is not None:
        paths |= {"totals.curation_energy.kwh", "totals.curation_energy.gco2eq"}
    if record.splits is not None:
        paths |= {f"splits.{name}.rows" for name in ("input", "pool", "test", "validation")
                  if getattr(record.splits, name) is not None}
    if record.guard is not None:
        paths |= {"guard.validation_rows", "guard.reference.macro_f1", "guard.tolerance"}
        paths |= {f"guard.stages.{i}.{k}" for i, stage in enumerate(record.guard.stages)
                  for k in ("removed", "macro_f1_before", "macro_f1_after", "delta", "random_macro_f1")
                  if getattr(stage, k) is not None}
        paths |= {"guard.energy.kwh"} if record.guard.energy is not None else set()
    proxy = record.proxy
    if proxy is not None:
        for name, arm in proxy.arms():
            paths |= {f"proxy.{name}.rows", f"proxy.{name}.accuracy.mean", f"proxy.{name}.accuracy.std",
                      f"proxy.{name}.macro_f1.mean", f"proxy.{name}.macro_f1.std"}
            paths |= {f"proxy.{name}.energy.{k}" for k in ("kwh_per_fit", "kwh_per_fit_std", "gco2eq_per_fit",
                                                           "wall_seconds_per_fit", "cpu_seconds_per_fit")}
            paths |= {f"proxy.{name}.energy.repetitions.{j}" for j in range(len(arm.energy.repetitions))}
        paths |= {"proxy.energy_saved_pct", "proxy.macro_f1_delta", "proxy.macro_f1_delta_ci.0",
                  "proxy.macro_f1_delta_ci.1", "proxy.beats_random", "proxy.min_fit_seconds", "proxy.seeds",
                  "proxy.test.rows_used", "proxy.test.decontaminated"}
        paths |= {"proxy.break_even_runs"} if proxy.break_even_runs is not None else set()
        if proxy.energy_saved_pct_range is not None:
            paths |= {"proxy.energy_saved_pct_range.0", "proxy.energy_saved_pct_range.1", "proxy.kwh_saved_per_fit",
                      "proxy.kwh_saved_per_fit_range.0", "proxy.kwh_saved_per_fit_range.1"}
        if proxy.bakeoff is not None:
            paths |= {f"proxy.bakeoff.points.{i}.{k}" for i in range(len(proxy.bakeoff.points))
                      for k in ("kwh_per_fit", "macro_f1")} | {"proxy.bakeoff.tolerance"}
        if proxy.savings is not None:
            for run in ("per_proxy_run", "per_target_run"):
                money = getattr(proxy.savings, run)
                if money is not None:
                    paths |= {f"proxy.savings.{run}.{k}" for k in ("kwh_saved", "energy_cost_saved",
                                                                   "compute_cost_saved", "total_saved")}
        paths |= {f"proxy.regions.{i}.{k}" for i in range(len(proxy.regions or []))
                  for k in ("gco2eq_per_kwh", "gco2eq_per_proxy_fit", "gco2eq_saved_per_proxy_fit")}
    if record.power is not None and record.power.cpu.watts_per_cpu is not None:
        paths |= {f"power.cpu.{k}" for k in ("watts_per_cpu", "low_watts_per_cpu", "high_watts_per_cpu")}
    return paths


def test_run_writes_a_record_and_a_page(scored_run):
    assert (scored_run / "report.html").exists()
    record = read_record(scored_run)
    assert record.schema_version == 2 and record.views.samples and record.views.scores
    assert "energy" not in json.loads((scored_run / "report.json").read_text())["views"]


def test_numbers_on_the_page_are_the_numbers_in_the_record(scored_run, proxy_run):
    for run_dir in (scored_run, proxy_run[0]):
        report, page = parse(run_dir)
        check_agreement(report, page)
        bars = [(b["data-stage"], int(b["data-rows-out"]), float(b["data-kept-pct"])) for b in page.bars]
        assert bars == [(r["stage"], r["rows_out"], r["kept_pct"]) for r in report["funnel"]]


def test_the_page_shows_every_number_it_claims(scored_run, proxy_run):
    for run_dir in (scored_run, proxy_run[0]):
        record = read_record(run_dir)
        _, page = parse(run_dir)
        missing = claimed_paths(record) - set(shown(page))
        assert not missing, sorted(missing)


def test_the_energy_proof_on_a_real_run(proxy_run):
    run_dir, terminal = proxy_run
    record = read_record(run_dir)
    _, page = parse(run_dir)
    on_page = shown(page)
    # per-stage energy for every metered stage, with its method
    metered = [(i, row) for i, row in enumerate(record.funnel) if row.energy is not None]
    assert [row.stage for _, row in metered] == ["exact_dedup", "heuristic_filter", "test_word_count", "active_select"]
    for i, row in metered:
        assert row.energy.kwh > 0 and on_page[f"funnel.{i}.energy.kwh"].endswith(" Wh")
    # energy per fit of the three arms, in the table and as bars of non-zero height
    arms = record.proxy.arms()
    assert [name for name, _ in arms] == ["full", "curated", "random"]
    for name, arm in arms:
        assert arm.energy.kwh_per_fit > 0 and on_page[f"proxy.{name}.energy.kwh_per_fit"].endswith(" mWh")
        assert on_page[f"proxy.{name}.energy.kwh_per_fit_std"].endswith(" mWh")
    bars = {b["data-label"]: float(b["data-value"]) for b in page.energy_bars}
    assert bars == pytest.approx({name: arm.energy.kwh_per_fit * 1e6 for name, arm in arms})
    # curation energy: the stages' plus the guard's, written exactly as the terminal wrote it
    curation = record.totals.curation_energy
    parts = [row.energy.kwh for _, row in metered] + [record.guard.energy.kwh]
    assert curation.kwh == pytest.approx(sum(parts), rel=1e-9)
    said = " ".join(terminal.split())
    assert on_page["totals.curation_energy.kwh"] == re.search(r"curation used (\S+ Wh)", said).group(1)
    assert f"macro-F1 change {on_page['proxy.macro_f1_delta']} [{on_page['proxy.macro_f1_delta_ci.0']}" in said
    # break-even: the chart's marker is curation / (full - curated) per fit, and the proxy's figure is shown
    full, curated = record.proxy.full.energy.kwh_per_fit, record.proxy.curated.energy.kwh_per_fit
    # (per-fit energy is estimated from CPU time: a curated set barely smaller than the full one may cost as much)
    if curated < full:
        assert float(page.markers["break-even"]) == pytest.approx(curation.kwh / (full - curated))
        assert record.proxy.break_even_runs == pytest.approx(curation.kwh / (full - curated), rel=1e-3)
    else:
        assert record.proxy.break_even_runs is None and "break-even" not in page.markers
        assert "curation never pays back" in " ".join((run_dir / "report.html").read_text().split())
    # where every estimate comes from: the CPU's power and its origin, the RAM model, the grid intensity
    html = (run_dir / "report.html").read_text()
    for part in ("cpu", "ram", "grid"):
        source = curation.sources[part]
        assert source.figure > 0 and source.origin and f'data-path="totals.curation_energy.sources.{part}.figure"' in html
        assert source.origin.replace("'", "&#x27;") in html
    assert "no data" not in html


def test_the_figures_a_manager_acts_on_on_a_real_run(proxy_run):
    """Power source and range, energy saved as a range, the bake-off's Pareto chart with three families, hours and
    money saved, and the region table: in report.json, on the page, and in the terminal."""
    run_dir, terminal = proxy_run
    record = read_record(run_dir)
    report, page = parse(run_dir)
    on_page = shown(page)
    html = (run_dir / "report.html").read_text()
    said = " ".join(terminal.split())
    # power: where the CPU figure came from (this machine: no RAPL, no cpu_watts, so the table or the default)
    cpu = record.power.cpu
    assert cpu.source in {"counters", "user", "table", "default"}
    if cpu.source != "counters":
        assert cpu.low_watts_per_cpu < cpu.watts_per_cpu < cpu.high_watts_per_cpu
        assert report["power"]["cpu"]["source"] == cpu.source and f"<b>{cpu.source}</b>" in html
        source = record.proxy.full.energy.sources["cpu"]
        assert source.basis == cpu.source and source.figure == pytest.approx(cpu.watts_per_cpu * cpu.cpus)
        assert f"power: CPU {cpu.source}:" in said
    # energy saved, as a range at the power bounds, in the record, on the page and in the terminal
    proxy = record.proxy
    low, high = proxy.energy_saved_pct_range
    assert low <= proxy.energy_saved_pct <= high
    full, curated = proxy.full.energy, proxy.curated.energy
    assert proxy.kwh_saved_per_fit_range == pytest.approx(sorted([
        full.kwh_per_fit_low - curated.kwh_per_fit_low, full.kwh_per_fit_high - curated.kwh_per_fit_high,
        full.kwh_per_fit - curated.kwh_per_fit])[::2])
    assert on_page["proxy.energy_saved_pct_range.0"].endswith("%")
    assert f"energy saved {proxy.energy_saved_pct:.1f}% [{low:.1f}%, {high:.1f}%]" in said
    # the bake-off: three families on the same arms, the Pareto chart, the cheapest within tolerance
    bakeoff = proxy.bakeoff
    assert [m.model for m in bakeoff.models] == ["tfidf", "svm", "nb"]
    assert all(m.full.rows == proxy.full.rows and m.curated.rows == proxy.curated.rows for m in bakeoff.models)
    points = re.findall(r'class="point" fill="[^"]+" data-model="(\w+)" data-kind="(\w+)" data-x="([^"]+)" '
                        r'data-y="([^"]+)" data-front="(\w+)"', html.split('id="bakeoff-pareto"')[1].split("</svg>")[0])
    assert [(m, k, float(x), float(y), f == "true") for m, k, x, y, f in points] == [
        (p.model, p.data, pytest.approx(p.kwh_per_fit * 1e6), pytest.approx(p.macro_f1), p.on_front)
        for p in bakeoff.points]
    assert any(p.on_front for p in bakeoff.points)
    assert bakeoff.cheapest_full in {"tfidf", "svm", "nb"} and bakeoff.cheapest_curated in {"tfidf", "svm", "nb"}
    assert f"cheapest within 1 pt of the best: {bakeoff.cheapest_full} (full)" in said
    # hours and money saved per run, for the proxy and the forecast's target
    savings = proxy.savings
    assert savings.per_proxy_run.total_saved == pytest.approx(
        savings.per_proxy_run.energy_cost_saved + savings.per_proxy_run.compute_cost_saved)
    target = savings.per_target_run
    assert target.gpu_hours_saved == pytest.approx(proxy.forecast.gpu_hours_saved) and target.gpu_hours_saved > 0
    assert "hours and money saved per training run (USD)" in said and "fine-tune a 110M-parameter encoder" in said
    # the region table: this run's grid first, then the ones asked for, with the data's source and year
    assert [r.key for r in proxy.regions] == ["DEU", "FRA", "POL", "gcp:europe-north1"] and proxy.regions[0].this_run
    assert all(r.source.startswith("CodeCarbon ") for r in proxy.regions)
    assert proxy.regions[0].gco2eq_per_kwh == pytest.approx(full.sources["grid"].figure, rel=1e-3)
    assert "the same kWh on other grids" in said and "gcp:europe-north1" in said


def test_the_terminal_proxy_table_fits_80_columns(proxy_run):
    from rich.console import Console

    from curate.cli import proxy_table

    proxy = read_record(proxy_run[0]).proxy
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(proxy_table(proxy))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    for name, arm in proxy.arms():
        e = arm.energy
        for cell in (f"{arm.accuracy.mean:.4f} ± {arm.accuracy.std:.4f}",
                     f"{e.kwh_per_fit * 1e6:.3g} ± {e.kwh_per_fit_std * 1e6:.2g}", e.method):
            assert cell in text, (name, cell)  # on one line: no column wrapped
    assert "mWh / fit ± sd" in text


def test_page_shows_clusters_samples_and_declared_thresholds(scored_run):
    record = read_record(scored_run)
    views = record.views
    assert {(s.stage, s.reason) for s in views.samples} == {("exact_dedup", "exact_duplicate"), ("test_word_count", "words")}
    biggest = views.clusters[0]
    assert biggest.size == 7 and len(biggest.removed) == 5
    assert all(r.text.lower() == biggest.kept.text.lower() for r in biggest.removed)
    (hist,) = views.scores
    assert (hist.column, hist.stage) == ("q_words", "test_word_count")
    assert [(t.value, t.removes, t.reason) for t in hist.thresholds] == [(4.0, "below", "words")]
    assert record.stage("test_word_count").thresholds == hist.thresholds
    words_removed = next(r.rows for r in record.removed_by_reason if r.reason == "words")
    assert sum(hist.removed) == words_removed and sum(hist.kept) == record.totals.rows_kept
    _, page = parse(scored_run)
    assert page.thresholds == ["4.0"]
    assert "This run had no proxy training" in (scored_run / "report.html").read_text()


def test_page_is_self_contained(scored_run, proxy_run):
    for run_dir in (scored_run, proxy_run[0]):
        _, page = parse(run_dir)
        assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
        assert page.loads == []


def test_curate_report_rebuilds_the_page_from_the_record_alone(proxy_run, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(proxy_run[0] / "report.json", run / "report.json")
    before = (proxy_run[0] / "report.json").read_bytes()
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert (run / "report.html").read_text() == (proxy_run[0] / "report.html").read_text()
    # the terminal summary, read back from the record, says what `curate run` said
    energy = re.compile(r"curation used \S+ Wh")
    assert energy.findall(" ".join(result.output.split())) == energy.findall(" ".join(proxy_run[1].split()))
    assert "proxy training (tfidf, 2 seeds" in result.output
    assert (run / "report.json").read_bytes() == before  # the record is written once, by the run
    assert sorted(p.name for p in run.iterdir()) == ["report.html", "report.json"]


def test_a_record_of_another_schema_version_is_named(scored_run, tmp_path):
    from curate import audit
    from curate.errors import InputError
    from curate.explain import explain_row

    run = tmp_path / "run"
    shutil.copytree(scored_run, run)
    raw = json.loads((run / "report.json").read_text())
    del raw["schema_version"]  # report.json as curate wrote it before the typed record
    (run / "report.json").write_text(json.dumps(raw))
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "has schema version 1; this curate reads schema version 2" in said and "rerun its pipeline" in said
    assert "Traceback" not in result.output
    for reader in (lambda: audit.load(run), lambda: explain_row(run, "r0001"), lambda: rebuild_page(run)):
        with pytest.raises(InputError, match="schema version 1"):
            reader()
    (run / "report.json").write_text(json.dumps({**raw, "schema_version": 3}))
    with pytest.raises(InputError, match="schema version 3; this curate reads schema version 2") as info:
        read_record(run)
    assert "upgrade curate" in info.value.hint
    (run / "report.json").write_text(json.dumps({**raw, "schema_version": 2, "totals": {"rows_in": "many"}}))
    with pytest.raises(InputError, match="does not match schema version 2: totals"):
        read_record(run)


def test_cli_report_on_a_folder_without_report(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "no report.json" in " ".join(result.output.split())


def test_page_renders_in_chromium_without_console_errors(scored_run, tmp_path, render):
    from PIL import Image

    shot = tmp_path / "report.png"
    console = render(scored_run / "report.html", shot)
    assert console == []
    image = Image.open(shot).convert("RGB")
    funnel_blue = (0x35, 0x66, 0xA0)
    pixels = [(x, y) for x in range(0, image.width, 2) for y in range(0, min(image.height, 600), 2)
              if all(abs(c - f) <= 4 for c, f in zip(image.getpixel((x, y)), funnel_blue, strict=True))]
    assert pixels, "no funnel bar pixels in the screenshot"
    xs, ys = [p[0] for p in pixels], [p[1] for p in pixels]
    assert max(xs) - min(xs) > 100 and max(ys) - min(ys) > 40


def test_energy_bars_have_size_in_chromium(proxy_run, tmp_path, render):
    """The energy-per-fit chart, cut from the real page and screenshot: each arm's bar covers pixels."""
    from PIL import Image

    from curate.audit.svg import PALETTE

    html = (proxy_run[0] / "report.html").read_text()
    chart = re.search(r'<svg[^>]*id="proxy-energy".*?</svg>', html, re.S).group(0)
    page = tmp_path / "energy.html"
    page.write_text(f'<!DOCTYPE html><html><body style="margin:0;background:#fff">{chart}</body></html>')
    shot = tmp_path / "energy.png"
    assert render(page, shot, size="400,300") == []
    image = Image.open(shot).convert("RGB")
    for colour in PALETTE[:3]:
        rgb = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
        hits = [(x, y) for x in range(image.width) for y in range(image.height)
                if all(abs(c - f) <= 4 for c, f in zip(image.getpixel((x, y)), rgb, strict=True))]
        assert len(hits) > 50, f"no bar of colour {colour}"
        xs, ys = [p[0] for p in hits], [p[1] for p in hits]
        assert max(xs) - min(xs) >= 10 and max(ys) - min(ys) >= 2


def test_console_errors_are_caught(tmp_path, render):
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('broken page'); missing();</script></body></html>")
    console = render(page, tmp_path / "bad.png")
    assert any("broken page" in line for line in console)
    assert any(re.search("missing is not defined", line) for line in console)


def test_open_flags_open_the_report(scored_run, tmp_path, monkeypatch):
    import webbrowser

    opened = []
    monkeypatch.setattr(webbrowser, "open", opened.append)
    run = tmp_path / "run"
    shutil.copytree(scored_run, run)
    assert CliRunner().invoke(app, ["report", str(run), "--open"]).exit_code == 0
    (tmp_path / "rows.jsonl").write_text('{"text": "one"}\n{"text": "one"}\n{"text": "two"}\n')
    (tmp_path / "p.yaml").write_text(f"name: tiny\ninput: {{path: {tmp_path / 'rows.jsonl'}}}\n"
                                     f"stages: [{{type: exact_dedup}}]\noutput: {{dir: {tmp_path / 'runs'}}}\n")
    result = CliRunner().invoke(app, ["run", str(tmp_path / "p.yaml"), "--open"])
    assert result.exit_code == 0, result.output
    assert opened == [(run / "report.html").resolve().as_uri(), (tmp_path / "runs" / "tiny" / "report.html").resolve().as_uri()]
    assert Path(opened[1].removeprefix("file://")).exists()
