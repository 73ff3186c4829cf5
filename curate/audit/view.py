"""A rendered audit view: HTML for Jupyter, and the data it was drawn from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from typing import Any

import polars as pl

from curate.audit.html import STYLE
from curate.audit.units import number


@dataclass
class View:
    """One audit view: ``data`` (a polars frame or dict) and its HTML rendering.

    Jupyter shows it through ``_repr_html_``; ``.data`` is there for further analysis.
    """

    title: str
    html: str
    data: Any = None

    def _repr_html_(self) -> str:
        return f'<div class="curate-audit"><style>{scoped_style()}</style><h3>{escape(self.title)}</h3>{self.html}</div>'

    def __repr__(self) -> str:
        return f"View({self.title!r}, data={type(self.data).__name__})"


def scoped_style() -> str:
    """The report's CSS with every rule limited to ``.curate-audit`` (it must not restyle the notebook)."""
    def scope(match: re.Match) -> str:
        selectors = (".curate-audit" if s.strip() == "body" else f".curate-audit {s.strip()}"
                     for s in match.group(2).split(","))
        return match.group(1) + ",".join(selectors) + "{"

    return re.sub(r"(^|})([^{}]+){", scope, STYLE.strip())


def frame_table(df: pl.DataFrame, max_rows: int = 50) -> str:
    """An HTML table of the first ``max_rows`` rows of a frame."""
    head = "".join(f"<th>{escape(c)}</th>" for c in df.columns)
    rows = "".join("<tr>" + "".join(f"<td>{number(v) if v is not None else ''}</td>" for v in row) + "</tr>"
                   for row in df.head(max_rows).iter_rows())
    more = f'<p class="note">{df.height - max_rows:,} more rows in .data</p>' if df.height > max_rows else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{more}"
