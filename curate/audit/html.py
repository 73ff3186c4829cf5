"""report.html: one self-contained page (inline CSS and SVG, no scripts) drawn from the run record alone.

Every number on the page is written by :func:`num`, which tags it with its key path in
report.json (``data-path``), the raw value (``data-value``) and the unit it is shown in
(``data-unit``), so the page and the record can be checked against each other. A section whose
data the run lacks is replaced by a note.
"""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path
from typing import Any

from curate.audit import svg, units
from curate.energy import EnergyReading, EnergySource
from curate.io.writers import atomic_write
from curate.record import RunDir, RunRecord, read_record
from curate.record.models import (
    Arm,
    ArmEnergy,
    Cluster,
    ClusterRow,
    FunnelRow,
    Histogram,
    Money,
    ProxyOutcome,
    SampleGroup,
)

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #eee;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}th,td{border:1px solid #ddd;padding:.3rem .55rem;
vertical-align:top}th{background:#f5f5f5;text-align:left}td.r{text-align:right;font-variant-numeric:tabular-nums;
white-space:nowrap}
.warning{color:#8a4b00;font-weight:600}.note{color:#666;font-style:italic}.kpi{display:inline-block;margin:.3rem 1.4rem .3rem 0}.kpi b{font-size:1.5rem;
display:block}.cluster{display:grid;grid-template-columns:1fr 1fr;gap:.6rem;border:1px solid #ddd;padding:.6rem;
margin:.6rem 0}.kept{background:#eef7f1;padding:.4rem}.removed{background:#fbefec;padding:.4rem;margin-bottom:.3rem}
.text{white-space:pre-wrap;word-break:break-word}.id{color:#777;font-size:.8rem}.charts{display:flex;flex-wrap:wrap;
gap:1rem}.charts>div{max-width:560px}code{background:#f5f5f5;padding:0 .2rem}
"""

KeyPath = tuple[str | int, ...]


def num(path: KeyPath | None, value: Any, unit: str = "") -> str:
    """A number on the page in ``unit`` (see :mod:`curate.audit.units`), tagged with its report.json
    key path, raw value and unit."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return escape(value)
    text = escape(units.show(value, unit))
    if path is None:
        return text
    return (f'<span class="num" data-path="{escape(".".join(map(str, path)))}" data-value="{escape(json.dumps(value))}" '
            f'data-unit="{escape(unit)}">{text}</span>')


def _at(base: KeyPath | None, *keys: str | int) -> KeyPath | None:
    return None if base is None else base + keys


def _text(value: str | None) -> str:
    return f'<div class="text">{escape(value)}</div>' if value is not None else '<div class="note">(text not found)</div>'


def _note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td{" class=r" if i in numeric else ""}>{cell}</td>' for i, cell in enumerate(row))
                   + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kpi(value: str, label: str) -> str:
    return f'<span class="kpi"><b>{value}</b>{escape(label)}</span>'


# --- funnel and rows ----------------------------------------------------------------------------


def _energy_cells(base: KeyPath, energy: EnergyReading | None) -> list[str]:
    if energy is None:
        return ["–", "–", "–"]
    return [num(base + ("kwh",), energy.kwh, "Wh"), num(base + ("gco2eq",), energy.gco2eq), escape(energy.method)]


def funnel_section(record: RunRecord) -> str:
    """The funnel chart and the per-stage table (rows, time, CPU time, energy with its method)."""
    rows = []
    for i, row in enumerate(record.funnel):
        base = ("funnel", i)
        resumed = " (checkpoint)" if row.resumed else ""
        restored = (f" (guard restored {num(base + ('restored_by_guard',), row.restored_by_guard)})"
                    if row.restored_by_guard else "")
        rows.append([escape(row.stage) + resumed, escape(row.type), num(base + ("rows_in",), row.rows_in),
                     num(base + ("rows_out",), row.rows_out), num(base + ("removed",), row.removed) + restored,
                     num(base + ("kept_pct",), row.kept_pct, "%"), num(base + ("seconds",), row.seconds),
                     num(base + ("cpu_seconds",), row.cpu_seconds), *_energy_cells(base + ("energy",), row.energy)])
    table = _table(["stage", "type", "rows in", "rows out", "removed", "kept % of pool", "seconds", "CPU seconds",
                    "energy", "gCO2eq", "energy method"], rows, numeric=set(range(2, 10)))
    return f"<h2>Funnel</h2>{svg.funnel_chart(record.funnel)}{table}"


def removed_section(record: RunRecord) -> str:
    """Rows removed per reason, with samples of each."""
    if not record.removed_by_reason:
        return "<h2>Removed rows</h2>" + _note("No rows were removed.")
    table = _table(["stage", "reason", "rows"], [
        [escape(r.stage), escape(r.reason), num(("removed_by_reason", i, "rows"), r.rows)]
        for i, r in enumerate(record.removed_by_reason)], numeric={2})
    return "<h2>Removed rows</h2>" + table + samples_html(record.views.samples)


def samples_html(samples: list[SampleGroup], root: KeyPath | None = ("views", "samples")) -> str:
    """A table of example removed rows for each (stage, reason)."""
    parts = []
    for i, group in enumerate(samples):
        base = _at(root, i)
        parts.append(f"<h3>{escape(group.stage)}: {escape(group.reason)} "
                     f"({num(_at(base, 'rows'), group.rows)} rows, {len(group.examples)} shown)</h3>")
        parts.append(_table(["id", "text", "score", "duplicate of", "detail"], [
            [f'<span class="id">{escape(e.id)}</span>', _text(e.text), num(_at(base, "examples", j, "score"), e.score),
             escape(e.duplicate_of or ""), escape(e.detail or "")]
            for j, e in enumerate(group.examples)], numeric={2}))
    return "".join(parts)


def _matched(row: ClusterRow, kept: str) -> str:
    """" to <id>" when a removed row matched another removed row rather than the kept one."""
    return f" to {escape(row.duplicate_of)}" if row.duplicate_of and row.duplicate_of != kept else ""


def clusters_section(clusters: list[Cluster], root: KeyPath | None = ("views", "clusters")) -> str:
    """Each cluster's kept row beside the rows removed as its duplicates, with their similarity (to the
    row each matched, named when that is not the kept row)."""
    if not clusters:
        return _note("No stage of this run recorded duplicates.")
    parts = []
    for i, c in enumerate(clusters):
        base = _at(root, i)
        removed = "".join(
            f'<div class="removed"><span class="id">{escape(r.id)} · similarity '
            f'{num(_at(base, "removed", j, "similarity"), r.similarity)}{_matched(r, c.kept.id)}</span>'
            f'{_text(r.text)}</div>'
            for j, r in enumerate(c.removed))
        parts.append(
            f'<div class="cluster" data-stage="{escape(c.stage)}"><div><b>{escape(c.stage)}</b>: '
            f'{num(_at(base, "size"), c.size)} rows, similarity {num(_at(base, "min_similarity"), c.min_similarity)}'
            f'–{num(_at(base, "max_similarity"), c.max_similarity)}<div class="kept"><span class="id">kept '
            f'{escape(c.kept.id)}</span>{_text(c.kept.text)}</div></div><div>{removed}</div></div>')
    return "".join(parts)


def scores_section(scores: list[Histogram], root: KeyPath | None = ("views", "scores")) -> str:
    """A histogram per score column, kept vs removed, with the scoring stage's thresholds marked."""
    if not scores:
        return _note("This run has no quality-score columns (q_*).")
    parts = ['<div class="charts">']
    for i, hist in enumerate(scores):
        base = _at(root, i)
        cuts = ", ".join(f"{num(_at(base, 'thresholds', j, 'value'), t.value)} ({escape(t.removes.replace('_', ' '))} "
                         f"removed as {escape(t.reason)})" for j, t in enumerate(hist.thresholds))
        chart = svg.histogram_chart(hist.edges, hist.kept, hist.removed, f"scores-{i}", hist.column,
                                    [t.value for t in hist.thresholds if t.value is not None])
        parts.append(f"<div>{chart}<br>stage {escape(str(hist.stage))}, {num(_at(base, 'rows'), hist.rows)} rows, "
                     f"threshold {cuts or 'none declared by the stage'}</div>")
    return "".join(parts) + "</div>"


# --- splits, guard, auto budgets ----------------------------------------------------------------


def guard_section(record: RunRecord) -> str:
    """The splits, the guard's verdict, each stage's effect on validation macro-F1, and auto-budget curves."""
    parts = ["<h2>Splits and the validation guard</h2>"]
    if record.splits is not None:
        splits = [(name, split) for name in ("input", "pool", "test", "validation")
                  if (split := getattr(record.splits, name)) is not None]
        parts.append(_table(["split", "rows", "used for"], [
            [escape(name), num(("splits", name, "rows"), split.rows), escape(split.used_for or "the input")]
            for name, split in splits], numeric={1}))
    guard = record.guard
    if guard is None:
        parts.append(_note("No guard ran: it needs labels and a validation split (on by default with proxy_train)."))
    else:
        cost = (f' Judging cost {num(("guard", "energy", "kwh"), guard.energy.kwh, "Wh")} '
                f'({escape(guard.energy.method)}), counted in the curation energy.' if guard.energy else "")
        parts.append(f'<p><b>Verdict: {escape(guard.verdict)}</b>: {escape(guard.reason)}. The judge is the '
                     f'{escape(guard.model)} proxy model trained on the rows kept and scored on '
                     f'{num(("guard", "validation_rows"), guard.validation_rows)} validation rows; the whole pool '
                     f'scores validation macro-F1 {num(("guard", "reference", "macro_f1"), guard.reference.macro_f1)}; '
                     f'tolerance {num(("guard", "tolerance"), guard.tolerance)}.{cost}</p>')
        rows = []
        for i, stage in enumerate(guard.stages):
            base = ("guard", "stages", i)
            rows.append([escape(stage.stage), num(base + ("removed",), stage.removed),
                         num(base + ("macro_f1_before",), stage.macro_f1_before),
                         num(base + ("macro_f1_after",), stage.macro_f1_after), num(base + ("delta",), stage.delta),
                         num(base + ("random_macro_f1",), stage.random_macro_f1),
                         "restored: " + escape(stage.reason or "") if stage.restored else "kept"])
        if rows:
            parts.append("<h3>Each stage's effect on validation macro-F1</h3>" + _table(
                ["stage", "rows removed", "macro-F1 before", "after", "change", "random same size", "guard"], rows,
                numeric={1, 2, 3, 4, 5}))
        if guard.restored:
            parts.append("<h3>Removals the guard restored</h3>" + _table(
                ["stage", "rows", "when", "why"],
                [[escape(r.stage), num(("guard", "restored", i, "rows"), r.rows), escape(r.at), escape(r.reason)]
                 for i, r in enumerate(guard.restored)], numeric={1}))
    parts.extend(learning_curve(i, row) for i, row in enumerate(record.funnel) if row.auto_budget is not None)
    return "".join(parts)


def learning_curve(index: int, row: FunnelRow) -> str:
    """An auto-budget stage's learning curve: validation macro-F1 by fraction kept, the choice marked."""
    auto = row.auto_budget
    base = ("funnel", index, "auto_budget")
    curve = auto.curve
    fractions = [p.fraction for p in curve]
    series = [("prefix", fractions, [p.macro_f1 for p in curve]),
              ("whole pool", [0.0, 1.0], [auto.reference_macro_f1] * 2)]
    randoms = [(p.fraction, p.random_macro_f1) for p in curve if p.random_macro_f1 is not None]
    if randoms:
        series.append(("random", [f for f, _ in randoms], [v for _, v in randoms]))
    chart = svg.line_chart(series, f"{row.stage}: validation macro-F1 by fraction kept", f"curve-{index}",
                           "fraction of the stage's input kept", "macro-F1", marker_x=auto.chosen_fraction, zoom=True)
    table = _table(["fraction", "rows", "macro-F1", "bound vs pool", "random", "bound vs random", "energy / fit",
                    "seconds / fit", "accepted"],
                   [[num(base + ("curve", j, "fraction"), p.fraction), num(base + ("curve", j, "rows"), p.rows),
                     num(base + ("curve", j, "macro_f1"), p.macro_f1),
                     num(base + ("curve", j, "lower_vs_pool"), p.lower_vs_pool),
                     num(base + ("curve", j, "random_macro_f1"), p.random_macro_f1),
                     num(base + ("curve", j, "lower_vs_random"), p.lower_vs_random),
                     num(base + ("curve", j, "kwh_per_fit"), p.kwh_per_fit, "mWh"),
                     num(base + ("curve", j, "seconds_per_fit"), p.seconds_per_fit), units.number(p.accepted)]
                    for j, p in enumerate(curve)], numeric={0, 1, 2, 3, 4, 5, 6, 7})
    return (f"<h3>budget: auto in {escape(row.stage)}</h3><p>kept {num(base + ('chosen_rows',), auto.chosen_rows)} rows "
            f"({num(base + ('chosen_fraction',), auto.chosen_fraction)} of its input): {escape(auto.reason)}.</p>"
            + chart + table)


# --- energy and the proof -----------------------------------------------------------------------


def curation_line(record: RunRecord) -> str:
    """What curation cost: the same figure the terminal prints under the funnel."""
    energy = record.totals.curation_energy
    if energy is None:
        return _note("No stage recorded energy (set energy:, or proxy_train: or budget:, to meter the run).")
    metered = sum(row.energy is not None for row in record.stages)
    guard = " and the guard's judging" if record.guard is not None and record.guard.energy is not None else ""
    base = ("totals", "curation_energy")
    return (f'<p id="curation-energy">Curation used {num(base + ("kwh",), energy.kwh, "Wh")} '
            f'({num(base + ("gco2eq",), energy.gco2eq)} gCO2eq, {escape(energy.method)}): '
            f'{metered} metered stage{"s" if metered != 1 else ""}{guard}.</p>')


def _arm_row(name: str, arm: Arm) -> list[str]:
    base, energy = ("proxy", name), arm.energy
    e = base + ("energy",)
    return [escape(name), num(base + ("rows",), arm.rows),
            num(base + ("accuracy", "mean"), arm.accuracy.mean), num(base + ("accuracy", "std"), arm.accuracy.std),
            num(base + ("macro_f1", "mean"), arm.macro_f1.mean), num(base + ("macro_f1", "std"), arm.macro_f1.std),
            num(e + ("kwh_per_fit",), energy.kwh_per_fit, "mWh"), num(e + ("kwh_per_fit_std",), energy.kwh_per_fit_std, "mWh"),
            num(e + ("gco2eq_per_fit",), energy.gco2eq_per_fit), num(e + ("wall_seconds_per_fit",), energy.wall_seconds_per_fit),
            num(e + ("cpu_seconds_per_fit",), energy.cpu_seconds_per_fit), escape(energy.method),
            ", ".join(num(e + ("repetitions", j), r) for j, r in enumerate(energy.repetitions))]


def _headline(proxy: ProxyOutcome) -> str:
    low, high = proxy.macro_f1_delta_ci or (None, None)
    interval = (f" [{num(('proxy', 'macro_f1_delta_ci', 0), low, 'pt')}, {num(('proxy', 'macro_f1_delta_ci', 1), high, 'pt')}]"
                if low is not None else "")
    saved_range = proxy.energy_saved_pct_range
    span = (f" [{num(('proxy', 'energy_saved_pct_range', 0), saved_range[0], '%')}, "
            f"{num(('proxy', 'energy_saved_pct_range', 1), saved_range[1], '%')}]" if saved_range else "")
    return "".join([
        _kpi(num(("proxy", "energy_saved_pct"), proxy.energy_saved_pct, "%") + span,
             f"energy saved per fit ({proxy.energy_method}{', range at the power bounds' if saved_range else ''})"),
        _kpi(num(("proxy", "macro_f1_delta"), proxy.macro_f1_delta, "pt") + interval,
             f"macro-F1 change, curated vs full ({proxy.confidence or 0:.0%} interval)"),
        _kpi(num(("proxy", "beats_random"), proxy.beats_random), "beats a random subset of the same size"),
        _kpi(num(("proxy", "break_even_runs"), proxy.break_even_runs) if proxy.break_even_runs is not None else "never",
             "break-even (training runs)"),
    ])


def energy_section(record: RunRecord) -> str:
    """Curation energy, the proxy comparison of full / curated / random, break-even and the sources."""
    parts = ["<h2>Energy and proxy training</h2>", curation_line(record)]
    proxy = record.proxy
    if proxy is None or not proxy.arms():
        why = (f"proxy training stopped: {proxy.stopped}" if proxy is not None and proxy.stopped
               else "This run had no proxy training, so there is no full / curated / random comparison.")
        return "".join(parts) + _note(why) + sources_section(record)
    arms = proxy.arms()
    names = [name for name, _ in arms]
    parts.append(_headline(proxy))
    parts.append('<div class="charts">'
                 + svg.bar_chart(names, [a.energy.kwh_per_fit * units.SCALE["mWh"] for _, a in arms],
                                 "energy per fit (mWh)", "proxy-energy", unit="mWh",
                                 errors=[a.energy.kwh_per_fit_std * units.SCALE["mWh"] for _, a in arms])
                 + svg.bar_chart(names, [a.accuracy.mean for _, a in arms], "accuracy", "proxy-accuracy",
                                 errors=[a.accuracy.std for _, a in arms])
                 + svg.bar_chart(names, [a.macro_f1.mean for _, a in arms], "macro-F1", "proxy-f1",
                                 errors=[a.macro_f1.std for _, a in arms]) + "</div>")
    parts.append(_table(["arm", "rows", "accuracy", "± sd", "macro-F1", "± sd", "energy / fit", "± sd",
                         "gCO2eq / fit", "seconds / fit", "CPU s / fit", "method", "fits per seed"],
                        [_arm_row(name, arm) for name, arm in arms], numeric=set(range(1, 11))))
    parts.append(f'<p class="note">Each seed\'s fit is repeated until its metered span lasts '
                 f'{num(("proxy", "min_fit_seconds"), proxy.min_fit_seconds)} s (the meter\'s resolution); the figure '
                 f'per fit is the span divided by the repetitions, and ± is the spread over '
                 f'{num(("proxy", "seeds"), proxy.seeds)} seeds. Test set: {num(("proxy", "test", "rows_used"), proxy.test.rows_used)} '
                 f'rows ({num(("proxy", "test", "decontaminated"), proxy.test.decontaminated)} duplicates of training rows '
                 f'dropped).</p>')
    parts.append(saved_line(proxy))
    parts.append(epochs_section(proxy))
    parts.append(break_even_chart(record))
    parts.append(bakeoff_section(proxy))
    parts.append(savings_section(proxy))
    parts.append(forecast_section(proxy))
    parts.append(regions_section(proxy))
    return "".join(parts) + power_section(record) + sources_section(record)


def saved_line(proxy: ProxyOutcome) -> str:
    """The energy saved per fit in kWh, with its range at the power bounds."""
    if proxy.kwh_saved_per_fit is None:
        return ""
    base = ("proxy", "kwh_saved_per_fit_range")
    span = (f" (between {num(base + (0,), proxy.kwh_saved_per_fit_range[0], 'mWh')} and "
            f"{num(base + (1,), proxy.kwh_saved_per_fit_range[1], 'mWh')} with every estimated power figure at its low "
            f"and at its high bound)" if proxy.kwh_saved_per_fit_range else "")
    return (f'<p id="energy-saved">Energy saved per training run of the proxy: '
            f'{num(("proxy", "kwh_saved_per_fit"), proxy.kwh_saved_per_fit, "mWh")}{span}.</p>')


def epochs_section(proxy: ProxyOutcome) -> str:
    """Epochs run and to convergence per arm, energy per epoch, and the prediction from the first epochs."""
    rows = []
    for name, arm in proxy.arms():
        epochs = arm.epochs
        if epochs is None:
            continue
        base = ("proxy", name, "epochs")

        rows.append([escape(name), num(base + ("run", "mean"), epochs.run.mean),
                     num(base + ("to_convergence", "mean"), epochs.to_convergence.mean),
                     num(base + ("kwh_per_epoch",), epochs.kwh_per_epoch, "mWh"),
                     num(base + ("seconds_per_epoch",), epochs.seconds_per_epoch),
                     ", ".join(num(base + ("predictions", j, "error_pct"), p.error_pct, "%")
                               for j, p in enumerate(epochs.predictions) if p.error_pct is not None) or "–"])
    if not rows:
        return ""
    return ("<h3>Epochs</h3>" + _table(["arm", "epochs run", "epochs to convergence (best)", "energy / epoch",
                                        "seconds / epoch", "prediction error per seed"], rows, numeric={1, 2, 3, 4})
            + _note("Early stopping on a validation split of each arm keeps the best epoch's weights. Prediction: "
                    "the energy of the first epochs times the epochs run, against the whole fit (as Carbontracker "
                    "predicts a training run from its first epochs)."))


def bakeoff_section(proxy: ProxyOutcome) -> str:
    """The architecture bake-off: the energy-accuracy Pareto chart, each family's figures, the cheapest good model."""
    bakeoff = proxy.bakeoff
    if bakeoff is None:
        return ""
    chart = svg.scatter_chart([(p.model, p.data, p.kwh_per_fit * units.SCALE["mWh"], p.macro_f1, p.on_front)
                               for p in bakeoff.points], "energy per fit vs test macro-F1", "bakeoff-pareto",
                              "energy per fit (mWh)", "macro-F1")
    rows = [[escape(p.model), escape(p.data), num(("proxy", "bakeoff", "points", i, "kwh_per_fit"), p.kwh_per_fit, "mWh"),
             num(("proxy", "bakeoff", "points", i, "macro_f1"), p.macro_f1), "yes" if p.on_front else "no"]
            for i, p in enumerate(bakeoff.points)]
    families = "; ".join(f"{escape(m.model)}: {escape(m.family)}" for m in bakeoff.models)
    cheapest = (f"<p><b>Cheapest model within {num(('proxy', 'bakeoff', 'tolerance'), bakeoff.tolerance, 'pt')} macro-F1 "
                f"of the best</b>: {escape(bakeoff.cheapest_full or '–')} on the full data (best: "
                f"{escape(bakeoff.best_full or '–')}), {escape(bakeoff.cheapest_curated or '–')} on the curated data "
                f"(best: {escape(bakeoff.best_curated or '–')}).</p>")
    return ("<h3>Architecture bake-off</h3>" + cheapest + chart
            + _table(["model", "data", "energy / fit", "macro-F1", "on the Pareto front"], rows, numeric={2, 3})
            + _note(f"Families: {families}. Every family trains on the same full and curated arms and seeds; a point "
                    "is on the front when no other is at least as cheap and at least as accurate."))


def _money_row(label: str, base: KeyPath, money: Money | None, currency: str) -> list[str] | None:
    if money is None:
        return None
    kwh_range = (f" [{num(base + ('kwh_saved_range', 0), money.kwh_saved_range[0], 'Wh')}, "
                 f"{num(base + ('kwh_saved_range', 1), money.kwh_saved_range[1], 'Wh')}]" if money.kwh_saved_range else "")
    return [escape(label), num(base + ("kwh_saved",), money.kwh_saved, "Wh") + kwh_range,
            num(base + ("cpu_hours_saved",), money.cpu_hours_saved), num(base + ("gpu_hours_saved",), money.gpu_hours_saved),
            num(base + ("wall_hours_saved",), money.wall_hours_saved),
            num(base + ("energy_cost_saved",), money.energy_cost_saved) + f" {escape(currency)}",
            num(base + ("compute_cost_saved",), money.compute_cost_saved) + f" {escape(currency)}",
            num(base + ("total_saved",), money.total_saved) + f" {escape(currency)}"]


def savings_section(proxy: ProxyOutcome) -> str:
    """Hours and money saved per training run: the proxy's, and the forecast target's."""
    found = proxy.savings
    if found is None:
        return ""
    rows = [row for row in (_money_row("per proxy training run", ("proxy", "savings", "per_proxy_run"), found.per_proxy_run,
                                       found.currency),
                            _money_row("per target training run (forecast)", ("proxy", "savings", "per_target_run"),
                                       found.per_target_run, found.currency)) if row is not None]
    prices = (f"{num(('proxy', 'savings', 'prices', 'per_kwh'), found.prices['per_kwh'])} {escape(found.currency)} per kWh, "
              f"{num(('proxy', 'savings', 'prices', 'per_cpu_hour'), found.prices['per_cpu_hour'])} per CPU-hour, "
              f"{num(('proxy', 'savings', 'prices', 'per_gpu_hour'), found.prices['per_gpu_hour'])} per GPU-hour")
    which = "curate's default prices (set energy.prices to your own)" if found.default_prices else "prices from energy.prices"
    return ("<h3>Hours and money saved</h3>" + _table(
        ["per run", "energy saved", "CPU-hours", "GPU-hours", "hours", "energy cost", "compute cost", "total"], rows,
        numeric=set(range(1, 8)))
        + f'<p class="note">At {prices} ({escape(which)}). Energy cost is what the electricity costs where you pay for '
          "it; compute cost what renting the CPU- and GPU-hours costs (cloud prices include the electricity).</p>")


def forecast_section(proxy: ProxyOutcome) -> str:
    """The forecast for the target run, with every assumption stated."""
    forecast = proxy.forecast
    if forecast is None:
        return ""
    base = ("proxy", "forecast")
    figures = [(label, key, unit) for label, key, unit in (
        ("tokens, full set", "tokens_full", ""), ("tokens, curated set", "tokens_curated", ""),
        ("PFLOPs, full set", "full_flops", "PFLOP"), ("PFLOPs saved", "flops_saved", "PFLOP"),
        ("GPU-hours, full set", "gpu_hours_full", ""), ("GPU-hours saved", "gpu_hours_saved", ""),
        ("hours, full set", "hours_full", ""), ("hours saved", "hours_saved", ""),
        ("energy, full set", "full_kwh", "Wh"), ("energy, curated set", "curated_kwh", "Wh"),
        ("energy saved", "kwh_saved", "Wh"), ("gCO2eq saved", "gco2eq_saved", ""),
        ("break-even (training runs)", "break_even_runs", ""), ("proxy's epochs to convergence, curated / full",
                                                                "epochs_ratio", ""),
        ("energy, curated set, converging as the proxy did", "curated_kwh_with_epochs", "Wh"))
        if getattr(forecast, key) is not None]
    table = _table(["figure", "value"], [[escape(label), num(base + (key,), getattr(forecast, key), unit)]
                                        for label, key, unit in figures], numeric={1})
    said = "".join(f"<li>{escape(a)}</li>" for a in forecast.assumptions)
    title = escape(forecast.description or "the target run")
    return f"<h3>Forecast: {title}</h3>{table}<p>Assumptions:</p><ul>{said}</ul>"


def regions_section(proxy: ProxyOutcome) -> str:
    """What-if: gCO2eq of the same kWh on other grids and cloud regions."""
    regions = proxy.regions
    if not regions:
        return ""
    target = proxy.forecast is not None and proxy.forecast.full_kwh is not None
    headers = ["grid", "kind", "gCO2eq / kWh", "data year", "gCO2eq / proxy fit (full)", "gCO2eq saved / proxy fit"]
    headers += ["gCO2eq / target run (full)", "gCO2eq saved / target run"] if target else []
    rows = []
    for i, r in enumerate(regions):
        base = ("proxy", "regions", i)
        row = [escape(r.name) + (" (this run)" if r.this_run else "") + f' <span class="id">{escape(r.key)}</span>',
               escape(r.kind), num(base + ("gco2eq_per_kwh",), r.gco2eq_per_kwh), escape(str(r.year or "not stated")),
               num(base + ("gco2eq_per_proxy_fit",), r.gco2eq_per_proxy_fit),
               num(base + ("gco2eq_saved_per_proxy_fit",), r.gco2eq_saved_per_proxy_fit)]
        if target:
            row += [num(base + ("gco2eq_per_target_run",), r.gco2eq_per_target_run),
                    num(base + ("gco2eq_saved_per_target_run",), r.gco2eq_saved_per_target_run)]
        rows.append(row)
    sources = sorted({r.source for r in regions})
    return ("<h3>The same energy on other grids</h3>" + _table(headers, rows, numeric=set(range(2, len(headers))))
            + _note("Intensities from CodeCarbon's offline data: " + "; ".join(sources)
                    + ". Set energy.regions to choose the grids."))


def power_section(record: RunRecord) -> str:
    """Where the power figures come from: the CPU's source in the order counters → user → table → default, its range."""
    power = record.power
    if power is None:
        return ""
    cpu = power.cpu
    figure = (f"{num(('power', 'cpu', 'watts_per_cpu'), cpu.watts_per_cpu)} W per logical CPU "
              f"[{num(('power', 'cpu', 'low_watts_per_cpu'), cpu.low_watts_per_cpu)}, "
              f"{num(('power', 'cpu', 'high_watts_per_cpu'), cpu.high_watts_per_cpu)}] x "
              f"{num(('power', 'cpu', 'cpus'), cpu.cpus)} CPUs" if cpu.watts_per_cpu is not None else "hardware counters")
    fallbacks = "".join(f"<li>{escape(f)}</li>" for f in cpu.fallbacks)
    rows = [["CPU", f"<b>{escape(cpu.source)}</b> ({escape(cpu.method)})", figure,
             escape(cpu.origin) + (f"<ul>{fallbacks}</ul>" if fallbacks else "")],
            ["GPU", escape(power.gpu.method or "not counted"), escape(", ".join(power.gpu.devices) or "–"),
             escape(power.gpu.note)],
            ["RAM", "estimated", "–", escape(power.ram)], ["grid", "estimated", "–", escape(power.grid)]]
    return ('<h3 id="power">Power</h3>' + _table(["part", "source", "figure", "origin"], rows)
            + _note(f"CPU model detected: {cpu.cpu_model}. Sources in order: hardware counters (RAPL, NVML) → "
                    "energy.cpu_watts → curate's CPU table → a stated default; an estimate's range runs from its "
                    "load-model bound (0.9 x TDP per thread) to its TDP bound (TDP per core)."))


def break_even_chart(record: RunRecord) -> str:
    """Cumulative energy over repeated trainings: the full set vs curation once plus the curated set."""
    proxy, curation = record.proxy, record.totals.curation_energy
    if proxy is None or proxy.full is None or proxy.curated is None or curation is None:
        return ""
    full, curated = proxy.full.energy.kwh_per_fit, proxy.curated.energy.kwh_per_fit
    if curated >= full:
        return _note("The curated set costs no less per fit than the full set: curation never pays back.")
    cost, scale = curation.kwh, units.SCALE["mWh"]
    last = max(5, 2 * math.ceil(cost / (full - curated)) + 1)
    runs = sorted({round(last * i / 40) for i in range(41)})
    chart = svg.line_chart([("full data", runs, [n * full * scale for n in runs]),
                            ("curation + curated", runs, [(cost + n * curated) * scale for n in runs])],
                           "cumulative energy (mWh) vs training runs", "break-even", "training runs", "mWh",
                           marker_x=cost / (full - curated))
    return (f"<h3>Break-even</h3>{chart}<p>Curation ({num(('totals', 'curation_energy', 'kwh'), cost, 'Wh')}) pays back "
            f"after {num(('proxy', 'break_even_runs'), proxy.break_even_runs)} trainings on the curated set instead of "
            f"the full set (proxy energy per fit).</p>")


def _readings(record: RunRecord) -> list[tuple[str, KeyPath, EnergyReading | ArmEnergy]]:
    """(what, key path, reading) of every energy figure the record holds with its sources."""
    found: list[tuple[str, KeyPath, EnergyReading | ArmEnergy]] = []
    if record.totals.curation_energy is not None:
        found.append(("curation", ("totals", "curation_energy"), record.totals.curation_energy))
    if record.proxy is not None:
        if record.proxy.features_energy is not None:
            found.append(("proxy embeddings", ("proxy", "features_energy"), record.proxy.features_energy))
        found += [(f"proxy {name}", ("proxy", name, "energy"), arm.energy) for name, arm in record.proxy.arms()]
    return found


def sources_section(record: RunRecord) -> str:
    """How every energy and emissions figure was obtained: counter or model, the figure it used, its origin."""
    seen: dict[tuple, tuple[list[str], KeyPath, str, EnergySource]] = {}
    for where, base, reading in _readings(record):
        for part, source in reading.sources.items():
            key = (part, source.method, source.how, source.figure, source.unit, source.origin)
            seen.setdefault(key, ([], base + ("sources", part), part, source))[0].append(where)
    if not seen:
        return ""
    def figure(path: KeyPath, source: EnergySource) -> str:
        if source.figure is None:
            return "–"
        text = num(path + ("figure",), source.figure) + f" {escape(source.unit or '')}"
        if source.low is not None and source.high is not None:
            text += f" [{num(path + ('low',), source.low)}, {num(path + ('high',), source.high)}]"
        return text

    rows = [[escape(part), escape(source.method), escape(source.how), figure(path, source),
             escape(source.origin), escape(", ".join(where))]
            for where, path, part, source in seen.values()]
    return ("<h3>Where the energy figures come from</h3>"
            + _table(["part", "method", "how", "figure", "origin", "applies to"], rows, numeric={3})
            + _note("estimated: CodeCarbon's model (no hardware counter); measured: a hardware energy counter. "
                    "A figure is measured only when every part of it was."))


# --- the page -----------------------------------------------------------------------------------


def render_html(record: RunRecord) -> str:
    """The whole page for a run record."""
    totals = record.totals
    kpis = "".join(_kpi(num(("totals", key), getattr(totals, key), unit), label)
                   for key, label, unit in (("rows_in", "rows in", ""), ("rows_kept", "rows kept", ""),
                                            ("rows_removed", "rows removed", ""), ("kept_pct", "kept", "%"),
                                            ("seconds", "seconds", "")))
    if totals.curation_energy is not None:
        kpis += _kpi(num(("totals", "curation_energy", "kwh"), totals.curation_energy.kwh, "Wh"), "curation energy")
    stopped = f'<p><b>Stopped early:</b> {escape(record.stopped)}</p>' if record.stopped else ""
    warnings = "".join(f'<p class="warning">warning: {escape(w)}</p>' for w in record.warnings)
    body = "".join([f"<h1>curate run: {escape(record.name)}</h1><p class=\"id\">input {escape(record.input.source)}</p>",
                    kpis, stopped, warnings, funnel_section(record), removed_section(record),
                    "<h2>Largest duplicate clusters</h2>", clusters_section(record.views.clusters),
                    "<h2>Quality scores</h2>", scores_section(record.views.scores),
                    guard_section(record), energy_section(record)])
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>curate report: '
            f'{escape(record.name)}</title><style>{STYLE}</style></head><body>{body}</body></html>\n')


def write_page(record: RunRecord, run_dir: str | Path) -> Path:
    """Write report.html for ``record`` into ``run_dir`` (atomically) and return its path."""
    path = RunDir(Path(run_dir)).root / "report.html"
    with atomic_write(path, "w") as handle:
        handle.write(render_html(record))
    return path


def rebuild_page(run_dir: str | Path) -> Path:
    """Rewrite a run directory's report.html from its report.json alone (``curate report``)."""
    return write_page(read_record(run_dir), run_dir)
