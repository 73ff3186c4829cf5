"""Gopher n-gram repetition scores over hashed word sequences, as one numba kernel.

Definitions follow Rae et al. (2021) as implemented by datatrove's GopherRepetitionFilter:

- top n-gram fraction: characters of the most frequent word n-gram (joined by spaces) times
  its count, over the text's characters; ties go to the n-gram seen first;
- duplicated n-gram fraction: scanning left to right, an n-gram already seen adds its
  characters (words joined without spaces) and the scan jumps past it.

N-grams are compared by a 64-bit hash of their word hashes.
"""

from __future__ import annotations

import numpy as np

from curate.errors import require

_kernel = None


def _build():
    numba = require("numba", "quality")

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

    return kernel


def ngram_scores(offsets: np.ndarray, hashes: np.ndarray, lengths: np.ndarray, text_chars: np.ndarray,
                 top_ns: list[int], dup_ns: list[int], repeated_only: bool) -> tuple[np.ndarray, np.ndarray]:
    """Top and duplicated n-gram character fractions per document.

    Parameters
    ----------
    offsets : int64 [n_docs + 1]
        Where each document's words start in ``hashes``/``lengths``.
    hashes, lengths : uint64 / int64 [n_words]
        Word hashes and character lengths, documents concatenated.
    text_chars : int64 [n_docs]
        Characters of each whole text (the denominator).
    top_ns, dup_ns : list of int
        The n of each top-n-gram and duplicated-n-gram score.
    repeated_only : bool
        Score a top n-gram only when it occurs at least twice (short texts).

    Returns
    -------
    (top, dup) : float64 arrays [len(top_ns), n_docs] and [len(dup_ns), n_docs]
    """
    global _kernel
    if _kernel is None:
        _kernel = _build()
    return _kernel(offsets.astype(np.int64), hashes.astype(np.uint64), lengths.astype(np.int64),
                   text_chars.astype(np.int64), np.asarray(top_ns, dtype=np.int64),
                   np.asarray(dup_ns, dtype=np.int64), repeated_only)
