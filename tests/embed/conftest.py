"""One distilled static model per test session, in a session-wide temporary cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from curate.embed import EmbedderConfig, embed_frame


@pytest.fixture(scope="session")
def static_cache(tmp_path_factory) -> Path:
    """A cache directory holding the static model distilled from all-MiniLM-L6-v2 (built once)."""
    import polars as pl

    cache = tmp_path_factory.mktemp("curate-cache")
    embed_frame(pl.DataFrame({"id": ["warm"], "text": ["warm up"]}), EmbedderConfig(embedder="static"), cache_dir=cache)
    return cache
