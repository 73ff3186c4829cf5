"""Inline SVG charts drawn in Python: no JavaScript, no CDN, the page opens offline.

Every mark carries its value in ``data-*`` attributes so tests (and people) can read the
numbers a chart was drawn from.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from curate.record.models import FunnelRow

KEPT, REMOVED, ACCENT, INK = "#2f7d5b", "#c8553d", "#3b6ea8", "#222"
FUNNEL = "#3566a0"
PALETTE = ("#3b6ea8", "#2f7d5b", "#c8553d", "#8a5fb0", "#b08a2f")


def _fmt(value: float) -> str:
    if abs(value) >= 1000 or (float(value).is_integer() and abs(value) >= 1):
        return f"{round(value):,}"
    return f"{value:.3g}"


def _svg(width: int, height: int, body: str, chart_id: str, title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="chart" role="img" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" '
            f'font-size="12"><title>{escape(title)}</title>{body}</svg>')


def funnel_chart(rows: Sequence[FunnelRow], chart_id: str = "funnel-chart") -> str:
    """Horizontal bars: rows left after each stage, labelled with the count and % of input kept."""
    width, label_w, bar_h, gap = 760, 170, 26, 8
    height = 20 + len(rows) * (bar_h + gap)
    top = max((r.rows_in for r in rows[:1]), default=0) or 1
    span = width - label_w - 170
    parts = []
    for i, row in enumerate(rows):
        y = 10 + i * (bar_h + gap)
        w = max(span * row.rows_out / top, 1.0)
        stage = escape(row.stage)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + bar_h * 0.68:.1f}" text-anchor="end" fill="{INK}">{stage}</text>'
            f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{FUNNEL}" '
            f'data-stage="{stage}" data-rows-in="{row.rows_in}" data-rows-out="{row.rows_out}" '
            f'data-kept-pct="{row.kept_pct}"><title>{row.rows_out:,} rows ({row.kept_pct}% of input)</title></rect>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + bar_h * 0.68:.1f}" fill="{INK}">{row.rows_out:,} · {row.kept_pct}%</text>')
    return _svg(width, height, "".join(parts), chart_id, "rows kept after each stage")


def bar_chart(labels: Sequence[str], values: Sequence[float | None], title: str, chart_id: str,
              errors: Sequence[float | None] | None = None, unit: str = "") -> str:
    """Vertical bars with optional error whiskers (one colour per bar); ``None`` values are skipped."""
    width, height, left, bottom, top = 320, 220, 50, 40, 28
    present = [v for v in values if v is not None]
    peak = max([v + (e or 0) for v, e in zip(values, errors or [0] * len(values), strict=True) if v is not None] or [1])
    peak = peak or 1
    slot = (width - left - 10) / max(len(labels), 1)
    plot_h = height - bottom - top
    parts = [f'<text x="{width / 2}" y="16" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="{INK}"/>']
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = left + i * slot + slot * 0.2
        parts.append(f'<text x="{x + slot * 0.3:.1f}" y="{height - bottom + 16}" text-anchor="middle">{escape(str(label))}</text>')
        if value is None:
            continue
        h = plot_h * value / peak
        y = height - bottom - h
        parts.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.6:.1f}" height="{max(h, 0.5):.1f}" '
                     f'fill="{PALETTE[i % len(PALETTE)]}" data-label="{escape(str(label))}" data-value="{value}">'
                     f'<title>{escape(str(label))}: {value} {escape(unit)}</title></rect>'
                     f'<text x="{x + slot * 0.3:.1f}" y="{y - 4:.1f}" text-anchor="middle">{_fmt(value)}</text>')
        error = errors[i] if errors else None
        if error:
            e = plot_h * error / peak
            cx = x + slot * 0.3
            parts.append(f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y - e:.1f}" y2="{y + e:.1f}" stroke="{INK}" data-error="{error}"/>')
    if not present:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no data</text>')
    return _svg(width, height, "".join(parts), chart_id, title)


def histogram_chart(edges: Sequence[float], kept: Sequence[int], removed: Sequence[int], chart_id: str, title: str,
                    thresholds: Sequence[float] = ()) -> str:
    """Stacked kept/removed counts per bin, with each threshold as a dashed line."""
    width, height, left, bottom, top = 560, 220, 50, 36, 24
    parts = [f'<text x="{width / 2}" y="16" text-anchor="middle" font-weight="bold">{escape(title)}</text>']
    if not edges:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no values</text>')
        return _svg(width, height, "".join(parts), chart_id, title)
    low, high = edges[0], edges[-1]
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max(k + r for k, r in zip(kept, removed, strict=True)) or 1

    def x_of(value: float) -> float:
        return left + plot_w * (value - low) / ((high - low) or 1)

    for i, (k, r) in enumerate(zip(kept, removed, strict=True)):
        x0, x1 = x_of(edges[i]), x_of(edges[i + 1])
        base = height - bottom
        for count, colour, kind in ((k, KEPT, "kept"), (r, REMOVED, "removed")):
            if count:
                h = plot_h * count / peak
                base -= h
                parts.append(f'<rect class="bin {kind}" x="{x0:.1f}" y="{base:.1f}" width="{max(x1 - x0 - 1, 0.5):.1f}" '
                             f'height="{h:.1f}" fill="{colour}" data-count="{count}"><title>{count:,} {kind} in '
                             f'[{edges[i]:.4g}, {edges[i + 1]:.4g})</title></rect>')
    parts.append(f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="{INK}"/>'
                 f'<text x="{left}" y="{height - bottom + 16}">{low:.4g}</text>'
                 f'<text x="{width - 10}" y="{height - bottom + 16}" text-anchor="end">{high:.4g}</text>')
    for threshold in thresholds:  # one outside the values' range cuts nothing here: the caption still names it
        if not low <= threshold <= high:
            continue
        x = x_of(threshold)
        right = x > left + plot_w * 0.7
        parts.append(f'<line class="threshold" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{height - bottom}" stroke="{INK}" '
                     f'stroke-dasharray="4 3" data-threshold="{threshold}"/>'
                     f'<text x="{x - 4 if right else x + 4:.1f}" y="{top + 22}" text-anchor="{"end" if right else "start"}">'
                     f'threshold {threshold:.4g}</text>')
    return _svg(width, height, "".join(parts), chart_id, title)


def line_chart(series: Sequence[tuple[str, Sequence[float], Sequence[float]]], title: str, chart_id: str,
               x_label: str, y_label: str, marker_x: float | None = None, zoom: bool = False) -> str:
    """Lines (name, xs, ys) on shared axes, with an optional vertical marker (the run's setting).

    Each point is also drawn as a dot carrying its values; ``zoom`` starts the y axis just
    below the lowest value instead of at 0 (for scores that differ in the second decimal).
    """
    width, height, left, bottom, top = 560, 240, 60, 40, 28
    xs = [x for _, sx, _ in series for x in sx] + ([marker_x] if marker_x is not None else [])
    ys = [y for _, _, sy in series for y in sy if y is not None]
    parts = [f'<text x="{width / 2}" y="16" text-anchor="middle" font-weight="bold">{escape(title)}</text>']
    if not xs or not ys:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no data</text>')
        return _svg(width, height, "".join(parts), chart_id, title)
    x_low, x_high, y_high = min(xs), max(xs), max(ys) or 1
    y_low = max(0.0, min(ys) - 0.1 * ((y_high - min(ys)) or abs(y_high) or 1)) if zoom else 0.0
    plot_w, plot_h = width - left - 140, height - bottom - top

    def point(x: float, y: float) -> tuple[float, float]:
        return (left + plot_w * (x - x_low) / ((x_high - x_low) or 1),
                height - bottom - plot_h * (y - y_low) / ((y_high - y_low) or 1))

    parts.append(f'<line x1="{left}" y1="{height - bottom}" x2="{left + plot_w}" y2="{height - bottom}" stroke="{INK}"/>'
                 f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="{INK}"/>'
                 f'<text x="{left}" y="{height - bottom + 16}">{x_low:.4g}</text>'
                 f'<text x="{left + plot_w}" y="{height - bottom + 16}" text-anchor="end">{x_high:.4g}</text>'
                 f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">{escape(x_label)}</text>'
                 f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{_fmt(y_high)}</text>'
                 f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end">{_fmt(y_low) if y_low else 0}</text>'
                 f'<text x="14" y="{top + plot_h / 2}" transform="rotate(-90 14 {top + plot_h / 2})" '
                 f'text-anchor="middle">{escape(y_label)}</text>')
    for i, (name, sx, sy) in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        points = " ".join(f"{px:.1f},{py:.1f}" for px, py in (point(x, y) for x, y in zip(sx, sy, strict=True)
                                                                if y is not None))
        parts.append(f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" points="{points}" '
                     f'data-name="{escape(name)}"/>'
                     f'<text x="{left + plot_w + 8}" y="{top + 14 + 16 * i}" fill="{colour}">{escape(name)}</text>')
        parts.extend(f'<circle class="point" cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}" data-name="{escape(name)}" '
                     f'data-x="{x}" data-y="{y}"><title>{escape(name)}: {_fmt(x)}, {_fmt(y)}</title></circle>'
                     for x, y in zip(sx, sy, strict=True) if y is not None for px, py in [point(x, y)])
    if marker_x is not None:
        mx, _ = point(marker_x, 0)
        parts.append(f'<line class="marker" x1="{mx:.1f}" x2="{mx:.1f}" y1="{top}" y2="{height - bottom}" stroke="{INK}" '
                     f'stroke-dasharray="4 3" data-x="{marker_x}"/>')
    return _svg(width, height, "".join(parts), chart_id, title)


def scatter_chart(points: Sequence[tuple[str, str, float, float, bool]], title: str, chart_id: str, x_label: str,
                  y_label: str, log_x: bool = True) -> str:
    """Points (series, kind, x, y, on_front) on shared axes; the points on the Pareto front are joined.

    Colour is the series (a model), shape the kind (``full``: circle, ``curated``: square); ``log_x``
    draws x on a log scale (energies that differ by orders of magnitude).
    """
    import math

    width, height, left, bottom, top = 620, 300, 60, 40, 28
    parts = [f'<text x="{width / 2}" y="16" text-anchor="middle" font-weight="bold">{escape(title)}</text>']
    usable = [p for p in points if p[2] > 0 or not log_x]
    if not usable:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle">no data</text>')
        return _svg(width, height, "".join(parts), chart_id, title)

    def fx(x: float) -> float:
        return math.log10(x) if log_x else x

    xs, ys = [fx(p[2]) for p in usable], [p[3] for p in usable]
    x_low, x_high = min(xs), max(xs)
    pad = 0.05 * ((x_high - x_low) or 1)
    x_low, x_high = x_low - pad, x_high + pad
    y_low, y_high = min(ys), max(ys)
    y_pad = 0.1 * ((y_high - y_low) or 0.01)
    y_low, y_high = y_low - y_pad, y_high + y_pad
    plot_w, plot_h = width - left - 170, height - bottom - top

    def point(x: float, y: float) -> tuple[float, float]:
        return (left + plot_w * (fx(x) - x_low) / ((x_high - x_low) or 1),
                height - bottom - plot_h * (y - y_low) / ((y_high - y_low) or 1))

    low_text = f"{10 ** x_low:.3g}" if log_x else f"{x_low:.3g}"
    high_text = f"{10 ** x_high:.3g}" if log_x else f"{x_high:.3g}"
    parts.append(f'<line x1="{left}" y1="{height - bottom}" x2="{left + plot_w}" y2="{height - bottom}" stroke="{INK}"/>'
                 f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="{INK}"/>'
                 f'<text x="{left}" y="{height - bottom + 16}">{low_text}</text>'
                 f'<text x="{left + plot_w}" y="{height - bottom + 16}" text-anchor="end">{high_text}</text>'
                 f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">{escape(x_label)}'
                 f'{" (log scale)" if log_x else ""}</text>'
                 f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{y_high:.3g}</text>'
                 f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end">{y_low:.3g}</text>'
                 f'<text x="14" y="{top + plot_h / 2}" transform="rotate(-90 14 {top + plot_h / 2})" '
                 f'text-anchor="middle">{escape(y_label)}</text>')
    front = sorted((p for p in usable if p[4]), key=lambda p: p[2])
    if len(front) > 1:
        line = " ".join(f"{px:.1f},{py:.1f}" for px, py in (point(p[2], p[3]) for p in front))
        parts.append(f'<polyline class="front" fill="none" stroke="{INK}" stroke-dasharray="5 3" points="{line}"/>')
    series = list(dict.fromkeys(p[0] for p in usable))
    for name, kind, x, y, on_front in usable:
        colour = PALETTE[series.index(name) % len(PALETTE)]
        px, py = point(x, y)
        attrs = (f'class="point" fill="{colour}" data-model="{escape(name)}" data-kind="{escape(kind)}" data-x="{x}" '
                 f'data-y="{y}" data-front="{str(on_front).lower()}" stroke="{INK if on_front else "none"}"')
        tip = f"<title>{escape(name)} on {escape(kind)} data: {x:.3g}, {y:.4f}{' (Pareto front)' if on_front else ''}</title>"
        parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="5" {attrs}>{tip}</circle>' if kind == "full" else
                     f'<rect x="{px - 4.5:.1f}" y="{py - 4.5:.1f}" width="9" height="9" {attrs}>{tip}</rect>')
    for i, name in enumerate(series):
        colour = PALETTE[i % len(PALETTE)]
        parts.append(f'<text x="{left + plot_w + 12}" y="{top + 14 + 16 * i}" fill="{colour}">{escape(name)}</text>')
    legend_y = top + 20 + 16 * len(series)
    parts.append(f'<circle cx="{left + plot_w + 16}" cy="{legend_y}" r="5" fill="#999"/>'
                 f'<text x="{left + plot_w + 26}" y="{legend_y + 4}">full data</text>'
                 f'<rect x="{left + plot_w + 11.5}" y="{legend_y + 11.5}" width="9" height="9" fill="#999"/>'
                 f'<text x="{left + plot_w + 26}" y="{legend_y + 20}">curated data</text>'
                 f'<line x1="{left + plot_w + 8}" x2="{left + plot_w + 24}" y1="{legend_y + 34}" y2="{legend_y + 34}" '
                 f'stroke="{INK}" stroke-dasharray="5 3"/><text x="{left + plot_w + 28}" y="{legend_y + 38}">Pareto front</text>')
    return _svg(width, height, "".join(parts), chart_id, title)
