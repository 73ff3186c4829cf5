"""The labelling page's HTML, rendered on the server: every text from data or users is escaped here.

The page loads one stylesheet and one script from the server (no CDN, no build step); the
Content-Security-Policy the server sends forbids inline scripts, so an escaped text can
never run even if an escape were missed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from html import escape
from typing import Any

from curate.active.desk import View

RESERVED_KEYS = "suq"


def label_keys(labels: Sequence[str]) -> dict[str, int]:
    """Keys 1..9, and each label's first letter where it is unique and not s, u or q (as `curate label next`)."""
    keys = {str(i + 1): i for i in range(min(len(labels), 9))}
    firsts = [label[0].lower() for label in labels]
    for index, letter in enumerate(firsts):
        if firsts.count(letter) == 1 and letter not in RESERVED_KEYS and not letter.isdigit():
            keys[letter] = index
    return keys


def _document(title: str, body: str, attributes: str = "") -> str:
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><link rel=\"stylesheet\" href=\"/static/label.css\">"
            "<script src=\"/static/label.js\" defer></script></head>"
            f"<body{attributes}>{body}</body></html>")


def _header(session_name: str, who: str | None) -> str:
    me = (f"<span class=\"who\">labelling as <b>{escape(who)}</b> <a href=\"/who\">change</a></span>"
          if who else "")
    return (f"<header><h1>curate label</h1><span class=\"session\">session {escape(session_name)}</span>{me}"
            "<a class=\"status-link\" href=\"/status\">status</a></header>")


def page(*, session_name: str, who: str, tab: str, csrf: str, labels: Sequence[str], view: View,
         board: dict[str, Any], heartbeat: float = 15.0) -> str:
    """The labelling page: the row to label with its buttons, and the side panel.

    ``heartbeat`` is how often (seconds) the page tells the server it is still open.
    """
    keys = label_keys(labels)
    attributes = (f" data-csrf=\"{escape(csrf)}\" data-tab=\"{escape(tab)}\""
                  f" data-keys=\"{escape(json.dumps(keys))}\" data-heartbeat=\"{heartbeat:g}\"")
    body = (_header(session_name, who)
            + f"<div class=\"layout\"><main>{item(view, labels)}</main>"
            + f"<aside id=\"panel\">{panel(board, who)}</aside></div>")
    return _document(f"curate label · {session_name}", body, attributes)


def item(view: View, labels: Sequence[str]) -> str:
    """The ``#item`` section: the text, the model's guess, one button per label, skip and undo."""
    keys = label_keys(labels)
    by_index: dict[int, list[str]] = {}
    for key, index in keys.items():
        by_index.setdefault(index, []).append(key)
    message = f"<p class=\"message\" role=\"status\">{escape(view.message)}</p>" if view.message else ""
    undo = "<button type=\"button\" class=\"action\" data-action=\"undo\"><kbd>u</kbd> undo</button>"
    if view.item is None:
        if view.waiting:
            note = "<p class=\"waiting\">The model is picking the next rows…</p>"
        elif view.done:
            note = (f"<p class=\"done\">{escape(view.done)}.</p>"
                    "<p>Nothing more to label here: export the labels from the panel, or undo.</p>")
        else:
            note = "<p class=\"waiting\">Connecting…</p>"
        return (f"<section id=\"item\" data-row=\"\" data-waiting=\"{int(view.waiting)}\">{message}{note}"
                f"<div class=\"buttons\">{undo}</div></section>")
    row = view.item
    guessed = row.guess[0] if row.guess else None
    if row.guess:
        guess = (f"<p class=\"guess\">model's guess: <b>{escape(row.guess[0])}</b> "
                 f"<span class=\"confidence\">{row.guess[1]:.0%} confident</span></p>")
    else:
        guess = "<p class=\"guess none\">no model yet: it needs labels of two classes</p>"
    buttons = "".join(
        f"<button type=\"button\" class=\"label{' guessed' if name == guessed else ''}\" data-action=\"label\" "
        f"data-label=\"{index}\">{''.join(f'<kbd>{escape(k)}</kbd>' for k in by_index.get(index, []))}"
        f"<span class=\"name\">{escape(name)}</span></button>"
        for index, name in enumerate(labels))
    return (f"<section id=\"item\" data-row=\"{escape(row.id)}\" data-waiting=\"0\">{message}"
            f"<div id=\"text\" dir=\"auto\">{escape(row.text)}</div>{guess}"
            f"<div class=\"buttons\">{buttons}</div>"
            f"<div class=\"buttons secondary\"><button type=\"button\" class=\"action\" data-action=\"skip\">"
            f"<kbd>s</kbd> skip</button>{undo}</div>"
            f"<p class=\"row-id\">row {escape(row.id)}</p></section>")


def _bar_rows(counts: dict[str, int], total: int, mark: str | None = None) -> str:
    return "".join(
        f"<tr><td>{escape(name)}{' <small>(you)</small>' if name == mark else ''}</td><td class=\"n\">{count:,}</td>"
        f"<td><progress max=\"{max(total, 1)}\" value=\"{count}\"></progress></td></tr>"
        for name, count in counts.items())


def panel(board: dict[str, Any], who: str) -> str:
    """The side panel: progress, labels per class and labeller, the model, accuracy, energy, stopping, export."""
    m = board["metrics"]
    labelled, pool = m["labelled"], m["pool"]
    labellers = dict(sorted(m["labellers"].items(), key=lambda kv: -kv[1]))
    state = "retraining…" if board["retraining"] else "idle"
    queued = board["queued"]
    last = board["accuracy"]
    accuracy_line = (f"<p>{last['accuracy']:.1%} on {board['test_rows']:,} held-out rows "
                     f"(model of round {last['round']}, {last['labels']:,} labels)</p>" if last else "")
    undone = f", {m['undone']:,} undone" if m["undone"] else ""
    return (
        f"<h2>Progress</h2><p class=\"progress\"><b>{labelled:,}</b> of {pool:,} labelled{undone}</p>"
        f"<progress class=\"total\" max=\"{max(pool, 1)}\" value=\"{labelled}\"></progress>"
        f"<h2>Labels per class</h2><table class=\"counts\">{_bar_rows(m['per_label'], labelled)}</table>"
        f"<h2>Labellers</h2><table class=\"counts\">{_bar_rows(labellers, labelled, who) or '<tr><td>none yet</td></tr>'}</table>"
        f"<h2>Model</h2><p>strategy <b>{escape(m['strategy'])}</b> · {m['rounds']:,} rounds · {state} · "
        f"{queued:,} rows ready for you</p>"
        f"<h2>Held-out accuracy</h2>{curve(board['curve'], board['test_rows'])}{accuracy_line}"
        f"<h2>Energy</h2><p>{m['kwh'] * 1000:.3g} Wh {escape(m['energy_kind'])} "
        f"<small>(model fits and queries: CPU seconds × {board['watts']:g} W)</small></p>"
        f"<h2>Stopping criteria</h2><ul class=\"stops\">{''.join(_stop_rows(board['stops']))}</ul>"
        f"<h2>Export</h2><p class=\"export\"><a href=\"/export.csv\" download>CSV</a> "
        f"<a href=\"/export.jsonl\" download>JSONL</a> <a href=\"/export.parquet\" download>Parquet</a> "
        f"· <a href=\"/status\">status</a></p>")


def _stop_rows(stops: list[dict[str, Any]]) -> list[str]:
    rows = []
    for stop in stops:
        met = " <b class=\"met\">met</b>" if stop["met"] else ""
        if stop["share"] is None:
            rows.append(f"<li>{escape(stop['name'])}: not set</li>")
        else:
            rows.append(f"<li>{escape(stop['name'])}: {escape(stop['detail'])}{met}"
                        f"<progress max=\"1\" value=\"{min(stop['share'], 1):.4f}\"></progress></li>")
    return rows


def curve(points: list[tuple[int, float]], test_rows: int, width: int = 300, height: int = 160) -> str:
    """Held-out accuracy against labels as an inline SVG line chart."""
    if not test_rows:
        return "<p class=\"none\">no held-out set: start the session with --test to see the accuracy curve</p>"
    if not points:
        return "<p class=\"none\">the curve starts with the first model (labels of two classes)</p>"
    left, right, top, bottom = 40, 10, 10, 30
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    x_max = max(max(xs), 1)
    y_low = math.floor(min(ys) * 10) / 10  # whole tenths, a tenth at least, ending at 100% at most
    y_high = max(math.ceil(max(ys) * 10) / 10, y_low + 0.1)
    step = 0.1 if y_high - y_low <= 0.5 else 0.2
    steps = math.ceil(round((y_high - y_low) / step, 6))
    y_high = min(1.0, y_low + steps * step)
    y_low = y_high - steps * step

    def at(x: float, y: float) -> tuple[float, float]:
        return (left + (width - left - right) * x / x_max,
                height - bottom - (height - top - bottom) * (y - y_low) / (y_high - y_low))

    ticks = [y_low + step * k for k in range(steps + 1)]
    grid = "".join(
        f"<line x1=\"{left}\" x2=\"{width - right}\" y1=\"{at(0, t)[1]:.1f}\" y2=\"{at(0, t)[1]:.1f}\" class=\"grid\"/>"
        f"<text x=\"{left - 4}\" y=\"{at(0, t)[1] + 4:.1f}\" text-anchor=\"end\">{t:.0%}</text>" for t in ticks)
    line = " ".join(f"{at(x, y)[0]:.1f},{at(x, y)[1]:.1f}" for x, y in points)
    dots = "".join(f"<circle cx=\"{at(x, y)[0]:.1f}\" cy=\"{at(x, y)[1]:.1f}\" r=\"2.5\"><title>{x:,} labels: "
                   f"{y:.1%}</title></circle>" for x, y in points)
    return (f"<svg class=\"curve\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" "
            f"aria-label=\"held-out accuracy against labels\">{grid}"
            f"<line x1=\"{left}\" x2=\"{width - right}\" y1=\"{height - bottom}\" y2=\"{height - bottom}\" class=\"axis\"/>"
            f"<text x=\"{left}\" y=\"{height - 12}\">0</text>"
            f"<text x=\"{width - right}\" y=\"{height - 12}\" text-anchor=\"end\">{x_max:,} labels</text>"
            f"<polyline points=\"{line}\" class=\"line\"/>{dots}</svg>")


def status_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """The rows `curate label status` prints, as (name, value)."""
    accuracy = "n/a (no test set)" if metrics["accuracy"] is None else f"{metrics['accuracy']:.4f}"
    return [("labelled", f"{metrics['labelled']:,} of {metrics['pool']:,}"),
            *((f"  {name}", f"{count:,}") for name, count in metrics["per_label"].items()),
            *((f"  by {name}", f"{count:,}") for name, count in metrics["labellers"].items()),
            ("undone", f"{metrics['undone']:,}"), ("rounds", f"{metrics['rounds']:,}"), ("strategy", metrics["strategy"]),
            ("held-out accuracy", accuracy),
            ("predictions changed last round", "n/a" if metrics["changed"] is None else f"{metrics['changed']:.4f}"),
            (f"energy ({metrics['energy_kind']})", f"{metrics['kwh']:.3g} kWh"), ("stop", metrics["stop"] or "not yet")]


def status_page(session_name: str, who: str | None, metrics: dict[str, Any]) -> str:
    """The same status `curate label status` prints, as a page."""
    rows = "".join(f"<tr><th>{escape(name.strip())}</th><td>{escape(value)}</td></tr>"
                   if not name.startswith("  ") else
                   f"<tr class=\"sub\"><th>{escape(name.strip())}</th><td>{escape(value)}</td></tr>"
                   for name, value in status_rows(metrics))
    body = (_header(session_name, who) + f"<main class=\"status\"><h2>labelling session {escape(session_name)}</h2>"
            f"<table class=\"status\">{rows}</table><p><a href=\"/\">back to labelling</a> · "
            f"export: <a href=\"/export.csv\" download>CSV</a> <a href=\"/export.jsonl\" download>JSONL</a> "
            f"<a href=\"/export.parquet\" download>Parquet</a></p></main>")
    return _document(f"status · {session_name}", body)


def name_page(session_name: str, csrf: str, current: str | None = None, error: str | None = None) -> str:
    """The form that asks a new browser for its labeller name."""
    problem = f"<p class=\"message\" role=\"alert\">{escape(error)}</p>" if error else ""
    body = (_header(session_name, None) + "<main class=\"name\"><h2>Who is labelling?</h2>"
            "<p>Your name is stored with every label you give; each browser labels under its own name.</p>"
            f"{problem}<form method=\"post\" action=\"/who\"><input type=\"hidden\" name=\"csrf\" value=\"{escape(csrf)}\">"
            f"<input name=\"name\" id=\"name\" maxlength=\"40\" required autofocus value=\"{escape(current or '')}\" "
            "autocomplete=\"username\"> <button type=\"submit\">start labelling</button></form></main>")
    return _document(f"curate label · {session_name}", body)


def forbidden_page(reason: str, title: str = "Forbidden") -> str:
    """What a request without the access token (or with a bad CSRF check) gets; or another refusal."""
    hint = ("<p>Open the URL that <code>curate label serve</code> printed: it carries <code>?token=…</code>.</p>"
            if title == "Forbidden" else "<p><a href=\"/\">back to labelling</a></p>")
    body = f"<main class=\"name\"><h2>{escape(title)}</h2><p>{escape(reason)}</p>{hint}</main>"
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title></head><body>{body}</body></html>")
