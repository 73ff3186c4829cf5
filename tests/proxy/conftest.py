"""Synthetic labelled data for proxy tests: class-specific words, and class-clustered vectors."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

WORDS = {
    "sport": "match goal team score league coach player season win cup".split(),
    "tech": "software chip phone internet computer data code startup cloud robot".split(),
    "money": "market stock bank price profit shares trade economy rates oil".split(),
}
FILLER = "the a of today new report says after big first".split()


def make_frame(n: int, seed: int = 0, prefix: str = "r") -> pl.DataFrame:
    """``n`` rows: text of 8 class words and 4 fillers (10% of words from another class), a
    ``label`` and an 8-d ``vec`` column clustered by label."""
    rng = np.random.default_rng(seed)
    labels = np.array(list(WORDS))[rng.integers(0, 3, n)]
    texts, vectors = [], []
    centers = {label: rng.normal(size=8) * 1.5 for label in WORDS}
    for label in labels:
        own = rng.choice(WORDS[label], 8)
        other = rng.choice(WORDS[rng.choice([k for k in WORDS if k != label])], 1)
        words = list(own) + list(other) + list(rng.choice(FILLER, 4))
        rng.shuffle(words)
        texts.append(" ".join(words) + f" {rng.integers(1_000_000)}")
        vectors.append(centers[label] + rng.normal(size=8))
    return pl.DataFrame({"id": [f"{prefix}{i}" for i in range(n)], "text": texts, "label": labels,
                         "vec": np.asarray(vectors, dtype=np.float32)})


@pytest.fixture
def labelled() -> pl.DataFrame:
    """300 labelled rows."""
    return make_frame(300)
