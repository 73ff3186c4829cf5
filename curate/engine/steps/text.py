"""Between split and curate: a run whose stages all stream their text moves it out of memory.

The input checkpoint already holds every row's text; the frames the run holds from here on carry
each row's row number in it (:data:`~curate.io.text_on_disk.ROW`) instead, stages read their text
from disk a batch at a time, and the outputs get it back when they are written.
"""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from curate.config import PipelineConfig
from curate.engine.steps import Run
from curate.engine.steps.read import Source
from curate.engine.steps.split import Splits
from curate.errors import ConfigError
from curate.io.text_on_disk import ROW, TextOnDisk
from curate.registry import get_stage
from curate.schema import ID, TEXT

AUTO_TEXT_BYTES = 64 * 2**20
"""``hold_text: auto`` keeps the text on disk when the run can and its text is larger than this."""


def check_hold_text(config: PipelineConfig) -> None:
    """Before the run directory is touched: ``hold_text: disk`` on a pipeline that cannot is a
    :class:`ConfigError` naming why."""
    reason = why_text_stays(config)
    if config.output.hold_text == "disk" and reason is not None:
        raise ConfigError(f"output.hold_text is disk, but {reason}", hint="set output.hold_text to auto or memory")


def why_text_stays(config: PipelineConfig, splits: Splits | None = None) -> str | None:
    """Why this run must hold its text in memory, or ``None`` when it can keep it on disk."""
    if config.engine != "local":
        return f"the {config.engine} engine holds its own blocks"
    if config.proxy_train is not None:
        return "proxy_train trains on the text"
    if splits is not None and (splits.validation is not None or splits.test is not None):
        return "a validation or test split is scored on the text"
    for stage_config in config.stages:
        stage = get_stage(stage_config.type)(stage_config)
        if not stage.streams_text():
            return f"stage '{stage.label}' needs every text at once"
    return None


def text_to_disk(run: Run, source: Source, splits: Splits) -> tuple[Run, Source, Splits]:
    """Per ``output.hold_text``, drop the text from every frame the run holds (it stays in the input
    checkpoint); returns the run (with ``texts``), the source and the splits to go on with."""
    choice = run.config.output.hold_text  # a `disk` the pipeline cannot take stopped in check_hold_text
    if choice == "memory" or why_text_stays(run.config, splits) is not None:
        return run, source, splits
    text_bytes = source.frame[TEXT].str.len_bytes().fill_null(0).cast(pl.Int64).to_numpy()
    if choice == "auto" and text_bytes.sum() <= AUTO_TEXT_BYTES:
        return run, source, splits
    frame = source.frame.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(ROW)).drop(TEXT)
    rows = frame.filter(pl.col(ID).is_in(source.empty[ID].implode()).not_())  # the rows with a text, as source.rows
    texts = TextOnDisk(run.run_dir.input, text_bytes)
    lean = replace(source, read=replace(source.read, frame=frame), frame=frame, rows=rows)
    run.observer.message(f"text held on disk ({text_bytes.sum() / 2**20:,.0f} MiB): stages read it from {run.run_dir.input}")
    return replace(run, texts=texts), lean, replace(splits, pool=rows)
