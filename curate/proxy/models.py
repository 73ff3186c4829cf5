"""Proxy models: logistic regression on embeddings, a PyTorch MLP, and TF-IDF + logistic regression,
linear SVM or naive Bayes (the model families of the architecture bake-off; the transformer
fine-tune is in :mod:`curate.proxy.transformer`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from curate.errors import require
from curate.proxy.early_stopping import EarlyStopping
from curate.tfidf import tfidf_vectorizer

TEXT_MODELS = frozenset({"tfidf", "svm", "nb", "transformer"})
"""Model kinds that take texts; the others (``logreg``, ``mlp``) take embeddings."""
FAMILIES = {
    "tfidf": "TF-IDF + logistic regression",
    "svm": "TF-IDF + linear SVM",
    "nb": "TF-IDF + complement naive Bayes",
    "logreg": "logistic regression on embeddings",
    "mlp": "MLP on embeddings (PyTorch, early stopping)",
    "transformer": "transformer fine-tune (PyTorch, early stopping)",
}
EpochCallback = Callable[[int, float], None]


class MLPClassifier:
    """A PyTorch MLP (ReLU, dropout) with early stopping on a seeded validation split.

    Parameters
    ----------
    hidden : int
        Hidden units per layer.
    max_epochs : int
        Epoch limit.
    patience : int
        Epochs without validation-loss improvement before stopping; the best epoch's weights are kept.
    seed : int
        Seeds the weights, the validation split and the batch order.
    layers : int
        Hidden layers.
    dropout : float
        Dropout after each hidden layer.
    threads : int
        Torch threads while fitting (one by default: small nets gain little from more).
    """

    def __init__(self, hidden: int = 256, max_epochs: int = 50, patience: int = 3, seed: int = 0,
                 batch_size: int = 128, lr: float = 1e-3, validation: float = 0.1, layers: int = 1,
                 dropout: float = 0.0, weight_decay: float = 0.0, threads: int = 1) -> None:
        self.hidden, self.max_epochs, self.patience, self.seed = hidden, max_epochs, patience, seed
        self.batch_size, self.lr, self.validation = batch_size, lr, validation
        self.layers, self.dropout, self.weight_decay, self.threads = layers, dropout, weight_decay, threads

    def fit(self, X: np.ndarray, y: np.ndarray, on_epoch: EpochCallback | None = None) -> MLPClassifier:
        """Train until the validation loss stops improving for ``patience`` epochs.

        ``on_epoch(epoch, validation_loss)`` is called after every epoch (the meter's laps).
        """
        torch = require("torch", "proxy", "torch")
        threads = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            self._fit(torch, np.require(X, np.float32, ["C", "W"]), y, on_epoch)
        finally:
            torch.set_num_threads(threads)
        return self

    def _net(self, torch, inputs: int, classes: int):
        parts, width = [], inputs
        for _ in range(self.layers):
            parts += [torch.nn.Linear(width, self.hidden), torch.nn.ReLU()]
            parts += [torch.nn.Dropout(self.dropout)] if self.dropout else []
            width = self.hidden
        return torch.nn.Sequential(*parts, torch.nn.Linear(width, classes))

    def _fit(self, torch, X: np.ndarray, y: np.ndarray, on_epoch: EpochCallback | None) -> None:
        torch.manual_seed(self.seed)
        generator = torch.Generator().manual_seed(self.seed)
        self.classes_, codes = np.unique(y, return_inverse=True)
        order = np.random.default_rng(self.seed).permutation(len(y))
        n_val = int(len(y) * self.validation) if len(y) >= 20 else 0
        inputs, targets = torch.from_numpy(X), torch.from_numpy(codes)
        val, train = torch.from_numpy(order[:n_val]), torch.from_numpy(order[n_val:])
        net = self._net(torch, X.shape[1], len(self.classes_))
        optimizer = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        loss_fn = torch.nn.CrossEntropyLoss()
        stopper = EarlyStopping(self.patience)
        self.epochs_ = 0
        for epoch in range(1, self.max_epochs + 1):
            net.train()
            for batch in train[torch.randperm(len(train), generator=generator)].split(self.batch_size):
                optimizer.zero_grad()
                loss_fn(net(inputs[batch]), targets[batch]).backward()
                optimizer.step()
            self.epochs_ = epoch
            if n_val == 0:
                if on_epoch is not None:
                    on_epoch(epoch, float("nan"))
                continue
            net.eval()
            with torch.no_grad():
                val_loss = float(loss_fn(net(inputs[val]), targets[val]))
            if on_epoch is not None:
                on_epoch(epoch, val_loss)
            if stopper.should_stop(epoch, val_loss, net):
                break
        stopper.restore(net)
        self.best_epoch_ = stopper.best_epoch_ if n_val else self.epochs_
        self.net_ = net.eval()

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable class of each row."""
        torch = require("torch", "proxy", "torch")
        with torch.no_grad():
            logits = self.net_(torch.from_numpy(np.require(X, np.float32, ["C", "W"])))
        return self.classes_[logits.argmax(dim=1).numpy()]


def make_model(kind: str, seed: int, max_iter: int = 1000, hidden: int = 256, max_epochs: int = 50,
               patience: int = 3, options: Mapping[str, Any] | None = None) -> Any:
    """An unfitted proxy model: ``logreg`` and ``mlp`` take embeddings; ``tfidf``, ``svm``, ``nb`` and
    ``transformer`` take texts. ``options`` are further settings of the MLP or the transformer."""
    options = dict(options or {})
    if kind == "mlp":
        return MLPClassifier(hidden=hidden, max_epochs=max_epochs, patience=patience, seed=seed, **options)
    if kind == "transformer":
        from curate.proxy.transformer import TransformerClassifier

        return TransformerClassifier(max_epochs=max_epochs, patience=patience, seed=seed, **options)
    linear = require("sklearn.linear_model", "proxy", "scikit-learn")
    if kind == "logreg":
        return linear.LogisticRegression(max_iter=max_iter, random_state=seed)
    if kind in {"svm", "nb"}:
        return _text_pipeline(_svm(seed, max_iter) if kind == "svm" else _naive_bayes())
    # saga suits sparse TF-IDF: ~15x faster than lbfgs here at the same macro-F1
    return _text_pipeline(linear.LogisticRegression(solver="saga", tol=1e-3, max_iter=max_iter, random_state=seed))


def _text_pipeline(classifier: Any) -> Any:
    """TF-IDF (sublinear term frequency, curate's tokens) followed by ``classifier``."""
    pipeline = require("sklearn.pipeline", "proxy", "scikit-learn")
    return pipeline.make_pipeline(tfidf_vectorizer(), classifier)


def _svm(seed: int, max_iter: int) -> Any:
    svm = require("sklearn.svm", "proxy", "scikit-learn")
    return svm.LinearSVC(max_iter=max_iter, random_state=seed)  # scikit-learn's defaults: nothing tuned on a test set


def _naive_bayes() -> Any:
    naive_bayes = require("sklearn.naive_bayes", "proxy", "scikit-learn")
    return naive_bayes.ComplementNB()
