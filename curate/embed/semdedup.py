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


def threshold_of(eps: float | np.ndarray) -> np.ndarray:
    """The cosine a duplicate must reach, ``1 - eps`` (computed in float64), in the float32 the
    similarities are compared in."""
    return (1.0 - np.asarray(eps, dtype=np.float64)).astype(np.float32)


def duplicate_parents(nearest: np.ndarray, similarity: np.ndarray, eps: float | np.ndarray) -> np.ndarray:
    """Each row's duplicate parent: its nearest higher-priority row when their cosine is at least
    ``1 - eps`` (inclusive; ``eps`` one value or one per row), else -1."""
    return np.where(similarity >= threshold_of(eps), nearest, -1)


AUTO_MIN_ROWS = 20  # eps: auto needs at least this many rows with a neighbour to measure the bulk


def auto_eps(similarity: np.ndarray, words: np.ndarray, ratio: float, eps_max: float,
             window: int = 100, min_rows: int = AUTO_MIN_ROWS) -> tuple[np.ndarray, list[dict]]:
    """eps for this embedder and corpus, per row: ``ratio`` times the median cosine distance to
    their nearest higher-priority neighbour of the ``window`` rows closest to it in length, at
    most ``eps_max``.

    Duplicates sit far closer to their neighbour than the bulk of rows sit to theirs, and how
    close the bulk is depends on the embedder and on the texts: mean-pooled vectors of long
    texts crowd together, so a long text's nearest neighbour is much closer than a tweet's.
    Each row's eps is therefore a fixed fraction of the typical nearest-neighbour distance of
    texts of about its length: for each distinct word count, the median over the ``window``
    measured rows closest to it in length (all rows of that length when there are more), so
    texts of one length share one eps. The median ignores the duplicates themselves as long as
    fewer than half of those rows are duplicates.

    Parameters
    ----------
    similarity : ndarray of float32
        Each row's cosine to its nearest higher-priority row (-inf for rows without one).
    words : ndarray of int
        Each row's length in words.
    ratio, eps_max : float
        eps = min(ratio x median distance, eps_max).
    window : int
        Measured rows (with a neighbour) per median.
    min_rows : int
        With fewer rows that have a neighbour, there is no bulk to measure (two near-copies
        would set their own threshold): every row gets ``eps_max``.

    Returns
    -------
    eps : ndarray of float64
        Per row, rounded to 4 decimals, at least 0.0001 (a row without a neighbour, never
        removed, gets the eps of the nearest length that was measured).
    by_length : list of dict
        Per power-of-two word-count band present (1, 2-3, 4-7, ...): ``words``, ``rows`` and the
        smallest and largest eps applied (``eps_min``, ``eps_max``), for the stage stats.
    """
    words = np.asarray(words, dtype=np.int64)
    counted = np.flatnonzero(np.isfinite(similarity))
    if len(counted) < min_rows:
        eps = np.full(len(similarity), eps_max)
    else:
        order = counted[np.argsort(words[counted], kind="stable")]  # measured rows by length
        distance, length = 1.0 - similarity[order].astype(np.float64), words[order]
        values, starts, counts = np.unique(length, return_index=True, return_counts=True)
        size = min(window, len(order))
        value_eps = np.empty(len(values))
        for k, (start, count) in enumerate(zip(starts, counts, strict=True)):  # once per distinct length
            low = min(max(start + count // 2 - size // 2, 0), len(order) - size)
            median = np.median(distance[min(low, start):max(low + size, start + count)])
            value_eps[k] = max(round(min(ratio * median, eps_max), 4), 0.0001)
        above = np.minimum(np.searchsorted(values, words), len(values) - 1)  # each row's closest measured length
        below = np.maximum(above - 1, 0)
        eps = value_eps[np.where(np.abs(words - values[below]) < np.abs(values[above] - words), below, above)]
    band = np.floor(np.log2(np.maximum(words, 1))).astype(np.int64)
    by_length = []
    for b in np.unique(band):
        members = band == b
        by_length.append({"words": f"{0 if b == 0 else 2 ** b}-{2 ** (b + 1) - 1}", "rows": int(members.sum()),
                          "eps_min": float(eps[members].min()), "eps_max": float(eps[members].max())})
    return eps, by_length


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
