"""Step 6, record: the run directory's outputs (curated rows, ledger, restored rows), then the typed run
record (report.json), the manifest and the report page."""

from __future__ import annotations

import polars as pl

from curate.audit.html import write_page
from curate.audit.views import build_views
from curate.engine.invariants import check_partition
from curate.engine.steps import Curation, Run
from curate.engine.steps.read import Source
from curate.engine.steps.split import Splits
from curate.io.text_on_disk import write_with_text
from curate.io.writers import write_json, write_parquet
from curate.record import RunRecord, build_record, write_record
from curate.record.build import budget_use
from curate.record.manifest import build_manifest
from curate.record.models import ProxyOutcome, Split
from curate.record.models import Splits as SplitsRecord
from curate.schema import ID


def write_outcome(run: Run, source: Source, splits: Splits, curation: Curation) -> pl.DataFrame:
    """Check that no row was lost (kept + removed + set aside == input), write curated.parquet,
    removed.parquet and restored.parquet; returns the whole ledger."""
    removed = curation.removed()
    set_aside = [f.select(ID) for f in (splits.split_off, splits.validation) if f is not None]
    check_partition(source.frame[ID], pl.concat([curation.kept.select(ID), *set_aside]), removed, "the run")
    run_dir = run.run_dir
    made = {"curate.text": source.read.text}  # the column or template every stage curated
    if run.texts is None:
        write_parquet(curation.kept, run_dir.curated, made)
    else:
        write_with_text(curation.kept, run.texts, run_dir.curated, made)
    write_parquet(removed, run_dir.removed, made)
    if curation.restorations:
        write_parquet(pl.concat([r.frame() for r in curation.restorations]), run_dir.restored)
    else:
        run_dir.restored.unlink(missing_ok=True)
    return removed


def splits_record(source: Source, splits: Splits, guarded: bool) -> SplitsRecord:
    """How many rows each split has and what each was used for."""
    test, validation = splits.test, splits.validation
    return SplitsRecord(
        input=Split(rows=source.frame.height),
        pool=Split(rows=splits.pool.height, used_for="curation; the full, curated and random proxy arms all train on it"),
        test=None if test is None else Split(
            rows=test.height, source="split off the input" if splits.test_from_input else "a separate file",
            used_for="read once, after curation, to score the proxy arms"),
        validation=None if validation is None else Split(
            rows=validation.height, used_for="every data-driven decision: budget: auto and the guard"
            if guarded else "nothing: too few rows for the guard to judge"),
    )


def write_run_record(run: Run, source: Source, splits: Splits, curation: Curation, removed: pl.DataFrame,
                     proxy: ProxyOutcome | None, guarded: bool, seconds: float) -> RunRecord:
    """Build the run record, write report.json, manifest.json and report.html; returns the record."""
    config = run.config
    stopped = proxy.stopped if proxy is not None else curation.stopped
    split_off = splits.split_off
    record = build_record(config, source.read, source.frame, curation.kept, removed, curation.records, seconds,
                          proxy=proxy, budget=budget_use(curation.budget) if config.budget else None, stopped=stopped,
                          test_rows=0 if split_off is None else split_off.height,
                          validation_rows=0 if splits.validation is None else splits.validation.height,
                          splits=splits_record(source, splits, guarded), guard=curation.guard)
    record = record.model_copy(update={"views": build_views(run.run_dir, record, removed)})
    write_json(build_manifest(config, source.input_hash, source.read.source).model_dump(mode="json"), run.run_dir.manifest)
    write_record(record, run.run_dir.root)
    write_page(record, run.run_dir.root)
    return record
