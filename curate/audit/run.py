"""The audit of a finished run: funnel, removed rows, clusters, scores, energy and sweeps as views."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from curate.audit import html, svg
from curate.audit.minhash import DEFAULT_THRESHOLDS, minhash_sweep
from curate.audit.sweep import score_sweep, similarity_sweep, similarity_threshold, stage_row
from curate.audit.view import View, frame_table
from curate.audit.views import duplicate_clusters, removed_samples, score_columns, score_histogram
from curate.errors import InputError
from curate.record import RunDir, RunRecord, read_record
from curate.stages.base import Threshold


class RunAudit:
    """Views of one run directory, for Jupyter; every method returns a :class:`View`.

    Parameters
    ----------
    run_dir : str or Path
        A run directory written by ``curate run`` / ``curate.run``.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = RunDir(Path(run_dir))
        if not self.run_dir.report.exists() or not self.run_dir.removed.exists():
            raise InputError(f"{run_dir} is not a finished run directory (no report.json / removed.parquet)",
                             hint="pass the folder `curate run` printed, or RunResult.run_dir")
        self.report: RunRecord = read_record(self.run_dir.root)

    @cached_property
    def ledger(self) -> pl.DataFrame:
        """removed.parquet: one row per removed sample."""
        return pl.read_parquet(self.run_dir.removed)

    @cached_property
    def curated(self) -> pl.DataFrame:
        """curated.parquet: the kept rows."""
        return pl.read_parquet(self.run_dir.curated)

    def funnel(self) -> View:
        """Rows and % kept per stage, as a chart and a table with time and energy."""
        data = pl.DataFrame([{**row.model_dump(include={"stage", "type", "rows_in", "rows_out", "removed", "kept_pct",
                                                         "seconds", "cpu_seconds"}),
                              "kwh": row.energy.kwh if row.energy else None,
                              "energy_method": row.energy.method if row.energy else None} for row in self.report.funnel])
        return View("funnel", html.funnel_section(self.report).replace("<h2>Funnel</h2>", ""), data)

    def removed(self, reason: str | None = None, stage: str | None = None, n: int = 20) -> View:
        """Removed rows with their text, per (stage, reason); filter by ``reason`` and/or ``stage``."""
        samples = removed_samples(self.run_dir, self.ledger, per_reason=n, reason=reason, stage=stage)
        rows = [{"stage": g.stage, "reason": g.reason, **e.model_dump()} for g in samples for e in g.examples]
        data = pl.DataFrame(rows) if rows else pl.DataFrame(schema={"stage": pl.String, "reason": pl.String})
        body = html.samples_html(samples, root=None) or '<p class="note">No rows removed for this filter.</p>'
        title = "removed rows" + "".join(f", {k} = {v}" for k, v in (("stage", stage), ("reason", reason)) if v)
        return View(title, body, data)

    def clusters(self, stage: str | None = None, top: int = 10, shown: int = 5) -> View:
        """The ``top`` largest duplicate clusters (per stage): kept row beside removed rows and similarity."""
        clusters = duplicate_clusters(self.run_dir, self.ledger, top=top, shown=shown, stage=stage)
        data = pl.DataFrame([c.model_dump(include={"stage", "cluster_id", "size", "min_similarity", "max_similarity"})
                             | {"kept_id": c.kept.id, "kept_text": c.kept.text} for c in clusters]) \
            if clusters else pl.DataFrame()
        return View(f"largest duplicate clusters{f' of {stage}' if stage else ''}",
                    html.clusters_section(clusters, root=None), data)

    def score_columns(self) -> list[str]:
        """The per-row score columns this run wrote: quality scores (``q_*``) and columns a stage declared a cut on."""
        return score_columns(self.run_dir, self.report)

    def scores(self, column: str, threshold: float | None = None, side: Literal["below", "above"] = "below",
               bins: int = 30) -> View:
        """Histogram of a score column over kept and removed rows, with the thresholds marked.

        The thresholds are those the scoring stage declared; pass ``threshold`` (and ``side``,
        the side that is removed) to draw another.
        """
        cuts = None if threshold is None else [Threshold(column=column, value=threshold, removes=side, reason="(audit)")]
        hist = score_histogram(self.run_dir, self.report, self.ledger, column, bins=bins, thresholds=cuts)
        if hist.stage is None and not hist.edges:
            raise InputError(f"no score column '{column}' in this run",
                             hint=f"score columns are: {', '.join(self.score_columns()) or 'none'}")
        return View(f"scores: {column}", html.scores_section([hist], root=None), hist)

    def energy(self) -> View:
        """Curation energy per stage, the proxy comparison (full / curated / random), break-even and sources."""
        body = html.energy_section(self.report).replace("<h2>Energy and proxy training</h2>", "")
        data = pl.DataFrame([{"stage": row.stage, **row.energy.model_dump(exclude={"sources"})}
                             for row in self.report.stages if row.energy is not None])
        return View("energy", body, {"stages": data, "curation": self.report.totals.curation_energy,
                                     "proxy": self.report.proxy})

    def sweep_targets(self) -> list[str]:
        """What :meth:`sweep` can sweep here: score columns, then similarity-based dedup stages.

        A dedup stage qualifies when its ledger names the rows it duplicated with similarities
        below 1 (exact dedup, whose scores are all 1, has no threshold to move).
        """
        similar = (self.ledger.filter(pl.col("duplicate_of").is_not_null() & pl.col("score").is_not_null())
                   .group_by("stage", maintain_order=True).agg(pl.col("score").min())
                   .filter(pl.col("score") < 1.0)["stage"].to_list())
        return self.score_columns() + similar

    def sweep(self, target: str, thresholds: list[float] | np.ndarray | None = None, points: int = 50) -> View:
        """"Rows removed vs threshold" from the run's cached outputs, without recomputing anything.

        ``target`` is a score column (``q_*``: quality-threshold sweep) or the label of a
        similarity-based dedup stage: a ``minhash_dedup`` stage is swept over Jaccard thresholds
        from its cached signatures (:func:`~curate.audit.minhash_sweep`), ``semantic_dedup`` over
        cosine thresholds (``eps = 1 - threshold``) from its cached nearest neighbours.
        """
        if target in self.score_columns():
            table, info = score_sweep(self.run_dir.root, target, thresholds, points=points)
            x_label = f"{target} threshold ({info['side']} removed)"
        elif stage_row(self.report, target, self.run_dir.root).type == "minhash_dedup":
            table = minhash_sweep(self.run_dir.root, DEFAULT_THRESHOLDS if thresholds is None else thresholds,
                                  stage=target).rename({"rows_removed": "removed"})
            cut = similarity_threshold(stage_row(self.report, target, self.run_dir.root))
            info = {"run_threshold": cut.value if cut is not None else None}
            x_label = "Jaccard threshold (cached signatures)"
        else:
            table, info = similarity_sweep(self.run_dir.root, target, thresholds, points=points)
            x_label = f"similarity threshold ({info['source']})"
        known = table.filter(pl.col("removed").is_not_null())
        chart = svg.line_chart([("rows removed", known["threshold"].to_list(), known["removed"].to_list())],
                               f"rows removed vs threshold: {target}", f"sweep-{target}", x_label, "rows removed",
                               marker_x=info.get("run_threshold"))
        return View(f"sweep: {target}", chart + frame_table(table, max_rows=12), table)

    def _repr_html_(self) -> str:
        totals = self.report.totals
        head = (f"<b>{self.report.name}</b>: kept {totals.rows_kept:,} of {totals.rows_in:,} rows "
                f"({totals.kept_pct}% of the pool); views: .funnel() .removed() .clusters() .scores(col) .energy() "
                f".sweep(x)")
        return View(f"run {self.run_dir.root}", head + self.funnel().html)._repr_html_()


def load(run_dir: str | Path) -> RunAudit:
    """Open a finished run directory for auditing (see :class:`RunAudit`)."""
    return RunAudit(run_dir)
