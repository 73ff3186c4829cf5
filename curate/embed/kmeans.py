"""Spherical k-means in embedding space (faiss): choose k, fit centroids, assign rows.

Fit and assign are separate so a distributed engine can fit on a sample on the driver and
assign in parallel batches.
"""

from __future__ import annotations

import math

import numpy as np

from curate.errors import require


def choose_k(n: int, cluster_size: int) -> int:
    """Clusters for ``n`` rows at about ``cluster_size`` rows each (at least 1, at most ``n``)."""
    if n <= 0:
        return 0
    return max(1, min(n, math.ceil(n / cluster_size)))


def fit_kmeans(vectors: np.ndarray, k: int, seed: int, niter: int = 20, max_points_per_centroid: int = 256,
               threads: int | None = None) -> np.ndarray:
    """Unit-norm centroids ``[k, d]`` of spherical k-means on L2-normalised ``vectors``.

    Parameters
    ----------
    vectors : ndarray
        float32 ``[n, d]``, L2-normalised, ``n >= 1``.
    k : int
        Number of clusters, clipped to ``n``.
    seed : int
        Seeds faiss's initialisation and its training subsample.
    niter : int
        Lloyd iterations.
    max_points_per_centroid : int
        faiss trains on at most ``k * max_points_per_centroid`` rows (a seeded sample).
    threads : int, optional
        OpenMP threads for faiss (process-wide); None leaves faiss's default.
    """
    faiss = require("faiss", "embed", "faiss-cpu")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    k = max(1, min(k, n))
    if threads:
        faiss.omp_set_num_threads(threads)
    if k == 1:
        centroid = vectors.mean(axis=0, keepdims=True)
        norm = np.linalg.norm(centroid)
        return centroid / norm if norm > 0 else vectors[:1].copy()
    kmeans = faiss.Kmeans(d, k, niter=niter, seed=seed & 0x7FFFFFFF, spherical=True, verbose=False,
                          min_points_per_centroid=1, max_points_per_centroid=max_points_per_centroid)
    kmeans.train(vectors)
    return np.ascontiguousarray(kmeans.centroids, dtype=np.float32)


def assign_clusters(vectors: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid of each row by cosine.

    Returns
    -------
    cluster : ndarray of int64
        Index of the nearest centroid per row.
    similarity : ndarray of float32
        Cosine similarity of the row to that centroid.
    """
    faiss = require("faiss", "embed", "faiss-cpu")
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexFlatIP(centroids.shape[1])
    index.add(np.ascontiguousarray(centroids, dtype=np.float32))
    similarity, cluster = index.search(vectors, 1)
    return cluster[:, 0].astype(np.int64), similarity[:, 0].astype(np.float32)
