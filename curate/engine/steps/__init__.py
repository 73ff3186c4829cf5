"""The steps of a run, in order, shared by both engines; each step's output is the next one's input.

read (:mod:`.read`) → split (:mod:`.split`) → text to disk (:mod:`.text`, for runs that can) →
curate (:mod:`.curate`, the stages with the guard's per-stage check) → guard (:mod:`.guard`, the
final check) → prove (:mod:`.prove`, proxy training) → record (:mod:`.record`, the run
directory's outputs and the run record).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from curate.config import PipelineConfig
from curate.energy import Budget
from curate.engine.observer import RunObserver
from curate.guard import Restoration
from curate.io.text_on_disk import TextOnDisk
from curate.record import RunDir, StageRecord
from curate.record.models import GuardRecord
from curate.schema import empty_ledger


@dataclass(frozen=True)
class Run:
    """What every step shares: the validated pipeline, the claimed run directory, the observer, and
    where the text is when the run keeps it on disk (``texts``; see :mod:`.text`)."""

    config: PipelineConfig
    run_dir: RunDir
    observer: RunObserver
    texts: TextOnDisk | None = None


@dataclass
class Curation:
    """What the stages (and then the guard) left: the kept rows, every ledger (the empty-text one first),
    each stage's record, the rows the guard restored, the carbon budget, why the run stopped early (if
    it did) and the guard's record (after its final check)."""

    kept: pl.DataFrame
    ledgers: list[pl.DataFrame]
    records: list[StageRecord]
    restorations: list[Restoration]
    budget: Budget
    stopped: str | None = None
    guard: GuardRecord | None = None

    def removed(self) -> pl.DataFrame:
        """Every ledger row, in one frame with the canonical schema."""
        return pl.concat([empty_ledger(), *self.ledgers], how="vertical_relaxed")
