"""Early stopping on validation loss, shared by the proxy's torch models (the MLP and the transformer)."""

from __future__ import annotations

from typing import Any


class EarlyStopping:
    """Keep the weights of the epoch with the lowest validation loss; stop after ``patience``
    epochs without a lower one.

    Parameters
    ----------
    patience : int
        Epochs without improvement (by more than 1e-6) before stopping.
    """

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.best_loss_ = float("inf")
        self.best_epoch_ = 0
        self.waited_ = 0
        self.state_: dict[str, Any] | None = None

    def should_stop(self, epoch: int, val_loss: float, net: Any) -> bool:
        """Record ``epoch``'s validation loss (and ``net``'s weights when it is the best so far);
        True once ``patience`` epochs in a row did not improve on the best."""
        if val_loss < self.best_loss_ - 1e-6:
            self.best_loss_, self.waited_, self.best_epoch_ = val_loss, 0, epoch
            self.state_ = {k: v.detach().clone() for k, v in net.state_dict().items()}
            return False
        self.waited_ += 1
        return self.waited_ >= self.patience

    def restore(self, net: Any) -> None:
        """Load the best epoch's weights into ``net`` (nothing when no epoch was validated)."""
        if self.state_ is not None:
            net.load_state_dict(self.state_)
