"""Shared fixtures: offline model loading, a tmp run folder, and the shared data sets."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from tests._ci_policy import pytest_make_collect_report, pytest_runtest_makereport  # noqa: F401 - CI: a skip fails

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CURATE_SHARED_DATA") or ROOT.parent / "shared" / "data")

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# One cache for the whole test session (and across sessions: it is content-addressed), so the
# static embedder is distilled once, not once per test.
os.environ.setdefault("CURATE_CACHE_DIR", str(ROOT / ".curate-cache"))


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or skip when this checkout has none (a user's fresh clone)."""
    if not SHARED_DATA.exists():
        pytest.skip(f"shared data sets not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def small_frame() -> pl.DataFrame:
    """A few texts with exact and normalisation-level duplicates."""
    return pl.DataFrame({
        "id": [f"r{i}" for i in range(8)],
        "text": ["Hello world", "hello   WORLD", "Something else", "Ｈｅｌｌｏ world", "unique one",
                 "Something else", "another text here", "unique one"],
        "label": [0, 0, 1, 0, 1, 1, 0, 1],
    })


@pytest.fixture(scope="session")
def ray_local():
    """A local Ray instance with 2 CPUs for the whole session (the Ray engine reuses it); shut down at the end."""
    import logging

    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    root = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
             runtime_env={"env_vars": {"PYTHONPATH": path, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}})
    yield ray
    ray.shutdown()
