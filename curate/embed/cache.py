"""On-disk, content-addressed embedding cache keyed by (model fingerprint, exact text hash).

Layout: ``<root>/embeddings/<fingerprint>/<digest>.npz``. Each shard holds ``keys``
(uint64 ``[m, 2]``, the 128-bit xxh3 of each text's UTF-8 bytes) and ``vectors``
(float32 ``[m, d]``); its name is the xxh3-128 of its bytes. A shard is written to a temp
file, fsynced and renamed into place, so it appears whole or not at all; the set of shard
files is the index, and each shard's ``keys`` array indexes its rows. On read, zip CRC-32
checks every member and any shard that fails to parse is deleted and ignored, so a torn or
corrupted entry is never returned.
"""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import polars_hash as plh
import xxhash

from curate.io.writers import atomic_write

_LOG = logging.getLogger("curate.embed")
_BAD_SHARD = (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError)


def text_keys(texts: pl.Series) -> np.ndarray:
    """128-bit xxh3 of each text's exact UTF-8 bytes, as uint64 ``[n, 2]`` (nulls hash as "")."""
    frame = texts.fill_null("").rename("t").to_frame()
    hashed = frame.select(plh.col("t").nchash.xxh3_128().alias("h"))
    halves = hashed.select(hi=(pl.col("h") // (2**64)).cast(pl.UInt64), lo=(pl.col("h") % (2**64)).cast(pl.UInt64))
    return np.ascontiguousarray(halves.to_numpy(), dtype=np.uint64).reshape(-1, 2)


def _key_frame(keys: np.ndarray, **extra: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"hi": keys[:, 0], "lo": keys[:, 1], **extra})


class EmbeddingCache:
    """Content-addressed vectors for one model fingerprint under ``root``.

    Parameters
    ----------
    root : Path
        The cache directory (``RunContext.cache_dir``).
    fingerprint : str
        Identifies the model and every setting that changes its vectors.
    """

    def __init__(self, root: str | Path, fingerprint: str) -> None:
        self.root = Path(root)
        self.fingerprint = fingerprint
        self.folder = self.root / "embeddings" / fingerprint

    def shards(self) -> list[Path]:
        """Complete shard files, in name order (temp files are dot-prefixed and never listed)."""
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.glob("*.npz") if not p.name.startswith("."))

    def _read(self, shard: Path, member: str) -> np.ndarray | None:
        try:
            with np.load(shard, allow_pickle=False) as npz:
                return npz[member]
        except _BAD_SHARD as exc:
            _LOG.warning("embedding cache: dropping unreadable shard %s (%s)", shard.name, exc)
            shard.unlink(missing_ok=True)
            return None

    def get(self, keys: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """Look up ``keys`` (uint64 ``[n, 2]``).

        Returns
        -------
        vectors : ndarray or None
            float32 ``[n, d]`` with the found rows filled (others zero); None when nothing was found.
        found : ndarray of bool
            Which of ``keys`` were in the cache.
        """
        n = len(keys)
        found = np.zeros(n, dtype=bool)
        index = []
        shards = self.shards()
        for number, shard in enumerate(shards):
            shard_keys = self._read(shard, "keys")
            if shard_keys is None or shard_keys.ndim != 2 or shard_keys.shape[1] != 2:
                continue
            index.append(_key_frame(shard_keys.astype(np.uint64, copy=False),
                                    shard=np.full(len(shard_keys), number, dtype=np.int32),
                                    pos=np.arange(len(shard_keys), dtype=np.int64)))
        if not index or n == 0:
            return None, found
        table = pl.concat(index).unique(subset=["hi", "lo"], keep="first", maintain_order=True)
        hits = (_key_frame(keys, row=np.arange(n, dtype=np.int64))
                .join(table, on=["hi", "lo"], how="inner")
                .sort("shard", "pos"))
        if hits.height == 0:
            return None, found
        vectors: np.ndarray | None = None
        for (number,), group in hits.group_by("shard", maintain_order=True):
            block = self._read(shards[number], "vectors")
            if block is None:
                continue
            rows, pos = group["row"].to_numpy(), group["pos"].to_numpy()
            if len(rows) == n == len(block) and np.array_equal(rows, pos):
                return block, np.ones(n, dtype=bool)  # a rerun on the same data: the shard as it is
            if vectors is None:
                vectors = np.empty((n, block.shape[1]), dtype=np.float32)
            vectors[rows] = block[pos]
            found[rows] = True
        if vectors is not None:
            vectors[~found] = 0.0
        return vectors, found

    def put(self, keys: np.ndarray, vectors: np.ndarray) -> Path | None:
        """Write one shard atomically; returns its path (None when there is nothing to write)."""
        if len(keys) == 0:
            return None
        buffer = io.BytesIO()
        np.savez(buffer, keys=np.ascontiguousarray(keys, dtype=np.uint64),
                 vectors=np.ascontiguousarray(vectors, dtype=np.float32))
        payload = buffer.getvalue()
        path = self.folder / f"{xxhash.xxh3_128_hexdigest(payload)}.npz"
        if not path.exists():
            with atomic_write(path) as handle:
                handle.write(payload)
        return path
