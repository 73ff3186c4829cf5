"""The forecast for the training run the user will do: tokens, FLOPs, GPU-hours and kWh, full vs curated."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from curate.proxy.presets import FLOPS_PER_PARAM_TOKEN, PRESETS
from curate.record.models import Forecast

if TYPE_CHECKING:
    from curate.config import ProxyTargetConfig
    from curate.energy import EnergyReading

ASSUMPTION = "energy proportional to samples x epochs (same epochs on the full and the curated set)"
TOKEN_ASSUMPTION = "energy proportional to tokens x epochs (FLOPs = 6 x parameters x tokens x epochs)"


def count_tokens(texts: list[str], max_length: int) -> np.ndarray:
    """Tokens per text as a BERT-style encoder reads them (WordPiece of all-MiniLM-L6-v2, [CLS] and [SEP]
    included, cut at ``max_length``); without the tokenizer, 1.3 tokens per word plus 2."""
    try:
        from tokenizers import Tokenizer

        from curate.embed.models import resolve_model

        tokenizer = Tokenizer.from_file(str(resolve_model(None) / "tokenizer.json"))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        lengths = np.fromiter((len(e.ids) for e in tokenizer.encode_batch(texts)), dtype=np.float64, count=len(texts))
    except Exception:  # noqa: BLE001 - no tokenizer package or model: the word rule
        lengths = np.array([1.3 * len(t.split()) + 2 for t in texts], dtype=np.float64)
    return np.minimum(lengths, max_length)


def _assumptions(target: ProxyTargetConfig, tokens: bool) -> list[str]:
    said = []
    if target.preset is not None:
        said.append(f"preset {target.preset}: {PRESETS[target.preset].description}")
    if target.params is not None:
        said.append(f"{target.params:.3g} parameters, {target.epochs:g} epochs, texts cut at {target.max_length} tokens")
        said.append(f"{FLOPS_PER_PARAM_TOKEN:g} FLOPs per parameter per token (forward 2, backward 4; Kaplan et al. 2020)")
        said.append("tokens counted on this run's training rows with a BERT WordPiece tokenizer" if tokens
                    else "tokens: 1.3 per word plus 2")
        said.append(f"{target.gpus} x {target.gpu or 'GPU'}, {target.gpu_peak_flops:.3g} FLOP/s peak each at "
                    f"{target.utilization:.0%} utilisation (MFU), {target.gpu_watts:g} W each while training")
        said.append(f"PUE {target.pue:g}; host CPU, RAM and networking not counted")
    return said


def forecast(target: ProxyTargetConfig, ratio: float, intensity: float, curation: EnergyReading | None,
             tokens: tuple[float, float] | None = None, epochs_ratio: float | None = None) -> Forecast:
    """The saving forecast for ``target``.

    Parameters
    ----------
    ratio : float
        Curated rows over full rows.
    intensity : float
        gCO2eq per kWh of the grid.
    curation : EnergyReading, optional
        What curation cost (for break-even).
    tokens : (float, float), optional
        Tokens of the full and the curated training set (for a target given by parameters).
    epochs_ratio : float, optional
        The proxy's epochs to convergence, curated over full.
    """
    out: dict[str, Any] = {"assumption": ASSUMPTION, "samples_ratio": round(ratio, 6), "preset": target.preset,
                           "description": PRESETS[target.preset].description if target.preset else None}
    full_flops, scale = target.flops, ratio
    if target.params is not None and target.flops is None and target.kwh is None and tokens is not None:
        full_tokens, curated_tokens = tokens
        scale = curated_tokens / full_tokens if full_tokens > 0 else ratio
        full_flops = FLOPS_PER_PARAM_TOKEN * target.params * full_tokens * target.epochs
        delivered = target.gpus * target.gpu_peak_flops * target.utilization  # FLOP/s of the whole run
        hours = full_flops / delivered / 3600
        out |= {"assumption": TOKEN_ASSUMPTION, "tokens_full": full_tokens, "tokens_curated": curated_tokens,
                "hours_full": hours, "hours_saved": hours * (1 - scale), "gpu_hours_full": hours * target.gpus,
                "gpu_hours_curated": hours * target.gpus * scale, "gpu_hours_saved": hours * target.gpus * (1 - scale)}
        full_kwh = hours * target.gpus * target.gpu_watts / 1000 * target.pue
    else:
        full_kwh = target.kwh if target.kwh is not None else (
            target.flops / target.flops_per_kwh if target.flops is not None and target.flops_per_kwh else None)
    out["assumptions"] = _assumptions(target, tokens is not None) + [out["assumption"]]
    if full_flops is not None:
        out |= {"full_flops": full_flops, "curated_flops": full_flops * scale, "flops_saved": full_flops * (1 - scale)}
    if full_kwh is not None:
        saved = full_kwh * (1 - scale)
        out |= {"full_kwh": full_kwh, "curated_kwh": full_kwh * scale, "kwh_saved": saved,
                "gco2eq_saved": saved * intensity,
                "break_even_runs": (curation.kwh / saved) if curation is not None and saved > 0 else None}
        if epochs_ratio is not None:
            out |= {"epochs_ratio": round(epochs_ratio, 6), "curated_kwh_with_epochs": full_kwh * scale * epochs_ratio}
    return Forecast(**out)
