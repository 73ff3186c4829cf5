"""Test-set decontamination: test rows that duplicate a training row are dropped from the test set.

Exact duplicates share the xxh3 hash of their normalised text (:func:`curate.normalize.text_hashes`,
what exact_dedup groups by). Near duplicates have a Jaccard similarity of their sets of word 3-gram
shingles (:func:`curate.minhash.shingles` of the text normalised as minhash_dedup does) at or above a
threshold, computed exactly (not MinHash-estimated) with sparse matrix products.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from curate.errors import require
from curate.normalize import NormalizeConfig, text_hashes

_CHUNK = 1024
NGRAM = 3


def shingle_sets(texts: pl.Series):
    """A binary sparse matrix: row ``i`` marks the word 3-gram shingles of text ``i`` (hashed to 2**22 columns)."""
    feature_text = require("sklearn.feature_extraction.text", "proxy", "scikit-learn")
    minhash = require("curate.minhash", "proxy", "numba")  # decontamination shingles as minhash_dedup does
    from curate.minhash.signature import normalized

    vectorizer = feature_text.HashingVectorizer(
        analyzer=lambda text: [shingle.decode("utf-8") for shingle in minhash.shingles(text, NGRAM)],
        n_features=2**22, binary=True, norm=None, alternate_sign=False, dtype=np.float32)
    return vectorizer.transform(normalized(texts, NormalizeConfig(), "word").to_list()).tocsr()


def contamination(train: pl.Series, test: pl.Series, near_threshold: float) -> pl.DataFrame:
    """For each test text: ``reason`` (null, ``exact_duplicate`` or ``near_duplicate``),
    ``similarity`` (best Jaccard) and ``match`` (position of the training row it duplicates)."""
    normal = NormalizeConfig()
    train_hash, test_hash = text_hashes(train, normal), text_hashes(test, normal)
    first = pl.DataFrame({"h": train_hash, "pos": np.arange(len(train), dtype=np.int64)}).group_by("h").agg(
        pl.col("pos").min())
    exact = pl.DataFrame({"h": test_hash}).join(first, on="h", how="left", maintain_order="left")["pos"].to_numpy()
    exact_hit = ~np.isnan(exact.astype(np.float64))
    best = np.zeros(len(test), dtype=np.float64)
    match = np.full(len(test), -1, dtype=np.int64)
    if len(train) and len(test):
        a, b = shingle_sets(train), shingle_sets(test)
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
