"""One distilled static model per test session, in the session-wide cache (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from curate.embed import EmbedderConfig, embed_frame


@pytest.fixture(scope="session")
def static_cache() -> Path:
    """The cache directory holding the static model distilled from all-MiniLM-L6-v2 (built once)."""
    import os

    import polars as pl

    cache = Path(os.environ["CURATE_CACHE_DIR"])
    embed_frame(pl.DataFrame({"id": ["warm"], "text": ["warm up"]}), EmbedderConfig(embedder="static"), cache_dir=cache)
    return cache
