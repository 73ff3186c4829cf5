"""Named target runs for the forecast: the training a user will actually do, with its assumptions stated.

A preset is a model size, epochs, sequence length and accelerators. Its cost follows the usual
accounting for transformer training (Kaplan et al. 2020): ``6 x parameters`` FLOPs per token
(forward 2N, backward 4N), times the tokens of the training set, times the epochs; the
accelerators deliver ``peak x utilisation`` FLOP/s each (utilisation = model FLOPs utilisation,
MFU), and draw ``gpu_watts`` each while they do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

FLOPS_PER_PARAM_TOKEN = 6.0
"""Training FLOPs per parameter per token: forward 2, backward 4 (Kaplan et al. 2020)."""


@dataclass(frozen=True)
class Preset:
    """One named target run; every field is an assumption the forecast states."""

    description: str
    params: float
    epochs: float
    max_length: int
    gpus: int
    gpu: str
    gpu_peak_flops: float
    utilization: float
    gpu_watts: float

    def settings(self) -> dict[str, float | int | str]:
        """The preset as ``proxy_train.target`` keys."""
        return {k: v for k, v in asdict(self).items() if k != "description"}


_A100 = {"gpu": "NVIDIA A100 (bf16 dense peak 312 TFLOP/s, 400 W TDP)", "gpu_peak_flops": 312e12}
_H100 = {"gpu": "NVIDIA H100 SXM (bf16 dense peak 989 TFLOP/s, 700 W TDP)", "gpu_peak_flops": 989e12}

PRESETS: dict[str, Preset] = {
    "encoder-66m-3ep-1gpu": Preset("fine-tune a 66M-parameter encoder (DistilBERT size) for 3 epochs on 1 GPU",
                                   66e6, 3, 128, 1, **_A100, utilization=0.3, gpu_watts=300.0),
    "encoder-110m-3ep-1gpu": Preset("fine-tune a 110M-parameter encoder (BERT-base size) for 3 epochs on 1 GPU",
                                    110e6, 3, 128, 1, **_A100, utilization=0.3, gpu_watts=300.0),
    "encoder-355m-3ep-1gpu": Preset("fine-tune a 355M-parameter encoder (RoBERTa-large size) for 3 epochs on 1 GPU",
                                    355e6, 3, 256, 1, **_A100, utilization=0.35, gpu_watts=320.0),
    "decoder-1b-1ep-8gpu": Preset("fine-tune a 1.3B-parameter decoder for 1 epoch on 8 GPUs",
                                  1.3e9, 1, 512, 8, **_H100, utilization=0.35, gpu_watts=560.0),
}
"""Utilisation: what fine-tuning of this size typically reaches (30-40% MFU); ``gpu_watts``: the
mean board power while training, about 75-80% of the GPU's TDP."""
