"""report.html: one self-contained page (inline CSS and SVG, no scripts) drawn from report.json.

Every number on the page is written by :func:`num`, which tags it with the key path of the
value in report.json (``data-path``) and the raw value (``data-value``), so the page and the
JSON can be checked against each other. A section whose data the run lacks is replaced by a note.
"""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path
from typing import Any

from curate.engine.rundir import RunDir
from curate.errors import InputError
from curate.io.writers import atomic_write, write_json
from curate.report import svg
from curate.report.adapt import Found, proxy_section, stage_energy

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #eee;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}th,td{border:1px solid #ddd;padding:.3rem .55rem;
vertical-align:top}th{background:#f5f5f5;text-align:left}td.r{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#666;font-style:italic}.kpi{display:inline-block;margin:.3rem 1.4rem .3rem 0}.kpi b{font-size:1.5rem;
display:block}.cluster{display:grid;grid-template-columns:1fr 1fr;gap:.6rem;border:1px solid #ddd;padding:.6rem;
margin:.6rem 0}.kept{background:#eef7f1;padding:.4rem}.removed{background:#fbefec;padding:.4rem;margin-bottom:.3rem}
.text{white-space:pre-wrap;word-break:break-word}.id{color:#777;font-size:.8rem}.charts{display:flex;flex-wrap:wrap;
gap:1rem}code{background:#f5f5f5;padding:0 .2rem}
"""


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0 or abs(value) >= 100:
            return f"{value:,.1f}"
        return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3g}"
    return escape(str(value))


def num(path: tuple | None, value: Any, suffix: str = "") -> str:
    """A number on the page, tagged with its report.json key path and raw value."""
    if value is None:
        return "–"
    if isinstance(value, str):
        return escape(value)
    if path is None:
        return _fmt(value) + escape(suffix)
    raw = json.dumps(value)
    return (f'<span class="num" data-path="{escape(".".join(map(str, path)))}" data-value="{escape(raw)}">'
            f'{_fmt(value)}{escape(suffix)}</span>')


def _at(base: tuple | None, *keys: str | int) -> tuple | None:
    return None if base is None else base + keys


def found(item: Found, suffix: str = "") -> str:
    """A value located by an adapter, with its path."""
    return num(item[0], item[1], suffix)


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


def funnel_section(report: dict[str, Any]) -> str:
    """The funnel chart and the per-stage table (rows, time, CPU time, energy with its method)."""
    rows = []
    for i, row in enumerate(report["funnel"]):
        base = ("funnel", i)
        energy = stage_energy(row, base) or {"kwh": (None, None), "gco2eq": (None, None), "method": (None, None)}
        resumed = " (checkpoint)" if row.get("resumed") else ""
        rows.append([escape(row["stage"]) + resumed, escape(row.get("type", "")),
                     num(base + ("rows_in",), row["rows_in"]), num(base + ("rows_out",), row["rows_out"]),
                     num(base + ("removed",), row["removed"]), num(base + ("kept_pct",), row["kept_pct"], "%"),
                     num(base + ("seconds",), row.get("seconds")), num(base + ("cpu_seconds",), row.get("cpu_seconds")),
                     found(energy["kwh"]), found(energy["gco2eq"]), escape(str(energy["method"][1] or "–"))])
    table = _table(["stage", "type", "rows in", "rows out", "removed", "kept % of input", "seconds", "CPU seconds",
                    "energy kWh", "gCO2eq", "energy method"], rows, numeric=set(range(2, 10)))
    return f"<h2>Funnel</h2>{svg.funnel_chart(report['funnel'])}{table}"


def removed_section(report: dict[str, Any], views: dict[str, Any]) -> str:
    """Rows removed per reason, with samples of each."""
    reasons = report.get("removed_by_reason", [])
    if not reasons:
        return "<h2>Removed rows</h2>" + _note("No rows were removed.")
    table = _table(["stage", "reason", "rows"], [
        [escape(r["stage"]), escape(r["reason"]), num(("removed_by_reason", i, "rows"), r["rows"])]
        for i, r in enumerate(reasons)], numeric={2})
    return "<h2>Removed rows</h2>" + table + samples_html(views.get("samples", []))


def samples_html(samples: list[dict[str, Any]], root: tuple | None = ("views", "samples")) -> str:
    """A table of example removed rows for each (stage, reason)."""
    parts = []
    for i, group in enumerate(samples):
        base = _at(root, i)
        parts.append(f"<h3>{escape(group['stage'])}: {escape(group['reason'])} "
                     f"({num(_at(base, 'rows'), group['rows'])} rows, {len(group['examples'])} shown)</h3>")
        parts.append(_table(["id", "text", "score", "duplicate of", "detail"], [
            [f'<span class="id">{escape(e["id"])}</span>', _text(e["text"]),
             num(_at(base, "examples", j, "score"), e["score"]), escape(e["duplicate_of"] or ""), escape(e["detail"] or "")]
            for j, e in enumerate(group["examples"])], numeric={2}))
    return "".join(parts)


def _matched(row: dict[str, Any], kept: str) -> str:
    """" to <id>" when a removed row matched another removed row rather than the kept one."""
    other = row.get("duplicate_of")
    return f" to {escape(other)}" if other and other != kept else ""


def clusters_section(clusters: list[dict[str, Any]], root: tuple | None = ("views", "clusters")) -> str:
    """Each cluster's kept row beside the rows removed as its duplicates, with their similarity (to the
    row each matched, named when that is not the kept row)."""
    if not clusters:
        return _note("No stage of this run recorded duplicates.")
    parts = []
    for i, c in enumerate(clusters):
        base = _at(root, i)
        removed = "".join(
            f'<div class="removed"><span class="id">{escape(r["id"])} · similarity '
            f'{num(_at(base, "removed", j, "similarity"), r["similarity"])}{_matched(r, c["kept"]["id"])}</span>'
            f'{_text(r["text"])}</div>'
            for j, r in enumerate(c["removed"]))
        parts.append(
            f'<div class="cluster" data-stage="{escape(c["stage"])}"><div><b>{escape(c["stage"])}</b>: '
            f'{num(_at(base, "size"), c["size"])} rows, similarity {num(_at(base, "min_similarity"), c["min_similarity"])}'
            f'–{num(_at(base, "max_similarity"), c["max_similarity"])}<div class="kept"><span class="id">kept '
            f'{escape(c["kept"]["id"])}</span>{_text(c["kept"]["text"])}</div></div><div>{removed}</div></div>')
    return "".join(parts)


def scores_section(scores: list[dict[str, Any]], root: tuple | None = ("views", "scores")) -> str:
    """A histogram per quality-score column, kept vs removed, with the threshold marked."""
    if not scores:
        return _note("This run has no quality-score columns (q_*).")
    parts = ['<div class="charts">']
    for i, hist in enumerate(scores):
        base = _at(root, i)
        side = f"{hist['side']} removed" if hist["side"] else "not in the stage config"
        parts.append(f"<div>{svg.histogram_chart(hist, f'scores-{i}', hist['column'])}<br>"
                     f"stage {escape(str(hist['stage']))}, {num(_at(base, 'rows'), hist['rows'])} rows, threshold "
                     f"{num(_at(base, 'threshold'), hist['threshold'])} ({escape(side)})</div>")
    return "".join(parts) + "</div>"


def energy_section(report: dict[str, Any], views: dict[str, Any]) -> str:
    """Curation energy, and the proxy-training comparison of full / curated / random."""
    parts = ["<h2>Energy and proxy training</h2>"]
    energy = views.get("energy") or {}
    if energy.get("stages"):
        parts.append(f'<p>Curation used {num(("views", "energy", "kwh"), energy["kwh"])} kWh '
                     f'({num(("views", "energy", "gco2eq"), energy["gco2eq"])} gCO2eq) over '
                     f'{num(("views", "energy", "stages"), energy["stages"])} metered stages; methods: '
                     f'{escape(", ".join(energy["methods"]))}.</p>')
    else:
        parts.append(_note("No stage recorded energy (run with the energy extra to meter it)."))
    proxy = proxy_section(report)
    if proxy is None:
        return "".join(parts) + _note("This run had no proxy training, so there is no full / curated / random comparison.")
    head = proxy["headline"]
    labels = {"energy_saved_pct": ("energy saved", "%"), "macro_f1_delta": ("macro-F1 change", ""),
              "beats_random": ("beats random subset", ""), "break_even_runs": ("break-even (training runs)", "")}
    parts.append("".join(f'<span class="kpi"><b>{found(head[k], labels[k][1])}</b>{escape(labels[k][0])}</span>'
                         for k in labels if k in head))
    arms = proxy["arms"]
    names = [a["name"] for a in arms]
    parts.append('<div class="charts">'
                 + svg.bar_chart(names, [a["kwh"][1] for a in arms], "energy per fit (kWh)", "proxy-energy", unit="kWh")
                 + svg.bar_chart(names, [a["accuracy"][1] for a in arms], "accuracy", "proxy-accuracy",
                                 errors=[a["accuracy_std"][1] for a in arms])
                 + svg.bar_chart(names, [a["macro_f1"][1] for a in arms], "macro-F1", "proxy-f1",
                                 errors=[a["macro_f1_std"][1] for a in arms]) + "</div>")
    parts.append(break_even_chart(energy.get("kwh") if energy.get("stages") else None, arms))
    parts.append(_table(["arm", "accuracy", "± std", "macro-F1", "± std", "kWh", "gCO2eq", "seconds", "method",
                         "repetitions"],
                        [[escape(str(a["name"])), found(a["accuracy"]), found(a["accuracy_std"]), found(a["macro_f1"]),
                          found(a["macro_f1_std"]), found(a["kwh"]), found(a["gco2eq"]), found(a["seconds"]),
                          escape(str(a["method"][1] or "–")), found(a["repetitions"])] for a in arms],
                        numeric={1, 2, 3, 4, 5, 6, 7, 9}))
    return "".join(parts)


def break_even_chart(curation_kwh: float | None, arms: list[dict[str, Any]]) -> str:
    """Cumulative energy over repeated trainings: full data vs curation once plus curated data."""
    kwh = {a["name"]: a["kwh"][1] for a in arms}
    full, curated = kwh.get("full"), kwh.get("curated")
    if curation_kwh is None or not full or curated is None or curated >= full:
        return ""
    runs = list(range(max(5, 2 * math.ceil(curation_kwh / (full - curated)) + 1) + 1))
    return svg.line_chart([("full data", runs, [n * full for n in runs]),
                           ("curation + curated", runs, [curation_kwh + n * curated for n in runs])],
                          "cumulative energy (kWh) vs training runs", "break-even", "training runs", "kWh",
                          marker_x=curation_kwh / (full - curated))


def render_html(report: dict[str, Any]) -> str:
    """The whole page for a report dict (with its ``views``)."""
    views = report.get("views", {})
    totals = report["totals"]
    kpis = "".join(f'<span class="kpi"><b>{num(("totals", key), totals[key], suffix)}</b>{label}</span>'
                   for key, label, suffix in (("rows_in", "rows in", ""), ("rows_kept", "rows kept", ""),
                                              ("rows_removed", "rows removed", ""), ("kept_pct", "kept", "%"),
                                              ("seconds", "seconds", "")))
    source = escape(str(report.get("input", {}).get("source", "")))
    body = "".join([f"<h1>curate run: {escape(report['name'])}</h1><p class=\"id\">input {source}</p>{kpis}",
                    funnel_section(report), removed_section(report, views),
                    "<h2>Largest duplicate clusters</h2>", clusters_section(views.get("clusters", [])),
                    "<h2>Quality scores</h2>", scores_section(views.get("scores", [])),
                    energy_section(report, views)])
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>curate report: '
            f'{escape(report["name"])}</title><style>{STYLE}</style></head><body>{body}</body></html>\n')


def energy_totals(report: dict[str, Any]) -> dict[str, Any]:
    """Curation energy summed over the stages that were metered."""
    found_rows = [e for e in (stage_energy(row) for row in report["funnel"]) if e is not None]
    return {"stages": len(found_rows), "kwh": sum(float(e["kwh"][1]) for e in found_rows),
            "gco2eq": sum(float(e["gco2eq"][1] or 0.0) for e in found_rows),
            "methods": sorted({str(e["method"][1] or "unknown") for e in found_rows})}


def publish_report(run_dir: str | Path, refresh: bool = True) -> dict[str, Any]:
    """Add the audit views to report.json and write report.html beside it.

    Parameters
    ----------
    run_dir : str or Path
        A finished run directory.
    refresh : bool
        Recompute the views from the run's files; when False, reuse those report.json holds
        (computing them only if it has none). The energy totals always follow the funnel.

    Returns
    -------
    dict
        The report, views included.
    """
    from curate.report.views import build_views

    rd = RunDir(Path(run_dir))
    if not rd.report.exists():
        raise InputError(f"{run_dir} has no report.json", hint="pass a run directory that `curate run` wrote")
    report = json.loads(rd.report.read_text())
    views = build_views(rd.root) if refresh or "views" not in report else report["views"]
    views = {**views, "energy": energy_totals(report)}
    if views != report.get("views"):
        report["views"] = views
        write_json(report, rd.report)
    with atomic_write(rd.root / "report.html", "w") as handle:
        handle.write(render_html(report))
    return report
