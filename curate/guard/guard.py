"""The guard: no reduction that costs validation accuracy survives a run, and none is undone silently.

After each stage that removed rows, the guard judges the rows kept (:class:`ValidationJudge`):
a stage whose result is more than ``tolerance`` below the whole pool's validation macro-F1,
or (when it removed at least ``random_check_share`` of its input) below a random subset of
its input of the same size, has its removals restored. After the last stage the compound is
judged against the pool and a same-size random subset of it; while it fails, the stage that
cost the most validation macro-F1 is restored. Every restored row goes to ``restored.parquet``
with the guard's reason, and the report says what the guard did and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from curate.guard.judge import ValidationJudge
from curate.record.models import FinalCheck, Fit, StageVerdict
from curate.schema import ID, LEDGER_SCHEMA

HOLDS, BACKED_OFF, NO_SAFE_REDUCTION = "holds", "backed off", "no safe reduction found"


@dataclass
class Restoration:
    """Rows one stage removed that the guard gave back, and why."""

    stage: str
    ledger: pl.DataFrame
    reason: str
    at: str  # "stage" (right after the stage ran) or "final" (the compound check)

    def frame(self) -> pl.DataFrame:
        """The stage's ledger rows with the guard's reason (the restored-rows file's schema)."""
        return self.ledger.select(list(LEDGER_SCHEMA)).with_columns(guard_reason=pl.lit(self.reason, pl.String),
                                                                     guard_step=pl.lit(self.at, pl.String))


@dataclass
class GuardOutcome:
    """What the guard concluded for the whole run."""

    verdict: str
    reason: str
    checks: list[FinalCheck] = field(default_factory=list)


def _pct(value: float) -> str:
    return f"{100 * value:.2f} pt"


class Guard:
    """Judge each stage and the compound; say which removals to restore.

    Parameters
    ----------
    judge : ValidationJudge
        Scores training subsets on the validation split.
    random_check_share : float
        Compare a stage with random only when it removed at least this share of its input.
    """

    def __init__(self, judge: ValidationJudge, random_check_share: float = 0.05) -> None:
        self.judge = judge
        self.random_check_share = random_check_share
        self.energy_ = None  # the meter's reading of building the judge (the whole pool's reference fit)

    @property
    def reference(self) -> Fit:
        """The whole pool's validation scores."""
        return self.judge.reference_

    def check_stage(self, label: str, stage_input: pl.DataFrame, kept: pl.DataFrame, before: float) -> StageVerdict:
        """Judge one stage's kept rows; ``before`` is the validation macro-F1 of its input."""
        removed = stage_input.height - kept.height
        share = removed / stage_input.height if stage_input.height else 0.0
        after = self.judge.score(kept)
        tolerance = self.judge.settings.tolerance
        random, reason = None, None
        if not self.judge.within_tolerance(after):
            reason = (f"validation macro-F1 {after.macro_f1:.4f} is more than {_pct(tolerance)} below the whole "
                      f"pool's {self.reference.macro_f1:.4f}")
        elif share >= self.random_check_share and removed:
            random = self.judge.random_score(stage_input, kept.height)
            if after.macro_f1 < random:
                reason = (f"validation macro-F1 {after.macro_f1:.4f} is below a random subset of the stage's input "
                          f"of the same size ({random:.4f})")
        return StageVerdict(stage=label, removed=removed, removed_share=round(share, 6), macro_f1_before=before,
                            macro_f1_after=after.macro_f1, delta=round(after.macro_f1 - before, 6),
                            random_macro_f1=random, restored=reason is not None, reason=reason)

    def check_final(self, pool: pl.DataFrame, curated: pl.DataFrame, candidates: list[tuple[StageVerdict, pl.DataFrame]],
                    backed_off: int = 0) -> tuple[GuardOutcome, list[Restoration]]:
        """Judge the compound and back off until it holds.

        ``candidates`` are the stages whose removals stand, each with its ledger. While the
        curated rows are more than ``tolerance`` below the pool or below a same-size random
        subset of the pool, the stage that cost the most validation macro-F1 (the largest
        removal on a tie) is restored. ``backed_off`` counts the reductions already given up
        before this check (stages restored right after they ran, auto budgets that accepted no
        prefix): with them the verdict is "backed off", or "no safe reduction found" when
        nothing of the pool is left out.
        """
        restorations: list[Restoration] = []
        checks: list[FinalCheck] = []
        kept_ids = curated.select(ID)
        remaining = sorted(candidates, key=lambda item: (item[0].delta, -item[0].removed))
        while True:
            rows = pool.join(kept_ids, on=ID, how="semi")
            fit = self.judge.score(rows)
            random = self.judge.random_score(pool, rows.height) if rows.height < pool.height else fit.macro_f1
            holds = self.judge.within_tolerance(fit) and fit.macro_f1 >= random
            checks.append(FinalCheck(rows=rows.height, macro_f1=fit.macro_f1, random_macro_f1=random, holds=holds))
            if holds or not remaining:
                break
            verdict, ledger = remaining.pop(0)
            why = (f"the curated set's validation macro-F1 {fit.macro_f1:.4f} was "
                   + (f"more than {_pct(self.judge.settings.tolerance)} below the pool's {self.reference.macro_f1:.4f}"
                      if not self.judge.within_tolerance(fit) else f"below a random subset of the same size ({random:.4f})")
                   + f"; '{verdict.stage}' cost the most ({verdict.delta:+.4f})")
            restorations.append(Restoration(verdict.stage, ledger, why, "final"))
            checks[-1] = checks[-1].model_copy(update={"restored_stage": verdict.stage})
            kept_ids = pl.concat([kept_ids, ledger.select(pl.col(ID).cast(pl.String))])
        return self._outcome(checks, len(restorations) + backed_off, pool.height), restorations

    def _outcome(self, checks: list[FinalCheck], restored: int, pool_rows: int) -> GuardOutcome:
        last = checks[-1]
        if last.rows >= pool_rows and not restored:
            return GuardOutcome(HOLDS, "no stage removed a row of the pool: nothing to judge", checks)
        if last.rows >= pool_rows:
            return GuardOutcome(NO_SAFE_REDUCTION, "every reduction tried cost validation accuracy or did no better "
                                "than random, so the whole pool is kept", checks)
        if restored:
            return GuardOutcome(BACKED_OFF, f"gave up {restored} reduction(s); what remains holds: "
                                f"validation macro-F1 {last.macro_f1:.4f} against the pool's "
                                f"{self.reference.macro_f1:.4f} and random's {last.random_macro_f1:.4f}", checks)
        return GuardOutcome(HOLDS, f"the curated set's validation macro-F1 {last.macro_f1:.4f} is within "
                            f"{_pct(self.judge.settings.tolerance)} of the pool's {self.reference.macro_f1:.4f} and not "
                            f"below a random subset of the same size ({last.random_macro_f1:.4f})", checks)
