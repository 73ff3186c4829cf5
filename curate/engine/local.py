"""The local engine: a run's steps (:mod:`curate.engine.steps`) in this process, each stage applied in-process."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from curate.config import PipelineConfig
from curate.engine.observer import RunObserver
from curate.engine.steps import Run
from curate.engine.steps.curate import curate
from curate.engine.steps.guard import open_guard, review
from curate.engine.steps.prove import prove
from curate.engine.steps.read import take_input
from curate.engine.steps.record import write_outcome, write_run_record
from curate.engine.steps.split import split
from curate.engine.steps.text import check_hold_text, text_to_disk
from curate.io.readers import ReadResult, read_input
from curate.record import RunDir, RunRecord, StageRecord
from curate.stages.base import RunContext, Stage, StageResult, map_in_blocks

TEXT_BLOCK_ROWS = 16_384
"""Rows per block a ``map`` stage gets (with their text) when the run keeps the text on disk."""


@dataclass
class EngineOutput:
    """Everything a run produced, in memory (``curated`` is None when the text stayed on disk: the rows
    are in the run directory's curated.parquet)."""

    curated: pl.DataFrame | None
    removed: pl.DataFrame
    report: RunRecord
    run_dir: RunDir
    records: list[StageRecord] = field(default_factory=list)


class LocalEngine:
    """Runs a pipeline in this process.

    Parameters
    ----------
    config : PipelineConfig
        The validated pipeline.
    observer : RunObserver, optional
        Receives progress events (the CLI draws bars from them).
    """

    def __init__(self, config: PipelineConfig, observer: RunObserver | None = None) -> None:
        self.config = config
        self.observer = observer or RunObserver()

    def run(self, data: Any = None) -> EngineOutput:
        """Read the input, claim and lock the run directory, then: split off the test and validation sets,
        curate (every stage, each checked by the guard), guard (the final check), prove (proxy training),
        record (outputs and the run record).

        Input that cannot be read (or ``hold_text: disk`` where the stages cannot) stops the run
        before the run directory is touched. A run whose stages all stream their text keeps it on
        disk from the split on (``output.hold_text``).
        """
        started = time.time()
        check_hold_text(self.config)
        read = self.read(data)
        with RunDir(self.config.run_dir).claim() as run_dir:
            run = Run(self.config, run_dir, self.observer)
            source = take_input(run, read)
            splits = split(run, source)
            del read
            run, source, splits = text_to_disk(run, source, splits)
            guard = open_guard(run, splits)
            curation = curate(run, source, splits, guard, self.execute)
            curation = review(run, guard, splits, curation)
            removed = write_outcome(run, source, splits, curation)
            proxy = prove(run, splits, curation)
            record = write_run_record(run, source, splits, curation, removed, proxy, guard is not None,
                                      time.time() - started)
            return EngineOutput(curation.kept if run.texts is None else None, removed, record, run_dir, curation.records)

    def read(self, data: Any = None) -> ReadResult:
        """Read the configured input (or ``data``); the Ray engine reads shard folders in parallel."""
        return read_input(self.config.input, data)

    def execute(self, stage: Stage, df: pl.DataFrame, ctx: RunContext) -> StageResult:
        """Apply one stage to ``df`` (a ``map`` stage a block at a time when the text is on disk); the
        Ray engine overrides only this."""
        if ctx.texts is not None and stage.kind == "map":
            return map_in_blocks(stage, df, ctx, blocks=-(-df.height // TEXT_BLOCK_ROWS))
        return stage.apply(df, ctx)
