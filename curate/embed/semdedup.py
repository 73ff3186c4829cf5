"""SemDeDup's within-cluster step (Abbas et al., 2023), blockwise so memory stays bounded.

Rows of one cluster arrive in keep-priority order (row 0 is kept first). A row is a
duplicate when its cosine similarity to any earlier row is at least ``1 - eps``; since the
nearest earlier row does not depend on ``eps``, one pass serves any threshold (audits can
sweep it, and ``eps: auto`` can be derived from the similarities afterwards). A duplicate's
parent is that nearest row (the one that caused its removal); :func:`keepers` follows the
chain of parents to the kept row.
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


def threshold_of(eps: float) -> np.float32:
    """The cosine a duplicate must reach, ``1 - eps``, in the float32 the similarities are compared in."""
    return np.float32(1.0 - eps)


def duplicate_parents(nearest: np.ndarray, similarity: np.ndarray, eps: float) -> np.ndarray:
    """Each row's duplicate parent: its nearest higher-priority row when their cosine is at least
    ``1 - eps`` (inclusive), else -1."""
    return np.where(similarity >= threshold_of(eps), nearest, -1)


def auto_eps(similarity: np.ndarray, ratio: float, eps_max: float) -> tuple[float, str]:
    """eps for this embedder and corpus: ``ratio`` times the median cosine distance of a row to its
    nearest higher-priority neighbour, at most ``eps_max``.

    Duplicates sit far closer to their neighbour than the bulk of rows sit to theirs, and how
    close the bulk is depends on the embedder and the texts (mean-pooled vectors of long texts
    crowd together), so the threshold is a fixed fraction of the corpus's own typical
    nearest-neighbour distance. The median ignores the duplicates themselves as long as fewer
    than half the rows are duplicates.

    Returns
    -------
    (float, str)
        eps (rounded to 4 decimals, at least 0.0001) and the reason, for the stage stats.
    """
    distance = 1.0 - similarity[np.isfinite(similarity)].astype(np.float64)
    if len(distance) == 0:
        return eps_max, f"auto: no row has a neighbour to compare with, eps_max {eps_max:g}"
    median = float(np.median(distance))
    eps = max(round(min(ratio * median, eps_max), 4), 0.0001)
    capped = " (capped at eps_max)" if ratio * median > eps_max else ""
    return eps, (f"auto: {ratio:g} x median nearest-neighbour cosine distance {median:.4f} "
                 f"over {len(distance):,} rows = {eps:g}{capped}")


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
