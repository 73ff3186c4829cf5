"""Checksummed, uncompressed array files: written atomically, each member verified on read.

Layout: an 8-byte magic, the header's length (uint64 little-endian) and its xxh3-128
digest (16 bytes), the JSON header (per member: dtype, shape, offset, byte count and
xxh3-128 digest), then the raw members, each 64-byte aligned. A reader parses the header
only after its digest matches and checks a member's digest before returning it, so a torn,
truncated or bit-flipped file raises :class:`CorruptArrays` instead of returning wrong
data. A member is read as a copy-on-write memory map (no decompression, no copy); files
are immutable once renamed into place, so the map stays valid.
:func:`cached_arrays` uses such files as a content-addressed cache of computed results.
"""

from __future__ import annotations

import json
import logging
import mmap
import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import xxhash

from curate.io.writers import atomic_write

_LOG = logging.getLogger("curate.embed")
_MAGIC = b"CURARR1\n"
_PREFIX = struct.Struct("<8sQ16s")
_ALIGN = 64


class CorruptArrays(ValueError):
    """An array file whose header or member does not match its digest."""


def encode_header(arrays: dict[str, np.ndarray]) -> tuple[bytes, list[np.ndarray]]:
    """The prefix + JSON header for ``arrays`` and the contiguous members in file order."""
    members = [np.ascontiguousarray(a) for a in arrays.values()]
    entries, offset = {}, 0
    for name, array in zip(arrays, members, strict=True):
        entries[name] = {"dtype": array.dtype.str, "shape": list(array.shape), "offset": offset,
                         "nbytes": array.nbytes, "xxh3": xxhash.xxh3_128_hexdigest(array)}
        offset += -(-array.nbytes // _ALIGN) * _ALIGN
    header = json.dumps(entries, sort_keys=True).encode()
    header += b" " * (-(len(header) + _PREFIX.size) % _ALIGN)
    return _PREFIX.pack(_MAGIC, len(header), xxhash.xxh3_128_digest(header)) + header, members


def write_arrays(path: str | Path, header: bytes, members: Iterable[np.ndarray]) -> None:
    """Write a file made by :func:`encode_header` atomically (temp file, fsync, rename)."""
    with atomic_write(path) as handle:
        handle.write(header)
        for array in members:
            handle.write(array.reshape(-1).view(np.uint8))
            handle.write(b"\0" * (-array.nbytes % _ALIGN))


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` atomically."""
    write_arrays(path, *encode_header(arrays))


class ArrayFile:
    """An open array file; members are read (and verified) on demand.

    Raises :class:`CorruptArrays` (a ValueError) or OSError/EOFError when the file is damaged.
    """

    def __init__(self, path: str | Path) -> None:
        self.handle: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by __exit__
        try:
            magic, size, digest = _PREFIX.unpack(self._exactly(_PREFIX.size))
            header = self._exactly(size) if magic == _MAGIC and size < 1 << 24 else b""
            if not header or xxhash.xxh3_128_digest(header) != digest:
                raise CorruptArrays(f"{path}: bad header")
            self.entries: dict[str, dict] = json.loads(header)
            self.start = _PREFIX.size + size
            self.map: mmap.mmap | None = None
        except BaseException:
            self.handle.close()
            raise

    def _exactly(self, size: int) -> bytes:
        data = self.handle.read(size)
        if len(data) != size:
            raise EOFError("array file is truncated")
        return data

    def read(self, name: str) -> np.ndarray:
        """Member ``name`` after its digest matched: a copy-on-write memory map of the file
        (writable; writes stay private to this process), so no bytes are copied."""
        entry = self.entries[name]
        dtype, shape = np.dtype(entry["dtype"]), tuple(entry["shape"])
        count = int(np.prod(shape, dtype=np.int64))
        if count * dtype.itemsize != entry["nbytes"]:
            raise CorruptArrays(f"member {name}: size does not match its shape")
        if count == 0:
            return np.empty(shape, dtype=dtype)
        if self.map is None:
            self.map = mmap.mmap(self.handle.fileno(), 0, access=mmap.ACCESS_COPY)
        start = self.start + entry["offset"]
        if start + entry["nbytes"] > len(self.map):
            raise EOFError(f"member {name} is truncated")
        array = np.frombuffer(self.map, dtype=dtype, count=count, offset=start).reshape(shape)
        if xxhash.xxh3_128_hexdigest(array) != entry["xxh3"]:
            raise CorruptArrays(f"member {name}: digest mismatch")
        return array

    def __enter__(self) -> ArrayFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()


def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Every member of the file at ``path``, verified."""
    with ArrayFile(path) as file:
        return {name: file.read(name) for name in file.entries}


def cached_arrays(path: str | Path, compute: Callable[[], dict[str, np.ndarray]]) -> tuple[dict[str, np.ndarray], bool]:
    """The arrays stored at ``path`` when it holds a whole, verified file; else ``compute()``'s,
    written there atomically. ``path`` must name everything the arrays depend on (a digest of
    the inputs and settings), so a hit is the same result as recomputing.

    Returns
    -------
    arrays : dict of ndarray
    hit : bool
        Whether they were read from ``path``.
    """
    found = read_cached(path)
    if found is not None:
        return found, True
    arrays = compute()
    save_arrays(path, arrays)
    return arrays, False


def read_cached(path: str | Path) -> dict[str, np.ndarray] | None:
    """The arrays stored at ``path`` when it holds a whole, verified file; else ``None`` (an unreadable
    file is logged and removed, so the caller recomputes and saves it with :func:`save_arrays`)."""
    path = Path(path)
    try:
        return load_arrays(path)
    except FileNotFoundError:
        return None
    except (ValueError, OSError, EOFError, KeyError, TypeError) as exc:
        _LOG.warning("cache: recomputing unreadable %s (%s)", path.name, exc)
        path.unlink(missing_ok=True)
        return None
