"""The numba kernel behind :mod:`curate.quality.ngrams` (imported lazily: numba is optional).

Definitions and parameters: see :func:`curate.quality.ngrams.ngram_scores`.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def _ngram_hashes(hashes, lengths, n, spaced):
    m = hashes.shape[0] - n + 1
    out = np.empty(m, dtype=np.uint64)
    chars = np.empty(m, dtype=np.int64)
    for i in range(m):
        h = np.uint64(1469598103934665603)
        c = 0
        for j in range(n):
            h = (h ^ hashes[i + j]) * np.uint64(1099511628211)
            h ^= h >> np.uint64(29)
            c += lengths[i + j]
        out[i] = h
        chars[i] = c + (n - 1 if spaced else 0)
    return out, chars

@numba.njit(cache=True)
def _group_ids(grams):
    """Group id of each n-gram hash, numbered in order of first occurrence (open addressing)."""
    m = grams.shape[0]
    size = 16
    while size < 2 * m:
        size <<= 1
    mask = np.uint64(size - 1)
    slots = np.full(size, -1, dtype=np.int64)
    keys = np.empty(size, dtype=np.uint64)
    ids = np.empty(m, dtype=np.int64)
    groups = 0
    for i in range(m):
        h = grams[i]
        j = (h ^ (h >> np.uint64(31))) & mask
        while True:
            slot = slots[j]
            if slot == -1:
                slots[j] = groups
                keys[j] = h
                ids[i] = groups
                groups += 1
                break
            if keys[j] == h:
                ids[i] = slot
                break
            j = (j + np.uint64(1)) & mask
    return ids, groups


@numba.njit(parallel=True, cache=True)
def kernel(offsets, hashes, lengths, text_chars, top_ns, dup_ns, repeated_only):
    n_docs = offsets.shape[0] - 1
    top = np.zeros((top_ns.shape[0], n_docs), dtype=np.float64)
    dup = np.zeros((dup_ns.shape[0], n_docs), dtype=np.float64)
    for d in numba.prange(n_docs):
        lo, hi = offsets[d], offsets[d + 1]
        total = text_chars[d]
        if total == 0:
            continue
        words = hashes[lo:hi]
        lens = lengths[lo:hi]
        for k in range(top_ns.shape[0]):
            n = top_ns[k]
            if hi - lo < n:
                continue
            grams, chars = _ngram_hashes(words, lens, n, True)
            ids, groups = _group_ids(grams)
            counts = np.zeros(groups, dtype=np.int64)
            first = np.full(groups, -1, dtype=np.int64)
            for i in range(ids.shape[0]):
                counts[ids[i]] += 1
                if first[ids[i]] == -1:
                    first[ids[i]] = i
            best = np.argmax(counts)  # the first group with the top count: the n-gram seen first
            if repeated_only and counts[best] < 2:
                continue
            top[k, d] = chars[first[best]] * counts[best] / total
        for k in range(dup_ns.shape[0]):
            n = dup_ns[k]
            if hi - lo < n:
                continue
            grams, chars = _ngram_hashes(words, lens, n, False)
            ids, groups = _group_ids(grams)
            seen = np.zeros(groups, dtype=np.bool_)
            repeated = 0
            idx = 0
            m = grams.shape[0]
            while idx < m:
                if seen[ids[idx]]:
                    repeated += chars[idx]
                    idx += n
                else:
                    seen[ids[idx]] = True
                    idx += 1
            dup[k, d] = repeated / total
    return top, dup
