"""report.html: every number is report.json's, the page is self-contained and renders in Chromium."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curate.cli import app
from curate.report.adapt import proxy_section, score_threshold, stage_energy
from curate.report.html import publish_report


class PageParser(HTMLParser):
    """Collects tagged numbers, funnel bars, attributes that load things, and scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.numbers: list[dict] = []
        self.bars: list[dict] = []
        self.thresholds: list[str] = []
        self.loads: list[str] = []
        self.tags: set[str] = set()
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        self.loads += [v for k, v in attrs.items() if k in ("src", "href", "data", "xlink:href") and v]
        if tag == "span" and "data-path" in attrs:
            self._open = {"path": attrs["data-path"], "value": attrs["data-value"], "text": ""}
        if tag == "rect" and attrs.get("class") == "bar" and "data-rows-out" in attrs:
            self.bars.append(attrs)
        if tag == "line" and attrs.get("class") == "threshold":
            self.thresholds.append(attrs["data-threshold"])

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag):
        if tag == "span" and self._open is not None:
            self.numbers.append(self._open)
            self._open = None


def parse(run_dir: Path) -> tuple[dict, PageParser]:
    page = PageParser()
    page.feed((run_dir / "report.html").read_text(encoding="utf-8"))
    return json.loads((run_dir / "report.json").read_text()), page


def resolve(report: dict, path: str):
    value = report
    for key in path.split("."):
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


def check_agreement(report: dict, page: PageParser) -> None:
    """Each tagged number is the JSON value at its path, and its text shows that value."""
    assert page.numbers
    for number in page.numbers:
        value = resolve(report, number["path"])
        assert json.loads(number["value"]) == value, number
        text = number["text"].replace(",", "").rstrip("%")
        if isinstance(value, bool):
            assert text == ("yes" if value else "no")
            continue
        shown = float(text)
        decimals = len(text.split(".")[1]) if "." in text and "e" not in text else 0
        assert abs(shown - value) <= max(0.5 * 10 ** -decimals, 0.005 * abs(value)) + 1e-12, number


def test_run_writes_report_html(scored_run):
    assert (scored_run / "report.html").exists()
    report = json.loads((scored_run / "report.json").read_text())
    assert set(report["views"]) == {"samples", "clusters", "scores", "energy"}


def test_numbers_on_the_page_are_the_numbers_in_the_json(scored_run):
    report, page = parse(scored_run)
    check_agreement(report, page)
    paths = {n["path"] for n in page.numbers}
    for i in range(len(report["funnel"])):
        assert {f"funnel.{i}.rows_in", f"funnel.{i}.rows_out", f"funnel.{i}.removed", f"funnel.{i}.kept_pct"} <= paths
    assert {f"totals.{k}" for k in ("rows_in", "rows_kept", "rows_removed", "kept_pct")} <= paths
    assert {f"removed_by_reason.{i}.rows" for i in range(len(report["removed_by_reason"]))} <= paths
    bars = [(b["data-stage"], int(b["data-rows-out"]), float(b["data-kept-pct"])) for b in page.bars]
    assert bars == [(r["stage"], r["rows_out"], r["kept_pct"]) for r in report["funnel"]]


def test_page_shows_clusters_samples_and_score_threshold(scored_run):
    report, page = parse(scored_run)
    views = report["views"]
    reasons = {(s["stage"], s["reason"]) for s in views["samples"]}
    assert reasons == {("exact_dedup", "exact_duplicate"), ("test_word_count", "words")}
    biggest = views["clusters"][0]
    assert biggest["size"] == 7 and len(biggest["removed"]) == 5
    assert all(r["text"].lower() == biggest["kept"]["text"].lower() for r in biggest["removed"])
    (hist,) = views["scores"]
    assert (hist["column"], hist["stage"], hist["threshold"], hist["side"]) == ("q_words", "test_word_count", 4.0, "below")
    words_removed = next(r["rows"] for r in report["removed_by_reason"] if r["reason"] == "words")
    assert sum(hist["removed"]) == words_removed
    assert sum(hist["kept"]) == report["totals"]["rows_kept"]
    assert page.thresholds == ["4.0"]
    html = (scored_run / "report.html").read_text()
    assert "This run had no proxy training" in html


def test_page_is_self_contained(scored_run):
    _, page = parse(scored_run)
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert page.loads == []


def test_energy_and_proxy_sections_from_report_json(scored_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(scored_run, run)
    report = json.loads((run / "report.json").read_text())
    report["funnel"][1]["stats"]["energy"] = {"kwh": 0.00012, "gco2eq": 0.05, "method": "estimated"}
    report["funnel"][2]["stats"]["energy"] = {"kwh": 0.00002, "gco2eq": 0.01, "method": "estimated"}
    report["proxy"] = {
        "arms": {arm: {"accuracy": {"mean": acc, "std": 0.01}, "macro_f1": {"mean": acc - 0.05, "std": 0.02},
                       "kwh": kwh, "gco2eq": kwh * 400, "seconds": 3.5, "method": "estimated", "repetitions": 5}
                 for arm, acc, kwh in (("full", 0.81, 0.004), ("curated", 0.8, 0.003), ("random", 0.77, 0.003))},
        "energy_saved_pct": 25.0, "macro_f1_delta": -0.01, "beats_random": True, "break_even_runs": 1.2}
    (run / "report.json").write_text(json.dumps(report))
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    report, page = parse(run)
    check_agreement(report, page)
    paths = {n["path"] for n in page.numbers}
    assert {"proxy.energy_saved_pct", "proxy.beats_random", "proxy.break_even_runs",
            "proxy.arms.curated.accuracy.mean", "proxy.arms.random.kwh", "funnel.1.stats.energy.kwh",
            "views.energy.kwh"} <= paths
    assert report["views"]["energy"]["stages"] == 2
    assert report["views"]["energy"]["kwh"] == pytest.approx(0.00014)
    html = (run / "report.html").read_text()
    assert 'id="proxy-energy"' in html and 'id="proxy-accuracy"' in html


def test_cli_report_regenerates_the_same_page(scored_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(scored_run, run)
    before = (run / "report.html").read_text()
    (run / "report.html").unlink()
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    assert (run / "report.html").read_text() == before


def test_cli_report_on_a_folder_without_report(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "no report.json" in " ".join(result.output.split())


def test_adapters_find_other_key_names():
    assert stage_energy({"stats": {"energy_kwh": 1e-4, "co2_g": 0.2, "energy_method": "measured"}}, ("funnel", 3)) == {
        "kwh": (("funnel", 3, "stats", "energy_kwh"), 1e-4), "gco2eq": (("funnel", 3, "stats", "co2_g"), 0.2),
        "method": (("funnel", 3, "stats", "energy_method"), "measured")}
    assert stage_energy({"stats": {"rows": 3}}) is None
    proxy = proxy_section({"proxy": {"arms": [{"name": "full", "accuracy": [0.8, 0.01], "energy": {"kwh": 0.1}}]},
                           "break_even_runs": 3})
    (arm,) = proxy["arms"]
    assert arm["accuracy"] == (("proxy", "arms", 0, "accuracy", 0), 0.8)
    assert arm["accuracy_std"] == (("proxy", "arms", 0, "accuracy", 1), 0.01)
    assert arm["kwh"] == (("proxy", "arms", 0, "energy", "kwh"), 0.1)
    assert proxy["headline"] == {"break_even_runs": (("break_even_runs",), 3)}
    assert proxy_section({"name": "x"}) is None
    assert score_threshold({"type": "q", "min_words": 3}, "q_words") == (3.0, "below")
    assert score_threshold({"rules": {"ppl": {"max": 900}}}, "q_ppl") == (900.0, "above")
    assert score_threshold({"type": "q", "keep": "first"}, "q_words") is None


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


def test_console_errors_are_caught(tmp_path, render):
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('broken page'); missing();</script></body></html>")
    console = render(page, tmp_path / "bad.png")
    assert any("broken page" in line for line in console)
    assert any(re.search("missing is not defined", line) for line in console)


def test_publish_report_needs_a_run(tmp_path):
    from curate.errors import InputError

    with pytest.raises(InputError, match="no report.json"):
        publish_report(tmp_path)


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
