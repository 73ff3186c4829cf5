"""Verification of candidate edges by estimated Jaccard, and connected components."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numba import njit

from curate.errors import require
from curate.minhash.banding import candidate_edges


@njit(cache=True)
def _similarity_kernel(signatures, left, right, out):
    width = signatures.shape[1]
    for e in range(left.shape[0]):
        same = 0
        for k in range(width):
            same += signatures[left[e], k] == signatures[right[e], k]
        out[e] = same / width
    return out


def pair_similarity(signatures: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Estimated Jaccard of row pairs: the share of equal signature values (``MinHash.jaccard``)."""
    left = np.ascontiguousarray(left, dtype=np.int64)
    right = np.ascontiguousarray(right, dtype=np.int64)
    return _similarity_kernel(signatures, left, right, np.empty(len(left), dtype=np.float64))


def connected_components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Component label (int64, numbered by first row) of each of ``n`` rows joined by the edges."""
    sparse = require("scipy.sparse", "minhash", "scipy")
    csgraph = require("scipy.sparse.csgraph", "minhash", "scipy")
    graph = sparse.coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n)).tocsr()
    _, labels = csgraph.connected_components(graph, directed=False)
    return labels.astype(np.int64)


@dataclass(frozen=True)
class Clustering:
    """Outcome of banding, verification and components over a set of signatures.

    Attributes
    ----------
    candidates : int
        Distinct candidate edges from the bands.
    edges : polars.DataFrame
        The edges kept (``left``, ``right``, ``similarity``).
    labels : numpy.ndarray
        Component label of every row.
    """

    candidates: int
    edges: pl.DataFrame
    labels: np.ndarray

    @property
    def sizes(self) -> np.ndarray:
        """Size of each component, indexed by label."""
        return np.bincount(self.labels) if len(self.labels) else np.zeros(0, dtype=np.int64)

    @property
    def clusters(self) -> int:
        """Components with at least two rows."""
        return int((self.sizes >= 2).sum())

    @property
    def rows_removed(self) -> int:
        """Rows beyond one per component."""
        return int(len(self.labels) - len(self.sizes))


def cluster_signatures(signatures: np.ndarray, bands: int, rows: int, threshold: float, verify: bool) -> Clustering:
    """Band, verify (estimated Jaccard >= ``threshold``, when ``verify``) and join into components."""
    return cluster_candidates(signatures, candidate_edges(signatures, bands, rows), threshold, verify)


def cluster_candidates(signatures: np.ndarray, candidates: pl.DataFrame, threshold: float, verify: bool) -> Clustering:
    """Verify distinct candidate edges (``left``, ``right`` rows of ``signatures``) by estimated Jaccard
    (when ``verify``) and join the rows into components."""
    similarity = pair_similarity(signatures, candidates["left"].to_numpy(), candidates["right"].to_numpy())
    return cluster_edges(len(signatures), candidates, similarity, threshold, verify)


def cluster_edges(n: int, candidates: pl.DataFrame, similarity: np.ndarray, threshold: float, verify: bool) -> Clustering:
    """Join ``n`` rows into components over the candidate edges whose ``similarity`` reaches
    ``threshold`` (over every candidate edge when not ``verify``)."""
    edges = candidates.with_columns(similarity=similarity)
    if verify:
        edges = edges.filter(pl.col("similarity") >= threshold)
    labels = connected_components(n, edges["left"].to_numpy(), edges["right"].to_numpy())
    return Clustering(candidates=len(candidates), edges=edges, labels=labels)
