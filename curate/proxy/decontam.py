"""Test-set decontamination: test rows that duplicate a training row are dropped from the test set.

Exact duplicates share the xxh3 hash of their normalised text (``curate.normalize``, as
exact_dedup uses). Near duplicates have a Jaccard similarity of word 3-gram shingle sets at
or above a threshold, computed exactly (not MinHash-estimated) with sparse matrix products.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import polars_hash as plh

from curate.errors import require
from curate.normalize import NormalizeConfig, normalize
from curate.scripts import UNSPACED_RE

_CHUNK = 1024


def text_hashes(texts: pl.Series) -> pl.Series:
    """xxh3-64 of each normalised text (NFKC, lowercase, collapsed whitespace)."""
    normalized = normalize(texts.fill_null(""), NormalizeConfig())
    return normalized.to_frame("t").select(plh.col("t").nchash.xxh3_64()).to_series()


def _shingles(texts: list[str]):
    text = require("sklearn.feature_extraction.text", "proxy", "scikit-learn")
    # scikit-learn's default tokens (two or more word characters), plus each character of a
    # script written without spaces (Chinese, Japanese, ...) as a word of its own
    vectorizer = text.HashingVectorizer(ngram_range=(3, 3), n_features=2**22, binary=True, norm=None,
                                        alternate_sign=False, dtype=np.float32,
                                        token_pattern=rf"(?u){UNSPACED_RE.pattern}|\b[^\W{UNSPACED_RE.pattern[1:-1]}]{{2,}}\b")
    return vectorizer.transform(texts).tocsr()  # binary: each shingle counts once


def contamination(train: pl.Series, test: pl.Series, near_threshold: float) -> pl.DataFrame:
    """For each test text: ``reason`` (null, ``exact_duplicate`` or ``near_duplicate``),
    ``similarity`` (best Jaccard) and ``match`` (position of the training row it duplicates)."""
    train_hash, test_hash = text_hashes(train), text_hashes(test)
    first = pl.DataFrame({"h": train_hash, "pos": np.arange(len(train), dtype=np.int64)}).group_by("h").agg(
        pl.col("pos").min())
    exact = pl.DataFrame({"h": test_hash}).join(first, on="h", how="left", maintain_order="left")["pos"].to_numpy()
    exact_hit = ~np.isnan(exact.astype(np.float64))
    best = np.zeros(len(test), dtype=np.float64)
    match = np.full(len(test), -1, dtype=np.int64)
    if len(train) and len(test):
        normal = NormalizeConfig()
        a = _shingles(normalize(train.fill_null(""), normal).to_list())
        b = _shingles(normalize(test.fill_null(""), normal).to_list())
        size_a = np.asarray(a.sum(axis=1)).ravel()
        size_b = np.asarray(b.sum(axis=1)).ravel()
        a_t = a.T.tocsc()
        for start in range(0, b.shape[0], _CHUNK):
            inter = (b[start:start + _CHUNK] @ a_t).tocsr()
            rows = np.repeat(np.arange(inter.shape[0]), np.diff(inter.indptr))
            inter.data = inter.data / (size_b[start + rows] + size_a[inter.indices] - inter.data)
            if inter.nnz:
                best[start:start + inter.shape[0]] = inter.max(axis=1).toarray().ravel()
                match[start:start + inter.shape[0]] = np.asarray(inter.argmax(axis=1)).ravel()
    near_hit = ~exact_hit & (best >= near_threshold)
    reason = np.where(exact_hit, "exact_duplicate", np.where(near_hit, "near_duplicate", None))
    match = np.where(exact_hit, np.nan_to_num(exact.astype(np.float64), nan=-1).astype(np.int64),
                     np.where(near_hit, match, -1))
    return pl.DataFrame({"reason": pl.Series(reason.tolist(), dtype=pl.String),
                         "similarity": np.where(exact_hit, 1.0, best),
                         "match": pl.Series(match).replace(-1, None)})
