"""32-bit shingle hashes as numba kernels, bit-identical to the Python functions they replace.

* ``sha1`` — :func:`datasketch.hashfunc.sha1_hash32` (datasketch's default ``hashfunc``):
  the first four bytes of SHA-1, read little-endian.
* ``xxh32`` — ``xxhash.xxh32_intdigest`` (seed 0): several times faster; pass it to
  datasketch as ``MinHash(hashfunc=xxhash.xxh32_intdigest)`` to get the same signatures.

Every value is carried in a ``uint64`` and masked to 32 bits explicitly: numba widens
``uint32 * uint32`` to 64 bits, so relying on 32-bit wraparound would be wrong.
"""

from __future__ import annotations

import numpy as np
from numba import njit

M32 = np.uint64(0xFFFFFFFF)

_P1 = np.uint64(0x9E3779B1)
_P2 = np.uint64(0x85EBCA77)
_P3 = np.uint64(0xC2B2AE3D)
_P4 = np.uint64(0x27D4EB2F)
_P5 = np.uint64(0x165667B1)
_U1, _U2, _U3, _U4, _U16 = (np.uint64(k) for k in (1, 2, 3, 4, 16))


@njit(inline="always")
def _rotl(x, r):
    return ((x << np.uint64(r)) | (x >> np.uint64(32 - r))) & M32


@njit(inline="always")
def _read32le(buf, i):
    """Little-endian uint32 at unsigned index ``i`` (unsigned: no negative-index wraparound code)."""
    return (np.uint64(buf[i]) | (np.uint64(buf[i + _U1]) << np.uint64(8))
            | (np.uint64(buf[i + _U2]) << np.uint64(16)) | (np.uint64(buf[i + _U3]) << np.uint64(24)))


@njit(inline="always")
def _xxh_round(acc, value):
    acc = (acc + value * _P2) & M32
    return (_rotl(acc, 13) * _P1) & M32


@njit(cache=True)
def xxh32(buf, start, end, w):
    """XXH32 (seed 0) of ``buf[start:end]``, as ``xxhash.xxh32_intdigest`` (``w`` is unused)."""
    length = np.uint64(end - start)
    i = np.uint64(start)
    end = np.uint64(end)
    if length >= _U16:
        v1 = (_P1 + _P2) & M32
        v2 = _P2
        v3 = np.uint64(0)
        v4 = (np.uint64(1 << 32) - _P1) & M32
        while i + _U16 <= end:
            v1 = _xxh_round(v1, _read32le(buf, i))
            v2 = _xxh_round(v2, _read32le(buf, i + _U4))
            v3 = _xxh_round(v3, _read32le(buf, i + _U4 + _U4))
            v4 = _xxh_round(v4, _read32le(buf, i + _U16 - _U4))
            i += _U16
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & M32
    else:
        h = _P5
    h = (h + length) & M32
    while i + _U4 <= end:
        h = (h + _read32le(buf, i) * _P3) & M32
        h = (_rotl(h, 17) * _P4) & M32
        i += _U4
    while i < end:
        h = (h + np.uint64(buf[i]) * _P5) & M32
        h = (_rotl(h, 11) * _P1) & M32
        i += _U1
    h ^= h >> np.uint64(15)
    h = (h * _P2) & M32
    h ^= h >> np.uint64(13)
    h = (h * _P3) & M32
    h ^= h >> np.uint64(16)
    return h


@njit(inline="always")
def _padded_byte(buf, start, length, total, pos):
    """Byte ``pos`` of the SHA-1 padded message of ``buf[start:start+length]`` (``total`` bytes)."""
    if pos < length:
        return np.uint64(buf[start + pos])
    if pos == length:
        return np.uint64(0x80)
    if pos >= total - 8:
        shift = np.uint64(8 * (total - 1 - pos))
        return ((np.uint64(length) * np.uint64(8)) >> shift) & np.uint64(0xFF)
    return np.uint64(0)


@njit(cache=True)
def sha1_32(buf, start, end, w):
    """First four bytes of SHA-1 of ``buf[start:end]`` read little-endian (``sha1_hash32``).

    ``w`` is a scratch ``uint64`` array of 80 words, reused across calls.
    """
    length = end - start
    total = ((length + 8) // 64 + 1) * 64
    h0 = np.uint64(0x67452301)
    h1 = np.uint64(0xEFCDAB89)
    h2 = np.uint64(0x98BADCFE)
    h3 = np.uint64(0x10325476)
    h4 = np.uint64(0xC3D2E1F0)
    for block in range(0, total, 64):
        if block + 64 <= length:
            for t in range(16):
                p = start + block + 4 * t
                w[t] = ((np.uint64(buf[p]) << np.uint64(24)) | (np.uint64(buf[p + 1]) << np.uint64(16))
                        | (np.uint64(buf[p + 2]) << np.uint64(8)) | np.uint64(buf[p + 3]))
        else:
            for t in range(16):
                p = block + 4 * t
                w[t] = ((_padded_byte(buf, start, length, total, p) << np.uint64(24))
                        | (_padded_byte(buf, start, length, total, p + 1) << np.uint64(16))
                        | (_padded_byte(buf, start, length, total, p + 2) << np.uint64(8))
                        | _padded_byte(buf, start, length, total, p + 3))
        for t in range(16, 80):
            w[t] = _rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1)
        a, b, c, d, e = h0, h1, h2, h3, h4
        for t in range(80):
            if t < 20:
                f = (b & c) | ((~b & M32) & d)
                k = np.uint64(0x5A827999)
            elif t < 40:
                f = b ^ c ^ d
                k = np.uint64(0x6ED9EBA1)
            elif t < 60:
                f = (b & c) | (b & d) | (c & d)
                k = np.uint64(0x8F1BBCDC)
            else:
                f = b ^ c ^ d
                k = np.uint64(0xCA62C1D6)
            temp = (_rotl(a, 5) + f + e + k + w[t]) & M32
            e = d
            d = c
            c = _rotl(b, 30)
            b = a
            a = temp
        h0 = (h0 + a) & M32
        h1 = (h1 + b) & M32
        h2 = (h2 + c) & M32
        h3 = (h3 + d) & M32
        h4 = (h4 + e) & M32
    return (((h0 >> np.uint64(24)) & np.uint64(0xFF)) | ((h0 >> np.uint64(8)) & np.uint64(0xFF00))
            | ((h0 << np.uint64(8)) & np.uint64(0xFF0000)) | ((h0 << np.uint64(24)) & np.uint64(0xFF000000)))


@njit(inline="always")
def fmix32(h):
    """The MurmurHash3 32-bit finaliser datasketch applies before its affine permutations."""
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & M32
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & M32
    h ^= h >> np.uint64(16)
    return h
