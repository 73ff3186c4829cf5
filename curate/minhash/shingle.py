"""Shingling: the exact bytes each document contributes, as numba kernels and a Python reference.

Word shingles are ``n`` consecutive tokens (runs of non-whitespace bytes, ASCII whitespace
as in :meth:`bytes.split`; each character of a script written without spaces, such as
Chinese or Japanese, is a token of its own) joined by one space; character shingles are ``n`` consecutive
code points of the UTF-8 text. A document with fewer than ``n`` tokens (or characters)
yields one shingle: the whole text (tokens joined by one space; ``b""`` when it has none).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from curate.scripts import space_out_text


def shingles(text: str, ngram: int = 5, unit: str = "word") -> list[bytes]:
    """The shingles of an already normalised ``text``, as the bytes that get hashed.

    The reference for the compiled kernels, and the way to feed datasketch the same
    input: ``MinHash(...).update_batch(shingles(normalize(text), n))``.

    Parameters
    ----------
    text : str
        Normalised text (see :func:`curate.normalize.normalize`).
    ngram : int
        Shingle size in tokens (``unit="word"``) or code points (``unit="char"``).
    unit : {"word", "char"}
        What a shingle counts.
    """
    if unit == "char":
        if len(text) < ngram:
            return [text.encode("utf-8")]
        return [text[i:i + ngram].encode("utf-8") for i in range(len(text) - ngram + 1)]
    tokens = space_out_text(text).encode("utf-8").split()
    if len(tokens) < ngram:
        return [b" ".join(tokens)]
    return [b" ".join(tokens[i:i + ngram]) for i in range(len(tokens) - ngram + 1)]


@njit(inline="always")
def _is_space(byte):
    return byte == 32 or (9 <= byte <= 13)


@njit(cache=True)
def word_spans(data, start, end, compact, token_starts, token_ends):
    """Copy the tokens of ``data[start:end]`` into ``compact`` joined by one space.

    Writes each token's span in ``compact`` to ``token_starts``/``token_ends`` and returns
    ``(tokens, compact_length)``; a shingle of tokens i..j is then ``compact[starts[i]:ends[j]]``.
    """
    tokens = 0
    pos = 0
    i = start
    while i < end:
        while i < end and _is_space(data[i]):
            i += 1
        if i >= end:
            break
        if tokens > 0:
            compact[pos] = 32
            pos += 1
        token_starts[tokens] = pos
        while i < end and not _is_space(data[i]):
            compact[pos] = data[i]
            pos += 1
            i += 1
        token_ends[tokens] = pos
        tokens += 1
    return tokens, pos


@njit(cache=True)
def char_starts(data, start, end, starts):
    """Byte offsets of the code points of UTF-8 ``data[start:end]`` into ``starts``; returns their count.

    ``starts[count]`` is set to ``end``, so code points i..j span ``data[starts[i]:starts[j + 1]]``.
    """
    count = 0
    for i in range(start, end):
        if (data[i] & 0xC0) != 0x80:
            starts[count] = i
            count += 1
    starts[count] = end
    return count


@njit(cache=True)
def scratch(max_bytes):
    """Scratch buffers (compact text, starts, ends) for documents of up to ``max_bytes`` bytes."""
    size = max_bytes + 2
    return np.empty(size, np.uint8), np.empty(size, np.int64), np.empty(size, np.int64)
