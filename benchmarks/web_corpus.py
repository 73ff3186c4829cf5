"""A seeded web-like corpus for the quality benchmark, built from AG News sentences.

Most documents are clean multi-line articles; the rest carry the defects the Gopher and C4
rules target (too short, bullet lists, ellipsis endings, repeated lines and n-grams, cookie
and javascript boilerplate, lorem ipsum, code with curly braces, hashtag spam, number tables).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl

BOILERPLATE = ["This site uses cookies to improve your experience.", "Please enable JavaScript to view the comments.",
               "Read our privacy policy and terms of use.", "Home | News | Sports | Contact", "Share this article",
               "Copyright 2024 All rights reserved", "Click here to subscribe to our newsletter"]
LOREM = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore."


def sentences(shared: Path) -> list[str]:
    """Sentences from the AG News texts in ../shared/data/noisy_ag_news."""
    texts = pl.concat([pl.read_csv(shared / "noisy_ag_news" / name)["text"]
                       for name in ("samples10000valMed.csv", "samplesTest.csv")])
    out = []
    for text in texts.to_list():
        out.extend(s.strip() for s in re.split(r"(?<=[.!?])\s+", text.replace("\\", " ")) if len(s.split()) >= 4)
    return out


def _article(rng: np.random.Generator, pool: list[str], lines: int) -> list[str]:
    out = []
    for _ in range(lines):
        k = int(rng.integers(1, 4))
        out.append(" ".join(pool[i] for i in rng.integers(0, len(pool), k)))
    return out


def document(rng: np.random.Generator, pool: list[str]) -> str:
    """One document; about 60% clean, the rest with one kind of defect."""
    kind = rng.random()
    body = _article(rng, pool, int(rng.integers(3, 25)))
    if kind < 0.60:
        if rng.random() < 0.5:
            body.insert(int(rng.integers(0, len(body))), BOILERPLATE[int(rng.integers(0, len(BOILERPLATE)))])
        return ("\n\n" if rng.random() < 0.3 else "\n").join(body)
    if kind < 0.67:
        return " ".join(body[: int(rng.integers(1, 3))])[: int(rng.integers(20, 300))]
    if kind < 0.71:
        return "\n".join("- " + line.split(".")[0] for line in body)
    if kind < 0.74:
        return "\n".join(line.rsplit(" ", 3)[0] + "..." for line in body)
    if kind < 0.79:
        repeated = body[: max(1, len(body) // 3)]
        return "\n".join(body + repeated * int(rng.integers(1, 4)))
    if kind < 0.83:
        phrase = pool[int(rng.integers(0, len(pool)))]
        return "\n".join(body[:3] + [phrase] * int(rng.integers(3, 10)))
    if kind < 0.87:
        return "\n".join(body + [BOILERPLATE[int(i)] for i in rng.integers(0, len(BOILERPLATE), 12)])
    if kind < 0.89:
        body.insert(int(rng.integers(0, len(body))), LOREM)
        return "\n".join(body)
    if kind < 0.92:
        body.insert(int(rng.integers(0, len(body))), "function show() { return document.getElementById('x'); }.")
        return "\n".join(body)
    if kind < 0.95:
        tags = " ".join("#" + w for w in pool[int(rng.integers(0, len(pool)))].split())
        return "\n".join(line + " " + tags for line in body)
    if kind < 0.98:
        rows = [" ".join(str(int(x)) for x in rng.integers(0, 10_000, 8)) for _ in range(int(rng.integers(5, 30)))]
        return "\n".join(body[:2] + rows)
    return "\n".join(line for line in body for _ in range(2))


def build(shared: Path, n: int, seed: int = 0) -> pl.DataFrame:
    """``n`` documents with ids ``doc-<i>``."""
    rng = np.random.default_rng(seed)
    pool = sentences(shared)
    return pl.DataFrame({"id": [f"doc-{i}" for i in range(n)], "text": [document(rng, pool) for _ in range(n)]})
