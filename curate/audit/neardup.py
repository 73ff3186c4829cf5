"""A fast MinHash + LSH estimate of a text column's near-duplicate rate (for profiling, not removal),
from :mod:`curate.minhash`, the kernels the ``minhash_dedup`` stage runs."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from curate.errors import require


def candidate_pairs(texts: pl.Series, num_perm: int = 64, bands: int = 16, k: int = 3,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LSH candidate pairs ``(rows, representatives, estimated Jaccard)`` of a text column.

    The signatures, bands and similarities are :mod:`curate.minhash`'s (those of ``minhash_dedup``):
    word ``k``-gram shingles of the normalised text (NFKC, lower case, collapsed whitespace; each
    character of a script written without spaces is a word). Rows whose signatures agree on a band
    are paired with that band bucket's first row; the pairs do not depend on a similarity
    threshold, so one computation serves a whole sweep.
    """
    minhash = require("curate.minhash", "minhash", "numba")
    signatures = minhash.minhash_signatures(texts, minhash.SignatureSpec(num_perm=num_perm, seed=seed, ngram=k))
    edges = minhash.candidate_edges(signatures, bands, num_perm // bands)
    left, right = edges["left"].to_numpy(), edges["right"].to_numpy()
    return left, right, minhash.pair_similarity(signatures, left, right)


def removable_share(n: int, src: np.ndarray, dst: np.ndarray, jaccard: np.ndarray, threshold: float) -> tuple[float, int]:
    """``(rows - connected groups) / rows`` over pairs with estimated Jaccard at or above ``threshold``,
    and the number of groups of two or more rows."""
    minhash = require("curate.minhash", "minhash", "numba")
    keep = jaccard >= threshold
    labels = minhash.connected_components(n, src[keep], dst[keep])
    groups = np.bincount(labels) if n else np.zeros(0, dtype=np.int64)
    return round(float((n - len(groups)) / n), 6), int((groups > 1).sum())


def near_duplicate_rate(texts: pl.Series, threshold: float = 0.8, num_perm: int = 64, bands: int = 16,
                        k: int = 3, max_rows: int = 200_000, seed: int = 0) -> dict[str, Any]:
    """Estimate the share of rows a near-duplicate filter would remove.

    Candidate pairs come from MinHash LSH (:func:`candidate_pairs`); a pair counts when its
    estimated Jaccard similarity (on word ``k``-grams) is at least ``threshold``. The rate is
    ``(rows - connected groups) / rows``, exact duplicates included. Above ``max_rows`` a seeded
    random sample is used, which misses pairs split by the sample.

    Returns
    -------
    dict
        ``rate``, ``rows`` (rows looked at), ``sampled`` (bool), ``groups`` (groups of 2+),
        ``threshold``, ``num_perm``, ``bands``, and ``pairs``: the cached candidate pairs a
        threshold sweep reuses (not JSON; dropped by :func:`public`).
    """
    sampled = len(texts) > max_rows
    if sampled:
        texts = texts.sample(max_rows, seed=seed)
    n = len(texts)
    info = {"rows": n, "sampled": sampled, "threshold": threshold, "num_perm": num_perm, "bands": bands}
    if n < 2:
        return {**info, "rate": 0.0, "groups": 0, "pairs": None}
    pairs = candidate_pairs(texts, num_perm, bands, k, seed)
    rate, groups = removable_share(n, *pairs, threshold)
    return {**info, "rate": rate, "groups": groups, "pairs": pairs}


def public(result: dict[str, Any]) -> dict[str, Any]:
    """The JSON-ready part of a :func:`near_duplicate_rate` result."""
    return {k: v for k, v in result.items() if k != "pairs"}
