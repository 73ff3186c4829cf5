"""Proxy models: logistic regression on embeddings, a small PyTorch MLP, TF-IDF + logistic regression."""

from __future__ import annotations

from typing import Any

import numpy as np

from curate.errors import require
from curate.tfidf import tfidf_vectorizer


class MLPClassifier:
    """A one-hidden-layer PyTorch MLP with early stopping on a seeded validation split.

    Parameters
    ----------
    hidden : int
        Hidden units.
    max_epochs : int
        Epoch limit.
    patience : int
        Epochs without validation-loss improvement before stopping; the best epoch's weights are kept.
    seed : int
        Seeds the weights, the validation split and the batch order.
    """

    def __init__(self, hidden: int = 256, max_epochs: int = 50, patience: int = 3, seed: int = 0,
                 batch_size: int = 128, lr: float = 1e-3, validation: float = 0.1) -> None:
        self.hidden, self.max_epochs, self.patience, self.seed = hidden, max_epochs, patience, seed
        self.batch_size, self.lr, self.validation = batch_size, lr, validation

    def fit(self, X: np.ndarray, y: np.ndarray) -> MLPClassifier:
        """Train until the validation loss stops improving for ``patience`` epochs (on one thread:
        at this size thread start-up and spinning cost more than they give)."""
        torch = require("torch", "proxy", "torch")
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            self._fit(torch, np.require(X, np.float32, ["C", "W"]), y)
        finally:
            torch.set_num_threads(threads)
        return self

    def _fit(self, torch, X: np.ndarray, y: np.ndarray) -> None:
        torch.manual_seed(self.seed)
        generator = torch.Generator().manual_seed(self.seed)
        self.classes_, codes = np.unique(y, return_inverse=True)
        order = np.random.default_rng(self.seed).permutation(len(y))
        n_val = int(len(y) * self.validation) if len(y) >= 20 else 0
        inputs, targets = torch.from_numpy(X), torch.from_numpy(codes)
        val, train = torch.from_numpy(order[:n_val]), torch.from_numpy(order[n_val:])
        net = torch.nn.Sequential(torch.nn.Linear(X.shape[1], self.hidden), torch.nn.ReLU(),
                                  torch.nn.Linear(self.hidden, len(self.classes_)))
        optimizer = torch.optim.Adam(net.parameters(), lr=self.lr)
        loss_fn = torch.nn.CrossEntropyLoss()
        best, waited, state = float("inf"), 0, None
        self.best_epoch_ = self.epochs_ = 0
        for epoch in range(1, self.max_epochs + 1):
            net.train()
            for batch in train[torch.randperm(len(train), generator=generator)].split(self.batch_size):
                optimizer.zero_grad()
                loss_fn(net(inputs[batch]), targets[batch]).backward()
                optimizer.step()
            self.epochs_ = epoch
            if n_val == 0:
                continue
            net.eval()
            with torch.no_grad():
                val_loss = float(loss_fn(net(inputs[val]), targets[val]))
            if val_loss < best - 1e-6:
                best, waited, self.best_epoch_ = val_loss, 0, epoch
                state = {k: v.clone() for k, v in net.state_dict().items()}
            else:
                waited += 1
                if waited >= self.patience:
                    break
        if state is not None:
            net.load_state_dict(state)
        self.net_ = net.eval()

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most probable class of each row."""
        torch = require("torch", "proxy", "torch")
        with torch.no_grad():
            logits = self.net_(torch.from_numpy(np.require(X, np.float32, ["C", "W"])))
        return self.classes_[logits.argmax(dim=1).numpy()]


def make_model(kind: str, seed: int, max_iter: int = 1000, hidden: int = 256, max_epochs: int = 50,
               patience: int = 3) -> Any:
    """An unfitted proxy model: ``logreg`` and ``mlp`` take embeddings, ``tfidf`` takes texts."""
    if kind == "mlp":
        return MLPClassifier(hidden=hidden, max_epochs=max_epochs, patience=patience, seed=seed)
    linear = require("sklearn.linear_model", "proxy", "scikit-learn")
    if kind == "logreg":
        return linear.LogisticRegression(max_iter=max_iter, random_state=seed)
    pipeline = require("sklearn.pipeline", "proxy", "scikit-learn")
    # saga suits sparse TF-IDF: ~15x faster than lbfgs here at the same macro-F1
    return pipeline.make_pipeline(tfidf_vectorizer(),
                                  linear.LogisticRegression(solver="saga", tol=1e-3, max_iter=max_iter,
                                                            random_state=seed))
