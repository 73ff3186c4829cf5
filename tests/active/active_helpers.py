"""Synthetic labelled texts that TF-IDF + logistic regression can learn (fast, no torch)."""

from __future__ import annotations

import threading

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


class GatedLogisticRegression:
    """Logistic regression whose ``fit`` waits for ``GATE`` (to catch what happens while a model fits).

    ``FITTING`` is set while a fit waits; a fit gives up after 60 s so a broken test cannot hang.
    """

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def get_params(self, deep: bool = True) -> dict:
        return {"C": self.C}

    def set_params(self, **params) -> GatedLogisticRegression:
        self.C = params.get("C", self.C)
        return self

    def fit(self, X, y) -> GatedLogisticRegression:
        from sklearn.linear_model import LogisticRegression

        FITTING.set()
        GATE.wait(60)
        self.model_ = LogisticRegression(C=self.C, max_iter=1000).fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


class FailingLogisticRegression(GatedLogisticRegression):
    """A model whose fit always fails (a fault to show on the page)."""

    def fit(self, X, y):
        raise FloatingPointError("the solver diverged")


GATE = threading.Event()
FITTING = threading.Event()
