"""Signatures kept on disk, not in memory: written a batch at a time, read back only for the rows asked for."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

BLOCK_ROWS = 16_384
"""Rows read from the file at a time."""


class SignatureSpill:
    """A ``(rows, num_perm)`` uint32 signature matrix in an unnamed temporary file.

    Parameters
    ----------
    num_perm : int
        Signature length.
    folder : Path, optional
        Where the temporary file lives (it is gone when the spill is closed); the system's temp
        folder by default.
    """

    def __init__(self, num_perm: int, folder: Path | None = None) -> None:
        self.num_perm = num_perm
        self.rows = 0
        self._file = tempfile.TemporaryFile(dir=folder)

    def __enter__(self) -> SignatureSpill:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def append(self, signatures: np.ndarray) -> None:
        """Add rows at the end."""
        self._file.write(np.ascontiguousarray(signatures, dtype=np.uint32).tobytes())
        self.rows += signatures.shape[0]

    def rows_of(self, rows: np.ndarray) -> np.ndarray:
        """The signatures of ``rows`` (sorted, distinct), read in one pass over the file, a block at a time."""
        self._file.flush()
        out = np.empty((len(rows), self.num_perm), dtype=np.uint32)
        row_bytes = self.num_perm * 4
        for first in range(0, self.rows, BLOCK_ROWS):
            lo, hi = np.searchsorted(rows, [first, first + BLOCK_ROWS])
            if lo == hi:
                continue
            self._file.seek(first * row_bytes)
            block = np.fromfile(self._file, dtype=np.uint32, count=min(BLOCK_ROWS, self.rows - first) * self.num_perm)
            out[lo:hi] = block.reshape(-1, self.num_perm)[rows[lo:hi] - first]
        self._file.seek(0, 2)
        return out
