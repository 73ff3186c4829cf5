"""The labelling page's HTML: escaping, keys, the accuracy curve, stopping progress (no server, no browser)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from curate.active.desk import Item, View
from curate.active.page import curve, item, label_keys, name_page, panel, status_page
from curate.active.stopping import StopConfig, stop_progress, stop_reason
from curate.cli.label import answer_keys

HOSTILE = "<script>alert(1)</script>\"'&<img src=x onerror=alert(2)>"


class Tags(HTMLParser):
    """Every start tag in a document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        own_script = tag == "script" and dict(attrs) == {"src": "/static/label.js", "defer": None}
        self.tags.append("own script" if own_script else tag)


def tags(html: str) -> list[str]:
    """Start tags, the page's own script tag named ``own script``."""
    parser = Tags()
    parser.feed(html)
    return parser.tags


@pytest.mark.parametrize("labels", [["neg", "neu", "pos"], ["spam", "ham", "unsure"], [f"c{i}" for i in range(12)],
                                    ["Sports", "science", "World", "business"], ["1star", "2star"]])
def test_keys_are_the_terminal_loops_keys(labels):
    assert label_keys(labels) == answer_keys(labels)


def test_every_text_is_escaped():
    labels = ["neg", HOSTILE]
    view = View(Item(HOSTILE, HOSTILE, (HOSTILE, 0.5)), message=HOSTILE)
    html = item(view, labels)
    assert tags(html).count("script") == 0 and tags(html).count("img") == 0
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4  # text, guess, button, message
    board = {"metrics": {"labelled": 1, "pool": 2, "undone": 0, "per_label": {"neg": 0, HOSTILE: 1},
                         "labellers": {HOSTILE: 1}, "strategy": "margin", "rounds": 1, "kwh": 0.0,
                         "energy_kind": "estimated"},
             "retraining": False, "queued": 0, "curve": [], "accuracy": None, "test_rows": 0, "watts": 15.0,
             "stops": stop_progress(StopConfig(), 1, 0.0, [])}
    for html in (panel(board, HOSTILE), name_page(HOSTILE, HOSTILE, HOSTILE, HOSTILE),
                 status_page(HOSTILE, HOSTILE, {**board["metrics"], "accuracy": None, "changed": None, "stop": None})):
        assert "script" not in tags(html) and "img" not in tags(html)


def test_the_curve_spans_its_points_in_round_tenths():
    for points in ([(5, 0.31), (10, 0.7), (20, 0.26)], [(3, 1.0)], [(3, 0.0)], [(1, 0.0), (2, 1.0)], [(7, 0.55)]):
        svg = curve(points, 100)
        ticks = [int(t) for t in re.findall(r">(\d+)%<", svg)]
        assert ticks == sorted(ticks) and 0 <= ticks[0] and ticks[-1] <= 100
        assert ticks[0] <= 100 * min(y for _, y in points) and 100 * max(y for _, y in points) <= ticks[-1]
        ys = [float(y) for y in re.findall(r'cy="([\d.]+)"', svg)]
        assert len(ys) == len(points) and all(10 <= y <= 130 for y in ys)  # inside the plot area
    assert "no held-out set" in curve([], 0) and "first model" in curve([], 10)


def test_stop_progress_agrees_with_stop_reason():
    stop = StopConfig(max_labels=10, max_kwh=0.002, stable_share=0.05, stable_rounds=3)
    for labels, kwh, changed in ((4, 0.0, []), (10, 0.0, []), (3, 0.003, []), (3, 0.0, [0.2, 0.01, 0.02, 0.03]),
                                 (3, 0.0, [0.01, 0.02, 0.3])):
        rows = {row["name"]: row for row in stop_progress(stop, labels, kwh, changed)}
        met = {"label budget": "label_budget", "energy budget": "energy_budget", "stable predictions": "stable_predictions"}
        reason = stop_reason(stop, labels, kwh, changed)
        assert (reason is None) == (not any(row["met"] for row in rows.values()))
        if reason is not None:
            assert rows[next(name for name, code in met.items() if code == reason)]["met"]
    rows = stop_progress(stop, 4, 0.001, [0.2, 0.01])
    assert [row["share"] for row in rows] == [0.4, 0.5, pytest.approx(1 / 3)]
    assert rows[2]["detail"] == "under 5.0% changed for 1 of 3 rounds; last round 1.0%"
    assert all(row["share"] is None for row in stop_progress(StopConfig(), 4, 0.001, []))
