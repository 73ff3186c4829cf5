"""A persisted MinHash index: ids and signatures in Parquet plus the spec that made them.

Layout of an index folder: ``signatures.parquet`` (``id`` string, ``signature``
``Array(UInt32, num_perm)``) and ``params.json`` (the :class:`SignatureSpec`, with the
datasketch scheme, plus the banding parameters of the run that wrote it). The signatures
are datasketch ``affine32`` hash values: :func:`datasketch_lsh` loads them into a
``datasketch.MinHashLSH`` (any storage back-end) as ``LeanMinHash`` objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from curate.errors import InputError, require
from curate.io.writers import atomic_write, write_json
from curate.minhash.signature import SCHEME, SignatureSpec

SIGNATURES = "signatures.parquet"
PARAMS = "params.json"


@contextmanager
def index_writer(path: str | Path, spec: SignatureSpec, **params: Any) -> Iterator[Callable[[pl.Series, np.ndarray], None]]:
    """Write an index folder a batch at a time: yields ``write(ids, signatures)``; the folder is
    complete (and ``signatures.parquet`` in place, atomically) when the block exits.

    Extra keyword ``params`` (threshold, bands, rows, ...) are stored beside the spec.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    schema = pa.schema([("id", pa.large_string()), ("signature", pa.list_(pa.uint32(), spec.num_perm))])
    with atomic_write(path / SIGNATURES) as handle, \
            pq.ParquetWriter(handle, schema, compression="zstd", write_statistics=False,
                             use_dictionary=False) as writer:  # unique ids, random hashes: a dictionary is 8x slower, no smaller
        def write(ids: pl.Series, signatures: np.ndarray) -> None:
            values = pa.array(np.ascontiguousarray(signatures, dtype=np.uint32).ravel())
            writer.write_table(pa.table([ids.cast(pl.String).to_arrow().cast(pa.large_string()),
                                         pa.FixedSizeListArray.from_arrays(values, spec.num_perm)], schema=schema))
        yield write
    write_json({"spec": spec.to_dict(), **params}, path / PARAMS)


def save_index(path: str | Path, ids: pl.Series, signatures: np.ndarray, spec: SignatureSpec,
               **params: Any) -> Path:
    """Write ``ids`` and their ``signatures`` to the folder ``path``; returns it.

    Extra keyword ``params`` (threshold, bands, rows, ...) are stored beside the spec.
    """
    with index_writer(path, spec, **params) as write:
        write(ids, signatures)
    return Path(path)


def load_index(path: str | Path) -> tuple[pl.Series, np.ndarray, SignatureSpec, dict[str, Any]]:
    """Read an index folder: ``(ids, signatures, spec, params)``."""
    path = Path(path)
    if not (path / SIGNATURES).exists() or not (path / PARAMS).exists():
        raise InputError(f"no MinHash index at {path} (expected {SIGNATURES} and {PARAMS})",
                         hint="point index.against at a folder written by index.save")
    params = json.loads((path / PARAMS).read_text())
    spec = SignatureSpec.from_dict(params.pop("spec"))
    frame = pl.read_parquet(path / SIGNATURES)
    signatures = frame["signature"].to_numpy() if frame.height else np.zeros((0, spec.num_perm), np.uint32)
    return frame["id"], np.ascontiguousarray(signatures, dtype=np.uint32), spec, params


def datasketch_lsh(path: str | Path, threshold: float | None = None, params: tuple[int, int] | None = None,
                   storage_config: dict | None = None):
    """A ``datasketch.MinHashLSH`` holding every signature of the index at ``path``, keyed by id.

    Query it with ``datasketch.MinHash(num_perm, seed, hashfunc=...)`` built from
    :func:`curate.minhash.shingle.shingles` of the normalised text (``hashfunc``:
    datasketch's default for ``hash: sha1``, ``xxhash.xxh32_intdigest`` for ``hash: xxh32``).

    Parameters
    ----------
    path : str or Path
        An index folder.
    threshold : float, optional
        LSH threshold; defaults to the one the index was written with.
    params : tuple of int, optional
        ``(bands, rows)``, bypassing datasketch's optimiser.
    storage_config : dict, optional
        datasketch storage back-end (e.g. Redis); in memory by default.
    """
    datasketch = require("datasketch", "minhash")
    ids, signatures, spec, saved = load_index(path)
    lsh = datasketch.MinHashLSH(threshold=threshold if threshold is not None else saved.get("threshold", 0.8),
                                num_perm=spec.num_perm, params=params, storage_config=storage_config)
    with lsh.insertion_session() as session:
        for key, values in zip(ids.to_list(), signatures, strict=True):
            session.insert(key, datasketch.LeanMinHash(seed=spec.seed, hashvalues=values, scheme=SCHEME))
    return lsh
