"""`budget: auto`: the smallest prefix of a stage's ranking that trains as well as the whole pool.

A stage that keeps a fraction (active selection: query order; prototype pruning:
prototypicality) ranks its rows, then offers the ranking to a :class:`PrefixSearch`. The search
judges prefixes at a grid of fractions, smallest first, and accepts the first that is, with the
guard's confidence (a one-sided bound over a paired bootstrap of the validation rows), within
the tolerance of the whole pool's validation macro-F1 and not below a random subset of the
stage's input of the same size (strictly: a prefix whose predictions tie random's, as when every
model predicts the majority class, is no evidence). The random comparison is Bonferroni-corrected
for the number of times the search has made it: with labels that carry no signal, a search that
compares prefix after prefix would otherwise beat random by luck somewhere along the grid. Accepting on the point estimates alone would pick the prefix
that is just within tolerance by luck of the validation sample, and lose on new data. Every
prefix judged is a point of the learning curve.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from curate.guard.judge import ValidationJudge
from curate.record.models import AutoBudget, CurvePoint

FRACTIONS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9)


class PrefixSearch:
    """Judge prefixes of a ranking of ``frame``'s rows; stop at the first one the guard accepts.

    Parameters
    ----------
    frame : polars.DataFrame
        The stage's input (rows are ranked by their position in it).
    judge : ValidationJudge
        The run's validation judge.
    fractions : sequence of float
        Prefix sizes to try, as fractions of ``frame``; tried in increasing order.
    """

    def __init__(self, frame: pl.DataFrame, judge: ValidationJudge, fractions: tuple[float, ...] = FRACTIONS) -> None:
        self.frame = frame
        self.judge = judge
        self.sizes = sorted({math.ceil(f * frame.height) for f in fractions if 0 < f < 1} - {0, frame.height})
        self.curve_: list[CurvePoint] = []
        self.chosen_: int | None = None
        self.random_looks_ = 0

    @property
    def largest(self) -> int:
        """The largest prefix the search may judge (rows); a ranking longer than this is not needed."""
        return self.sizes[-1] if self.sizes else 0

    def offer(self, ranking: np.ndarray) -> bool:
        """Judge every untried prefix size that ``ranking`` (positions, best first) now covers.

        Returns True once a prefix is accepted (the caller may stop ranking).
        """
        while self.chosen_ is None and len(self.curve_) < len(self.sizes) and len(ranking) >= self.sizes[len(self.curve_)]:
            rows = self.sizes[len(self.curve_)]
            prefix = self.frame.gather(np.asarray(ranking[:rows], dtype=np.int64))
            fit = self.judge.score(prefix)
            vs_pool = self.judge.compare(fit, [self.judge.reference_])
            random = vs_random = None
            if vs_pool.lower >= -self.judge.settings.tolerance:
                randoms = self.judge.random_fits(self.frame, rows)
                random = round(float(np.mean([r.macro_f1 for r in randoms])), 6)
                self.random_looks_ += 1
                vs_random = self.judge.compare(fit, randoms, looks=self.random_looks_).lower
            accepted = vs_random is not None and vs_random > 0  # a tie is not evidence of beating random
            self.curve_.append(CurvePoint(fraction=round(rows / self.frame.height, 4), rows=rows, macro_f1=fit.macro_f1,
                                          accuracy=fit.accuracy, kwh_per_fit=fit.kwh, seconds_per_fit=fit.seconds,
                                          lower_vs_pool=vs_pool.lower, random_macro_f1=random,
                                          lower_vs_random=vs_random, accepted=accepted))
            if accepted:
                self.chosen_ = rows
        return self.chosen_ is not None

    def keep(self) -> int:
        """Rows to keep: the accepted prefix, or every row when none was accepted."""
        return self.chosen_ if self.chosen_ is not None else self.frame.height

    def summary(self) -> AutoBudget:
        """The choice, why, and the learning curve (the funnel row's ``auto_budget``)."""
        reference = self.judge.reference_
        confidence = f"{self.judge.settings.confidence:.0%}"
        if self.chosen_ is not None:
            why = (f"smallest prefix that is, with {confidence} confidence, within {self.judge.settings.tolerance:g} "
                   f"validation macro-F1 of the whole pool ({reference.macro_f1:.4f}) and not below a random subset "
                   "of the same size")
        else:
            why = (f"no prefix tried was, with {confidence} confidence, within tolerance of the whole pool and not "
                   "below random: every row kept")
        return AutoBudget(chosen_rows=self.keep(), chosen_fraction=round(self.keep() / max(self.frame.height, 1), 4),
                          reason=why, reference_macro_f1=reference.macro_f1, tolerance=self.judge.settings.tolerance,
                          confidence=self.judge.settings.confidence, validation_rows=self.judge.validation_rows,
                          model=self.judge.settings.model, curve=list(self.curve_))


def prefix_search(stage, frame: pl.DataFrame, ctx) -> PrefixSearch:
    """A :class:`PrefixSearch` over ``frame`` with the run's judge, or a StageError naming what is missing."""
    from curate.errors import StageError

    if ctx.validation is None:
        raise StageError(f"stage '{stage.label}' uses budget: auto, and this run has no validation split to judge it",
                         hint="set input.label (labels of at least two classes) and keep the guard on, "
                              "or give the stage a fixed budget")
    return PrefixSearch(frame, ctx.validation)
