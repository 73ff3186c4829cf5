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
    require("numba", "quality")
    from curate.quality._ngram_kernel import kernel

    return kernel(offsets.astype(np.int64), hashes.astype(np.uint64), lengths.astype(np.int64),
                   text_chars.astype(np.int64), np.asarray(top_ns, dtype=np.int64),
                   np.asarray(dup_ns, dtype=np.int64), repeated_only)
