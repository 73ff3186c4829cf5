"""The n-gram kernel against a plain-Python transcription of Gopher's repetition definitions."""

from __future__ import annotations

from collections import Counter

import numpy as np
import polars as pl
import pytest

from curate.quality.ngrams import ngram_scores


def top_fraction(words: list[str], n: int, total: int) -> float:
    grams = [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0.0
    gram, count = Counter(grams).most_common(1)[0]
    return len(gram) * count / total


def dup_fraction(words: list[str], n: int, total: int) -> float:
    seen, repeated, idx = set(), 0, 0
    while idx < len(words) - n + 1:
        gram = "".join(words[idx:idx + n])
        if gram in seen:
            repeated += len(gram)
            idx += n
        else:
            seen.add(gram)
            idx += 1
    return repeated / total


@pytest.mark.parametrize("seed", range(5))
def test_matches_reference_on_random_documents(seed):
    rng = np.random.default_rng(seed)
    vocab = ["a", "bb", "ccc", "dddd", "the", "of", "x" * 7]
    docs = [[str(w) for w in rng.choice(vocab[: int(rng.integers(2, 8))], int(rng.integers(0, 80)))] for _ in range(40)]
    texts = [" ".join(d) for d in docs]
    flat = pl.Series([w for d in docs for w in d], dtype=pl.String)
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in docs])])
    chars = np.array([max(len(t), 1) for t in texts])
    top, dup = ngram_scores(offsets, flat.hash(seed=0).to_numpy(), flat.str.len_chars().to_numpy(), chars,
                            [2, 3, 4], [5, 6, 7, 8, 9, 10], False)
    for d, words in enumerate(docs):
        for k, n in enumerate((2, 3, 4)):
            assert top[k, d] == pytest.approx(top_fraction(words, n, chars[d]))
        for k, n in enumerate(range(5, 11)):
            assert dup[k, d] == pytest.approx(dup_fraction(words, n, chars[d]))


def test_repeated_only_ignores_unique_ngrams():
    flat = pl.Series(["one", "two", "three"])
    top, _ = ngram_scores(np.array([0, 3]), flat.hash(seed=0).to_numpy(), flat.str.len_chars().to_numpy(),
                          np.array([13]), [2], [5], True)
    assert top[0, 0] == 0.0
