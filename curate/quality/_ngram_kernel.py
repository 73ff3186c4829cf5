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
            order = np.argsort(grams, kind="mergesort")
            best_count, best_first = 0, 0
            start = 0
            m = grams.shape[0]
            while start < m:
                end = start + 1
                while end < m and grams[order[end]] == grams[order[start]]:
                    end += 1
                count = end - start
                first = order[start]
                if count > best_count or (count == best_count and first < best_first):
                    best_count, best_first = count, first
                start = end
            if repeated_only and best_count < 2:
                continue
            top[k, d] = chars[best_first] * best_count / total
        for k in range(dup_ns.shape[0]):
            n = dup_ns[k]
            if hi - lo < n:
                continue
            grams, chars = _ngram_hashes(words, lens, n, False)
            m = grams.shape[0]
            order = np.argsort(grams, kind="mergesort")
            group = np.empty(m, dtype=np.int64)
            g = -1
            for r in range(m):
                if r == 0 or grams[order[r]] != grams[order[r - 1]]:
                    g += 1
                group[order[r]] = g
            seen = np.zeros(g + 1, dtype=np.bool_)
            repeated = 0
            idx = 0
            while idx < m:
                if seen[group[idx]]:
                    repeated += chars[idx]
                    idx += n
                else:
                    seen[group[idx]] = True
                    idx += 1
            dup[k, d] = repeated / total
    return top, dup

