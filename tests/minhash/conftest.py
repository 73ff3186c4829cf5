"""Fixtures of the MinHash tests: a planted near-duplicates corpus with exactly known Jaccard."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from curate.minhash.shingle import shingles


def jaccard(a: str, b: str, ngram: int = 5) -> float:
    """Exact Jaccard similarity of two texts' word shingle sets."""
    x, y = set(shingles(a, ngram)), set(shingles(b, ngram))
    return len(x & y) / len(x | y)


def planted_corpus(n_unique: int, n_pairs: int, seed: int = 0, ngram: int = 5) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Random documents plus ``n_pairs`` edited copies at Jaccard levels spread over 0.5..1.0.

    Returns the corpus (``id``, ``text``, in shuffled order) and the truth: one row per pair
    with ``original``, ``copy`` and their exact ``jaccard``.
    """
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(50_000)])
    lengths = rng.integers(50, 200, n_unique)
    docs = [vocab[rng.integers(0, len(vocab), k)] for k in lengths]
    texts = [" ".join(d) for d in docs]
    ids = [f"u{i}" for i in range(n_unique)]
    truth = []
    levels = np.array([0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0])
    for p in range(n_pairs):
        source = int(rng.integers(n_unique))
        words = docs[source].copy()
        target = levels[p % len(levels)]
        shingle_count = len(words) - ngram + 1
        edits = int(round(shingle_count * (1 - target) / (ngram * (1 + target))))
        positions = rng.choice(len(words), size=edits, replace=False)
        words[positions] = [f"new{p}_{k}" for k in range(edits)]
        text = " ".join(words)
        texts.append(text)
        ids.append(f"c{p}")
        truth.append({"original": ids[source], "copy": f"c{p}", "jaccard": jaccard(texts[source], text, ngram)})
    order = rng.permutation(len(texts))
    frame = pl.DataFrame({"id": [ids[i] for i in order], "text": [texts[i] for i in order]})
    return frame, pl.DataFrame(truth)


@pytest.fixture(scope="session")
def planted() -> tuple[pl.DataFrame, pl.DataFrame]:
    """3,000 random documents plus 1,200 edited copies (see :func:`planted_corpus`)."""
    return planted_corpus(n_unique=3000, n_pairs=1200, seed=1)


@pytest.fixture
def exact_jaccard():
    """Exact Jaccard of two texts' word 5-gram sets."""
    return jaccard
