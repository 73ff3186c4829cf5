"""A fast MinHash + LSH estimate of a text column's near-duplicate rate (for profiling, not removal)."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from curate.errors import require

_MASK32 = np.uint64(0xFFFFFFFF)


def shingle_hashes(texts: pl.Series, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of each text's lower-cased word ``k``-grams, and each row's first index into them.

    A text with fewer than ``k`` words is one shingle of all its words, so every row has at least one.
    """
    words = texts.fill_null("").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars().str.split(" ")
    frame = pl.DataFrame({"w": words}).with_row_index("row").explode("w").with_columns(
        pos=pl.int_range(pl.len()).over("row"), n=pl.len().over("row"))
    shingles = frame.with_columns(
        sh=pl.concat_str([pl.col("w").shift(-i).over("row") for i in range(k)], separator=" ", ignore_nulls=True)
    ).filter(pl.col("pos") <= pl.max_horizontal(pl.col("n") - k, pl.lit(0)))
    hashes = shingles["sh"].hash(seed=seed).to_numpy()
    starts = np.flatnonzero(np.diff(shingles["row"].to_numpy(), prepend=-1))
    return hashes, starts


def signatures(hashes: np.ndarray, starts: np.ndarray, num_perm: int = 64, seed: int = 0) -> np.ndarray:
    """MinHash signatures ``[rows, num_perm]`` (uint32) from multiply-shift hash permutations."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 2**63, num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, num_perm, dtype=np.uint64)
    out = np.empty((len(starts), num_perm), dtype=np.uint32)
    for p in range(num_perm):
        permuted = ((hashes * a[p] + b[p]) >> np.uint64(32)) & _MASK32
        out[:, p] = np.minimum.reduceat(permuted, starts)
    return out


def candidate_pairs(texts: pl.Series, num_perm: int = 64, bands: int = 16, k: int = 3,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LSH candidate pairs ``(rows, representatives, estimated Jaccard)`` of a text column.

    Rows whose MinHash signatures agree on a band are paired with that band bucket's first row;
    the pairs do not depend on a similarity threshold, so one computation serves a whole sweep.
    """
    n = len(texts)
    sig = signatures(*shingle_hashes(texts, k, seed), num_perm=num_perm, seed=seed)
    rows = num_perm // bands
    weights = np.random.default_rng(seed + 1).integers(1, 2**63, rows, dtype=np.uint64) | np.uint64(1)
    sources, targets = [], []
    for band in range(bands):
        keys = (sig[:, band * rows:(band + 1) * rows].astype(np.uint64) * weights).sum(axis=1)
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        rep = first[inverse]
        candidates = np.flatnonzero(rep != np.arange(n))
        sources.append(candidates)
        targets.append(rep[candidates])
    src, dst = np.concatenate(sources), np.concatenate(targets)
    pairs = np.unique(np.stack([src, dst], axis=1), axis=0) if len(src) else np.zeros((0, 2), dtype=np.int64)
    jaccard = (sig[pairs[:, 0]] == sig[pairs[:, 1]]).mean(axis=1)
    return pairs[:, 0], pairs[:, 1], jaccard


def removable_share(n: int, src: np.ndarray, dst: np.ndarray, jaccard: np.ndarray, threshold: float) -> tuple[float, int]:
    """``(rows - connected groups) / rows`` over pairs with estimated Jaccard at or above ``threshold``,
    and the number of groups of two or more rows."""
    sparse = require("scipy.sparse", "minhash", "scipy")
    csgraph = require("scipy.sparse.csgraph", "minhash", "scipy")
    keep = jaccard >= threshold
    graph = sparse.coo_matrix((np.ones(int(keep.sum()), dtype=np.int8), (src[keep], dst[keep])), shape=(n, n))
    count, labels = csgraph.connected_components(graph, directed=False)
    return round(float((n - count) / n), 6), int((np.bincount(labels) > 1).sum())


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
