"""manifest.json: what produced a run (config, hashes, versions, seed, hardware)."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from typing import Any

from curate.config import PipelineConfig

_PACKAGES = ("curate", "polars", "pyarrow", "numpy", "pydantic", "datasketch", "numba", "faiss-cpu",
             "sentence-transformers", "model2vec", "torch", "scikit-learn", "codecarbon", "modAL-python",
             "cleanlab", "ray")


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _hardware() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_bytes": memory, "platform": platform.platform()}


def build_manifest(config: PipelineConfig, input_hash: str, source: str) -> dict[str, Any]:
    """Everything needed to say what produced a run and to reproduce it."""
    return {
        "name": config.name,
        "config": config.model_dump(mode="json"),
        "config_hash": config.fingerprint(),
        "input": {"source": source, "content_hash": input_hash},
        "seed": config.seed,
        "versions": _versions(),
        "hardware": _hardware(),
    }
