"""LSH banding: datasketch's choice of bands/rows, band hashes, and candidate edges by group-by."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np
import polars as pl
from numba import njit

from curate.errors import require

DOC, BAND, BAND_HASH = "doc", "band", "band_hash"


@lru_cache(maxsize=256)
def optimal_bands(threshold: float, num_perm: int, weights: tuple[float, float] = (0.5, 0.5)) -> tuple[int, int]:
    """Bands and rows minimising the weighted false positive/negative probability.

    The same grid search and objective as ``datasketch.lsh._optimal_param``, so
    ``MinHashLSH(threshold, num_perm, weights)`` picks the same ``(b, r)``. The integrands are
    polynomials of degree ``b * r <= num_perm``, which Gauss-Legendre quadrature with
    ``num_perm // 2 + 1`` nodes integrates exactly, for every ``(b, r)`` at once (no scipy).
    A zero weight leaves only one error term, which many layouts drive below
    ``scipy.integrate.quad``'s tolerance; datasketch's pick among those is quad's rounding, so
    that case integrates with quad, as datasketch does.
    """
    if min(weights) == 0:
        return _optimal_bands_quad(threshold, num_perm, weights)
    from numpy.polynomial.legendre import leggauss

    pairs = np.array([(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)])
    b, r = pairs[:, :1].astype(np.float64), pairs[:, 1:].astype(np.float64)
    nodes, node_weights = leggauss(num_perm // 2 + 1)
    below = threshold / 2 * (nodes + 1)  # nodes on [0, threshold]
    above = threshold + (1 - threshold) / 2 * (nodes + 1)  # nodes on [threshold, 1]
    false_positive = (1 - (1 - below ** r) ** b) @ (node_weights * threshold / 2)
    false_negative = ((1 - above ** r) ** b) @ (node_weights * (1 - threshold) / 2)
    best = int(np.argmin(false_positive * weights[0] + false_negative * weights[1]))  # the first minimum, as datasketch
    return int(pairs[best, 0]), int(pairs[best, 1])


def _optimal_bands_quad(threshold: float, num_perm: int, weights: tuple[float, float]) -> tuple[int, int]:
    """:func:`optimal_bands` with datasketch's own integration (``scipy.integrate.quad``)."""
    integrate = require("scipy.integrate", "minhash", "scipy").quad
    fp_weight, fn_weight = weights
    best, best_error = (0, 0), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = integrate(lambda s, b=b, r=r: 1 - (1 - s ** float(r)) ** float(b), 0.0, threshold)[0]
            fn = integrate(lambda s, b=b, r=r: 1 - (1 - (1 - s ** float(r)) ** float(b)), threshold, 1.0)[0]
            error = fp * fp_weight + fn * fn_weight
            if error < best_error:
                best, best_error = (b, r), error
    return best


@njit(cache=True)
def _band_hash_kernel(signatures, bands, rows, out):
    mult = np.uint64(0x9E3779B97F4A7C15)
    for d in range(signatures.shape[0]):
        for j in range(bands):
            h = np.uint64(j + 1) * np.uint64(0xC2B2AE3D27D4EB4F)
            for k in range(j * rows, (j + 1) * rows):
                h = (h ^ np.uint64(signatures[d, k])) * mult
                h ^= h >> np.uint64(29)
            h ^= h >> np.uint64(33)
            h *= np.uint64(0xFF51AFD7ED558CCD)
            h ^= h >> np.uint64(33)
            h *= np.uint64(0xC4CEB9FE1A85EC53)
            h ^= h >> np.uint64(33)
            out[d, j] = h
    return out


def band_hashes(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """A 64-bit hash of each of the ``bands`` bands of ``rows`` values: ``(n, bands)`` uint64.

    The hash is this module's own (stable across versions), computed from the signatures.
    """
    out = np.empty((signatures.shape[0], bands), dtype=np.uint64)
    return _band_hash_kernel(signatures, bands, rows, out)


def band_frames(signatures: np.ndarray, bands: int, rows: int, offset: int = 0) -> Iterator[pl.DataFrame]:
    """One ``(doc, band, band_hash)`` frame per band; ``doc`` is the row number plus ``offset``."""
    hashes = band_hashes(signatures, bands, rows)
    docs = np.arange(offset, offset + signatures.shape[0], dtype=np.int64)
    for j in range(bands):
        yield pl.DataFrame({DOC: docs, BAND: pl.repeat(j, len(docs), dtype=pl.Int32, eager=True),
                            BAND_HASH: hashes[:, j]})


def band_edges(frame: pl.DataFrame) -> pl.DataFrame:
    """Candidate edges from identical ``(band, band_hash)`` keys: each doc to its bucket's first doc.

    A bucket of ``k`` docs gives ``k - 1`` edges (a star on the smallest ``doc``), so one text
    repeated 10,000 times costs 9,999 edges, not 50 million pairs. Returns columns
    ``left`` (a doc) and ``right`` (its bucket's first doc), ``left > right``.
    """
    return (frame.lazy()
            .with_columns(right=pl.col(DOC).min().over(BAND, BAND_HASH))
            .filter(pl.col(DOC) != pl.col("right"))
            .select(left=pl.col(DOC), right=pl.col("right"))
            .collect())


def bucket_edges(hashes: np.ndarray) -> pl.DataFrame:
    """Distinct candidate edges (``left``, ``right`` row numbers, sorted) from an ``(n, bands)`` matrix of
    band hashes, as :func:`band_edges` gives them (each row to its bucket's first row), one band at a
    time by sorting: memory beyond the hashes is a few arrays of one band."""
    lefts, rights = [], []
    for band in range(hashes.shape[1]):
        order = np.argsort(hashes[:, band], kind="stable")
        ordered = hashes[order, band]
        starts = np.empty(len(order), dtype=bool)
        starts[:1] = True
        np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
        first = order[starts][np.cumsum(starts) - 1]
        lefts.append(order[~starts])
        rights.append(first[~starts])
    edges = pl.DataFrame({"left": np.concatenate(lefts or [np.zeros(0, np.int64)]),
                          "right": np.concatenate(rights or [np.zeros(0, np.int64)])},
                         schema={"left": pl.Int64, "right": pl.Int64})
    return edges.unique().sort("left", "right")


def candidate_edges(signatures: np.ndarray, bands: int, rows: int) -> pl.DataFrame:
    """Distinct candidate edges over all bands (``left``, ``right`` row numbers, sorted)."""
    if bands * rows > signatures.shape[1]:
        raise ValueError(f"bands * rows = {bands * rows} exceeds num_perm = {signatures.shape[1]}")
    return bucket_edges(band_hashes(signatures, bands, rows))
