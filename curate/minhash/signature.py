"""MinHash signatures, bit-identical to datasketch 2.x ``MinHash`` (scheme ``affine32``).

datasketch 2.0's default scheme hashes each shingle to 32 bits, pre-mixes it with the
MurmurHash3 finaliser, and applies ``num_perm`` permutations ``a * h + b mod 2**32`` whose
odd ``a`` and ``b`` come from ``numpy.random.RandomState(seed)``; a signature is the
per-permutation minimum. :func:`minhash_signatures` computes exactly that for a whole
batch of texts in one compiled loop (no Python object per document or shingle).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl
from numba import njit

from curate.minhash.hashing import fmix32, sha1_32, xxh32
from curate.minhash.shingle import char_starts, scratch, word_spans
from curate.normalize import NormalizeConfig, normalize
from curate.scripts import space_out

SCHEME = "affine32"


@dataclass(frozen=True)
class SignatureSpec:
    """Everything that determines a signature; two signatures compare only if their specs match.

    Parameters
    ----------
    num_perm : int
        Number of permutations (signature length).
    seed : int
        Seed of the permutations (datasketch's ``MinHash(seed=...)``).
    ngram : int
        Shingle size.
    unit : {"word", "char"}
        Word or character shingles (see :mod:`curate.minhash.shingle`).
    hash : {"xxh32", "sha1"}
        32-bit shingle hash (see :mod:`curate.minhash.hashing`).
    normalize : dict
        :class:`curate.normalize.NormalizeConfig` fields applied before shingling.
    """

    num_perm: int = 128
    seed: int = 1
    ngram: int = 5
    unit: str = "word"
    hash: str = "xxh32"
    normalize: dict[str, Any] = field(default_factory=lambda: NormalizeConfig().model_dump())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, with the datasketch scheme these signatures follow."""
        return {**asdict(self), "scheme": SCHEME}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> SignatureSpec:
        """The spec saved by :meth:`to_dict`."""
        return cls(**{k: v for k, v in value.items() if k != "scheme"})


def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``(a, b)`` uint32 permutation parameters of ``datasketch.MinHash(num_perm, seed)``."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


@njit(inline="always")
def _permute_min(hashes, count, a, b, sig):
    """``sig[k] = min over shingles of a[k] * fmix32(h) + b[k] mod 2**32`` for ``hashes[:count]``."""
    sig[:] = np.uint32(0xFFFFFFFF)
    for i in range(count):
        h = np.uint32(fmix32(hashes[i]))
        for k in range(sig.shape[0]):
            sig[k] = min(sig[k], np.uint32(a[k] * h + b[k]))


@njit(inline="always")
def _signatures(data, offsets, ngram, char_unit, hasher, a, b, out):
    n = offsets.shape[0] - 1
    longest = 0
    for d in range(n):
        longest = max(longest, offsets[d + 1] - offsets[d])
    compact, starts, ends = scratch(longest)
    hashes = np.empty(longest + 1, np.uint64)
    w = np.empty(80, np.uint64)
    sig = np.empty(a.shape[0], np.uint32)
    for d in range(n):
        s = offsets[d]
        e = offsets[d + 1]
        if char_unit:
            count = char_starts(data, s, e, starts)
            if count < ngram:
                hashes[0] = hasher(data, s, e, w)
                shingles = 1
            else:
                shingles = count - ngram + 1
                for i in range(shingles):
                    hashes[i] = hasher(data, starts[i], starts[i + ngram], w)
        else:
            tokens, length = word_spans(data, s, e, compact, starts, ends)
            if tokens < ngram:
                hashes[0] = hasher(compact, 0, length, w)
                shingles = 1
            else:
                shingles = tokens - ngram + 1
                for i in range(shingles):
                    hashes[i] = hasher(compact, starts[i], ends[i + ngram - 1], w)
        _permute_min(hashes, shingles, a, b, sig)
        out[d] = sig


@njit(cache=True)
def _signatures_sha1(data, offsets, ngram, char_unit, a, b, out):
    _signatures(data, offsets, ngram, char_unit, sha1_32, a, b, out)


@njit(cache=True)
def _signatures_xxh32(data, offsets, ngram, char_unit, a, b, out):
    _signatures(data, offsets, ngram, char_unit, xxh32, a, b, out)


KERNELS = {"sha1": _signatures_sha1, "xxh32": _signatures_xxh32}


def signature_kernel(data: np.ndarray, offsets: np.ndarray, ngram: int, char_unit: bool, hash: str,
                     a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """Fill ``out[d]`` with the signature of document ``d`` (UTF-8 ``data[offsets[d]:offsets[d+1]]``).

    ``a`` and ``b`` are the uint32 permutation parameters; ``hash`` names the shingle hash.
    """
    KERNELS[hash](data, offsets, ngram, char_unit, a, b, out)


def utf8_buffers(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes and int64 offsets of a string series (nulls read as empty)."""
    import pyarrow as pa

    array = texts.fill_null("").rechunk().to_arrow(compat_level=pl.CompatLevel.oldest())  # large_string, made by polars
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    _, offsets, data = array.buffers()
    offsets = np.frombuffer(offsets, dtype=np.int64)[array.offset:array.offset + len(array) + 1]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(1, np.uint8)
    return data, offsets


def normalized(texts: pl.Series, config: NormalizeConfig, unit: str) -> pl.Series:
    """``normalize(texts, config)``, skipping work that cannot change the shingles.

    Word shingles split on ASCII whitespace runs, so collapsing whitespace only matters
    on rows with non-ASCII characters (Unicode spaces); the regex runs on those alone. On
    the same rows, each character of a script written without spaces (Chinese, Japanese,
    Thai, ...) becomes a word of its own (:func:`curate.scripts.space_out`).
    """
    texts = texts.fill_null("")
    if unit != "word":
        return normalize(texts, config)
    out = normalize(texts, config.model_copy(update={"collapse_whitespace": False}))
    non_ascii = out.str.len_bytes() != out.str.len_chars()
    if non_ascii.any():
        positions = non_ascii.arg_true()
        fixed = out.gather(positions).to_frame("t").select(space_out(pl.col("t"))).to_series()
        if config.collapse_whitespace:
            fixed = fixed.str.replace_all(r"\s+", " ").str.strip_chars()
        out = out.scatter(positions, fixed)
    return out


def minhash_signatures(
    texts: pl.Series,
    spec: SignatureSpec,
    batch_size: int = 8192,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Signatures of ``texts`` as a ``(len(texts), num_perm)`` uint32 matrix.

    Texts are normalised per ``spec.normalize`` and processed ``batch_size`` at a time, so
    memory beyond the output is one batch of normalised text.

    Parameters
    ----------
    texts : polars.Series
        Raw texts (nulls are treated as empty).
    spec : SignatureSpec
        Permutations, shingling and hash.
    batch_size : int
        Documents per compiled call.
    progress : callable, optional
        Called with the number of documents done after each batch.
    """
    a, b = permutations(spec.num_perm, spec.seed)
    config = NormalizeConfig(**spec.normalize)
    out = np.empty((len(texts), spec.num_perm), dtype=np.uint32)
    for start in range(0, len(texts), batch_size):
        batch = normalized(texts.slice(start, batch_size), config, spec.unit)
        data, offsets = utf8_buffers(batch)
        signature_kernel(data, offsets, spec.ngram, spec.unit == "char", spec.hash, a, b,
                         out[start:start + len(batch)])
        if progress is not None:
            progress(len(batch))
    return out
