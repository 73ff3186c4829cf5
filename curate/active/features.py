"""Features the active-learning model sees: embeddings from curate.embed, or TF-IDF."""

from __future__ import annotations

from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from curate.embed import EmbedderConfig, embed_frame
from curate.errors import InputError
from curate.schema import TEXT
from curate.tfidf import tfidf_vectorizer


class FeatureConfig(BaseModel):
    """Where features come from: sentence embeddings (default) or a TF-IDF bag of words."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Literal["embeddings", "tfidf"] = Field("embeddings", description="embeddings (curate.embed) or tfidf (fast, no torch).")
    embed: EmbedderConfig = Field(default_factory=EmbedderConfig, description="Embedding back-end when source is embeddings.")
    max_features: int = Field(50_000, gt=0, description="TF-IDF vocabulary size.")
    ngrams: int = Field(2, ge=1, le=3, description="TF-IDF word n-grams up to this length.")


def build_features(texts: pl.DataFrame, config: FeatureConfig, ctx: Any = None,
                   extra: pl.DataFrame | None = None) -> tuple[Any, Any]:
    """Features of ``texts`` (and of ``extra``, e.g. a test set, in the same space).

    Parameters
    ----------
    texts : polars.DataFrame
        Rows with a ``text`` column (or the embedding column the config names).
    config : FeatureConfig
        Which features.
    ctx : RunContext, optional
        When given, embeddings come through ``ctx.embeddings`` (shared per run).
    extra : polars.DataFrame, optional
        More rows to put in the same feature space (TF-IDF is fitted on ``texts`` only).

    Returns
    -------
    tuple
        (features of ``texts``, features of ``extra`` or ``None``); dense float32 or CSR.
    """
    if config.source == "embeddings":
        embed = ctx.embeddings if ctx is not None else embed_frame
        main = embed(texts, config.embed)
        return main, (embed(extra, config.embed) if extra is not None else None)
    vectorizer = tfidf_vectorizer(config.ngrams, config.max_features, extra="active")
    try:
        main = vectorizer.fit_transform(texts[TEXT].fill_null("").to_list())
    except ValueError as exc:
        raise InputError(f"no TF-IDF features could be built ({exc})",
                         hint="the texts have no words; use features.source: embeddings") from None
    return main, (vectorizer.transform(extra[TEXT].fill_null("").to_list()) if extra is not None else None)
