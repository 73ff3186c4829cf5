"""The Python API: ``curate.run`` for notebooks and scripts; the CLI is a thin layer on it."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import polars as pl

from curate.config import PipelineConfig, load_config, validate_config
from curate.engine.observer import RunObserver
from curate.errors import CurateError
from curate.record import RunRecord


class RunResult:
    """A finished run: the curated rows, the ledger, the run record (report.json) and the run directory.

    When the run kept the text on disk (``output.hold_text``), ``curated`` is None when built and is
    read from the run directory's curated.parquet the first time it is asked for, so a run whose
    caller never looks at the rows never holds them; if a later run has rewritten that file by then,
    asking says so rather than returning the later run's rows.
    """

    def __init__(self, curated: pl.DataFrame | None, removed: pl.DataFrame, report: RunRecord, run_dir: Path,
                 config: PipelineConfig) -> None:
        self.removed, self.report, self.run_dir, self.config = removed, report, run_dir, config
        self._curated = curated
        self._file = Path(run_dir).resolve() / "curated.parquet"  # a later chdir does not move it
        self._written = None if curated is not None else _identity(self._file)

    @property
    def curated(self) -> pl.DataFrame:
        """The curated rows (the input's columns, then those the stages added)."""
        if self._curated is None:
            if not self._file.exists() or _identity(self._file) != self._written:
                raise CurateError(f"{self._file} is no longer this run's output: a later run rewrote it",
                                  hint="read result.curated before running the pipeline again, or give the runs different names")
            self._curated = pl.read_parquet(self._file)
        return self._curated

    @curated.setter
    def curated(self, frame: pl.DataFrame) -> None:
        self._curated = frame

    def __repr__(self) -> str:
        return f"RunResult(run_dir={str(self.run_dir)!r}, rows_kept={self.report.totals.rows_kept})"

    def to_datasets(self):
        """The curated rows as a Hugging Face ``datasets.Dataset``."""
        import datasets

        return datasets.Dataset(self.curated.to_arrow())

    def _repr_html_(self) -> str:
        totals = self.report.totals
        rows = "".join(f"<tr><td>{escape(f.stage)}</td><td>{f.rows_in:,}</td><td>{f.rows_out:,}</td>"
                       f"<td>{f.kept_pct}%</td></tr>" for f in self.report.funnel)
        return (f"<b>curate run</b> {escape(str(self.run_dir))}: kept {totals.rows_kept:,} of {totals.rows_in:,} rows"
                f"<table><tr><th>stage</th><th>in</th><th>out</th><th>kept % of pool</th></tr>{rows}</table>")


def _identity(path: Path) -> tuple[int, int, int]:
    """Which file ``path`` is: inode, size and modification time (a rewrite changes them)."""
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def as_config(config: PipelineConfig | dict | str | Path) -> PipelineConfig:
    """Accept a config object, a dict, or a path to a YAML file."""
    if isinstance(config, PipelineConfig):
        return config
    if isinstance(config, dict):
        return validate_config(config)
    return load_config(config)


def run(config: PipelineConfig | dict | str | Path, data: Any = None,
        observer: RunObserver | None = None) -> RunResult:
    """Run a pipeline and write its run directory.

    Parameters
    ----------
    config : PipelineConfig, dict, str or Path
        The pipeline, or the path of its YAML file.
    data : polars.DataFrame, pandas.DataFrame or datasets.Dataset, optional
        Rows to curate instead of ``config.input``'s path (its column names still apply).
    observer : RunObserver, optional
        Receives progress events.

    Returns
    -------
    RunResult
    """
    config = as_config(config)
    if config.engine == "ray":
        from curate.engine.ray import RayEngine as Engine
    else:
        from curate.engine.local import LocalEngine as Engine
    output = Engine(config, observer).run(data)
    return RunResult(output.curated, output.removed, output.report, output.run_dir.root, config)
