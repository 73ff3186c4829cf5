"""Accuracy and macro-F1, and paired bootstrap intervals of their differences between arms."""

from __future__ import annotations

import numpy as np


def _scores(y: np.ndarray, pred: np.ndarray, weights: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and macro-F1 for each row of ``weights`` (test-row multiplicities), shape [B]."""
    total = weights.sum(axis=1)
    accuracy = weights @ (y == pred).astype(np.float64) / total
    f1 = []
    for c in classes:
        true_c, pred_c = y == c, pred == c
        tp = weights @ (true_c & pred_c).astype(np.float64)
        fp = weights @ (~true_c & pred_c).astype(np.float64)
        fn = weights @ (true_c & ~pred_c).astype(np.float64)
        denominator = 2 * tp + fp + fn
        f1.append(np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0))
    return accuracy, np.mean(f1, axis=0)


def scores(y: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """(accuracy, macro-F1) of ``pred``; macro-F1 averages the classes present in ``y``."""
    accuracy, f1 = _scores(y, pred, np.ones((1, len(y))), np.unique(y))
    return float(accuracy[0]), float(f1[0])


def paired_differences(y: np.ndarray, preds_a: np.ndarray, preds_b: np.ndarray, seed: int,
                       resamples: int) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap resamples of mean-over-seeds (b - a) in accuracy and in macro-F1.

    ``preds_a`` and ``preds_b`` are [seeds, n] predictions on the same rows ``y``; every
    resample reweights the rows identically for both (a paired bootstrap). Returns two
    arrays of ``resamples`` differences: accuracy, macro-F1.
    """
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    n = len(y)
    deltas_acc, deltas_f1 = [], []
    for start in range(0, resamples, 200):
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=min(200, resamples - start)).astype(np.float64)
        acc_a, f1_a = zip(*(_scores(y, p, weights, classes) for p in preds_a), strict=True)
        acc_b, f1_b = zip(*(_scores(y, p, weights, classes) for p in preds_b), strict=True)
        deltas_acc.append(np.mean(acc_b, axis=0) - np.mean(acc_a, axis=0))
        deltas_f1.append(np.mean(f1_b, axis=0) - np.mean(f1_a, axis=0))
    return np.concatenate(deltas_acc), np.concatenate(deltas_f1)


def paired_delta(y: np.ndarray, preds_a: np.ndarray, preds_b: np.ndarray, seed: int, resamples: int,
                 confidence: float) -> dict[str, list[float]]:
    """Intervals of mean-over-seeds (b - a) in accuracy and macro-F1, bootstrapping test rows.

    ``preds_a`` and ``preds_b`` are [seeds, n] predictions on the same test rows; every
    resample reweights the rows identically for both arms (a paired bootstrap).
    """
    accuracy, macro_f1 = paired_differences(y, preds_a, preds_b, seed, resamples)
    tail = 100 * (1 - confidence) / 2
    return {name: np.percentile(values, [tail, 100 - tail]).round(6).tolist()
            for name, values in (("accuracy", accuracy), ("macro_f1", macro_f1))}
