"""Fixtures for the active-learning tests."""

from __future__ import annotations

import pytest
from active_helpers import TFIDF, synthetic_texts

from curate.active.features import FeatureConfig


@pytest.fixture
def texts():
    """Factory of synthetic labelled frames: ``texts(n, classes=3, seed=0)``."""
    return synthetic_texts


@pytest.fixture
def tfidf() -> FeatureConfig:
    """TF-IDF features: fast, no torch."""
    return TFIDF
