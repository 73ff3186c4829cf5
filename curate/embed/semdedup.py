"""SemDeDup's within-cluster step (Abbas et al., 2023), blockwise so memory stays bounded.

Rows of one cluster arrive in keep-priority order (row 0 is kept first). A row is a
duplicate when its cosine similarity to any earlier row is at least ``1 - eps``; since the
nearest earlier row does not depend on ``eps``, one pass serves any threshold (audits can
sweep it). Each duplicate is then attributed to the kept row its chain leads to.
"""

from __future__ import annotations

import numpy as np


def nearest_earlier(vectors: np.ndarray, block_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the most similar earlier row and that cosine similarity.

    Only ``block_size x block_size`` similarity tiles are ever allocated, whatever the
    number of rows. Ties go to the earliest row.

    Parameters
    ----------
    vectors : ndarray
        float32 ``[m, d]``, L2-normalised, in keep-priority order.
    block_size : int
        Rows per tile side.

    Returns
    -------
    neighbour : ndarray of int64
        Index of the most similar earlier row; -1 for row 0.
    similarity : ndarray of float32
        Its cosine similarity; -inf for row 0.
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    m = len(vectors)
    best = np.full(m, -np.inf, dtype=np.float32)
    neighbour = np.full(m, -1, dtype=np.int64)
    for i0 in range(0, m, block_size):
        i1 = min(i0 + block_size, m)
        rows = vectors[i0:i1]
        for j0 in range(0, i1, block_size):
            j1 = min(j0 + block_size, i1)
            tile = rows @ vectors[j0:j1].T
            if j1 > i0:
                earlier = np.arange(j0, j1)[None, :] < np.arange(i0, i1)[:, None]
                tile = np.where(earlier, tile, -np.inf)
            arg = tile.argmax(axis=1)
            value = tile[np.arange(i1 - i0), arg]
            better = value > best[i0:i1]
            best[i0:i1][better] = value[better]
            neighbour[i0:i1][better] = j0 + arg[better]
    return neighbour, best


def within_cluster_duplicates(vectors: np.ndarray, eps: float,
                              block_size: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SemDeDup inside one cluster: which rows are duplicates of an earlier row.

    Parameters
    ----------
    vectors : ndarray
        float32 ``[m, d]``, L2-normalised, in keep-priority order.
    eps : float
        Rows with cosine similarity ``>= 1 - eps`` to an earlier row are duplicates.
    block_size : int
        Rows per similarity tile side.

    Returns
    -------
    parent : ndarray of int64
        The most similar earlier row of each duplicate; -1 for rows that stay.
    neighbour : ndarray of int64
        The most similar earlier row of every row (-1 for row 0).
    similarity : ndarray of float32
        Cosine similarity to that neighbour (-inf for row 0).
    """
    neighbour, similarity = nearest_earlier(vectors, block_size)
    parent = np.where(similarity >= np.float32(1.0 - eps), neighbour, -1)
    return parent, neighbour, similarity


def keepers(parent: np.ndarray) -> np.ndarray:
    """The kept row each row's duplicate chain ends at (itself when it stays).

    ``parent`` must point from each duplicate to a row earlier in keep priority, so chains
    are acyclic; pointer jumping resolves them in O(log chain length) vectorised passes.
    """
    root = np.where(parent >= 0, parent, np.arange(len(parent)))
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            return root
        root = nxt
