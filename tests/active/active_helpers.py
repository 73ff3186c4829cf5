"""Synthetic labelled texts that TF-IDF + logistic regression can learn (fast, no torch)."""

from __future__ import annotations

import numpy as np
import polars as pl

from curate.active.features import FeatureConfig

TFIDF = FeatureConfig(source="tfidf")


def synthetic_texts(n: int, classes: int = 3, seed: int = 0) -> pl.DataFrame:
    """Texts whose words mostly come from their class's vocabulary, with shared noise words."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    texts = []
    for i, label in enumerate(labels):
        own = [f"c{label}w{k}" for k in rng.integers(0, 12, 4)]
        other = [f"c{(label + rng.integers(1, classes)) % classes}w{k}" for k in rng.integers(0, 12, 2)]
        noise = [f"noise{k}" for k in rng.integers(0, 30, 4)]
        words = own + other + noise
        rng.shuffle(words)
        texts.append(" ".join(words) + f" row{i}")
    return pl.DataFrame({"id": [f"r{i}" for i in range(n)], "text": texts, "label": labels.astype(np.int64),
                         "confidence": rng.random(n)})
