"""manifest.json: what produced a run (config, hashes, versions, seed, hardware)."""

from __future__ import annotations

import os
import platform
from importlib import metadata

from pydantic import JsonValue

from curate.config import PipelineConfig
from curate.record.models import Model

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


class InputIdentity(Model):
    """Where the input came from and a hash of its content (ids included)."""

    source: str
    content_hash: str


class Hardware(Model):
    """The machine the run ran on."""

    cpu: str
    cores: int | None
    memory_bytes: int | None
    platform: str


class Manifest(Model):
    """Everything needed to say what produced a run and to reproduce it (manifest.json)."""

    name: str
    config: dict[str, JsonValue]
    config_hash: str
    input: InputIdentity
    seed: int
    versions: dict[str, str]
    hardware: Hardware


def _hardware() -> Hardware:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), cpu)
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else None
    return Hardware(cpu=cpu, cores=os.cpu_count(), memory_bytes=memory, platform=platform.platform())


def build_manifest(config: PipelineConfig, input_hash: str, source: str) -> Manifest:
    """The manifest of a run of ``config`` over an input with content hash ``input_hash``."""
    return Manifest(name=config.name, config=config.model_dump(mode="json"), config_hash=config.fingerprint(),
                    input=InputIdentity(source=source, content_hash=input_hash), seed=config.seed,
                    versions=_versions(), hardware=_hardware())
