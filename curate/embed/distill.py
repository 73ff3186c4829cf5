"""Distil a static (model2vec) embedder from a sentence-transformer, once per machine.

The distilled model lives under ``<cache_dir>/models/static-<key>``, where the key hashes
the source model's content fingerprint and the distillation parameters. It is built in a
temp folder and renamed into place, so a crash leaves no half-built model behind.
"""

from __future__ import annotations

import io
import logging
import os
import shutil
import tempfile
from contextlib import contextmanager, redirect_stderr
from pathlib import Path

import xxhash

from curate.errors import require

_LOG = logging.getLogger("curate.embed")
DISTILL_VERSION = "model2vec-distill-v1"


def static_key(source_fingerprint: str, dims: int) -> str:
    """Content address of the static model distilled from a source with these parameters."""
    return xxhash.xxh3_128_hexdigest(f"{DISTILL_VERSION}\0{source_fingerprint}\0pca={dims}\0float32".encode())


@contextmanager
def _quiet_single_thread():
    """Distil on one torch thread (oversubscribed OpenMP is many times slower on shared CPUs)
    and route model2vec's progress bar to the debug log instead of the terminal."""
    torch = require("torch", "embed", "torch")
    threads = torch.get_num_threads()
    captured = io.StringIO()
    torch.set_num_threads(1)
    try:
        with redirect_stderr(captured):
            yield
    finally:
        torch.set_num_threads(threads)
        _LOG.debug("model2vec distill output: %s", captured.getvalue()[-2000:])


def distilled_model(source: Path, source_fingerprint: str, cache_dir: Path, dims: int) -> Path:
    """Folder of the static model distilled from ``source``; built (about a minute on CPU) if absent.

    Parameters
    ----------
    source : Path
        Folder of the sentence-transformer to distil.
    source_fingerprint : str
        Its content fingerprint (see :func:`curate.embed.models.folder_fingerprint`).
    cache_dir : Path
        The cache directory; the model goes under ``models/``.
    dims : int
        PCA dimensions of the static vectors.
    """
    target = Path(cache_dir) / "models" / f"static-{static_key(source_fingerprint, dims)}"
    if (target / "config.json").is_file():
        return target
    require("skeletoken", "embed", "model2vec[distill]")
    distill = require("model2vec.distill", "embed", "model2vec[distill]")
    target.parent.mkdir(parents=True, exist_ok=True)
    _LOG.info("distilling a static embedder from %s into %s (once per cache)", source, target)
    building = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        with _quiet_single_thread():
            model = distill.distill(model_name=str(source), pca_dims=dims, quantize_to="float32", device="cpu")
        model.save_pretrained(building)
        try:
            os.replace(building, target)
        except OSError:
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target
