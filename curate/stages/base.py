"""The Stage interface: what every stage receives, returns and promises."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from curate.io.text_on_disk import ROW, TextOnDisk
from curate.schema import LEDGER_SCHEMA, TEXT, empty_ledger

if TYPE_CHECKING:
    from curate.energy import Meter
    from curate.guard import ValidationJudge

StageKind = Literal["map", "shuffle", "global"]

POSITION = "__curate_pos"
"""Column holding each row's position in the stage's input, in the frames a keyed stage's phases see."""
KEY = "__curate_key"
"""Column a keyed stage's ``keys`` phase puts its group key in: rows with equal keys meet in one ``group`` call."""


class StageConfig(BaseModel):
    """Base of every stage's configuration; ``type`` picks the registered stage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    name: str | None = Field(None, description="Display name in the report; defaults to the type.")

    def uses_validation(self) -> bool:
        """Whether the stage judges its own choices on the run's validation split (``budget: auto``)."""
        return False


class Threshold(BaseModel):
    """A cut a stage applies to a per-row value, declared so audits need not guess it.

    Rows whose ``column`` value lies on the ``removes`` side of ``value`` are removed (``below``:
    under it; ``above``: over it; ``at_or_above``: at or over it), with ledger reason ``reason``.
    ``column`` is a column of the stage's kept rows, or of its artefact ``artifact`` (a file in
    the stage's artefact folder holding the value for every row the stage saw).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str
    value: float | None = Field(description="The cut; null when it differs from row to row (the artefact then holds each row's).")
    removes: Literal["below", "above", "at_or_above"]
    reason: str
    artifact: str | None = None


@dataclass(frozen=True)
class StageResult:
    """What a stage returns: the rows that go on, the ledger of those dropped, and stats."""

    kept: pl.DataFrame
    removed: pl.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = set(LEDGER_SCHEMA) - set(self.removed.columns)
        if missing:
            raise ValueError(f"ledger lacks columns {sorted(missing)}; build it with curate.schema.make_ledger")


def _no_progress(advance: int, total: int | None = None) -> None:
    """Default progress callback: do nothing."""


@dataclass
class RunContext:
    """What a stage may touch: seed, cache and artifact folders, progress, meter, logger.

    Parameters
    ----------
    seed : int
        The run's seed; every random choice derives from it.
    cache_dir : Path
        Cross-run cache (embeddings, models), content addressed; default ``$CURATE_CACHE_DIR``
        or ``.curate-cache``.
    artifacts_dir : Path
        This run's folder for a stage's cached artefacts (signatures, similarities).
    progress : callable
        ``progress(advance, total)`` moves the current stage's progress bar.
    meter : Meter, optional
        The energy meter of the current stage, when energy tracking is on; a stage reads the energy
        used so far with ``meter.kwh_so_far()`` (the active-learning energy stop does).
    validation : ValidationJudge, optional
        Scores training subsets on the run's validation split (for ``budget: auto``);
        ``None`` when the run has no validation split.
    texts : TextOnDisk, optional
        Where the texts are when the run keeps them on disk (frames then carry
        :data:`~curate.io.text_on_disk.ROW` instead of ``text``); read them with :meth:`text_batches`.
    """

    seed: int = 0
    cache_dir: Path = field(default_factory=lambda: Path(os.environ.get("CURATE_CACHE_DIR") or ".curate-cache"))
    artifacts_dir: Path | None = None
    progress: Callable[[int, int | None], None] = _no_progress
    meter: Meter | None = None
    validation: ValidationJudge | None = None
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("curate"))
    texts: TextOnDisk | None = None

    def text_batches(self, df: pl.DataFrame, size: int) -> Iterator[pl.Series]:
        """``df``'s texts, ``size`` rows at a time, in order: slices of its ``text`` column, or read from
        disk when the run keeps the text there (``df`` then has :data:`~curate.io.text_on_disk.ROW`)."""
        if TEXT in df.columns or self.texts is None:
            for start in range(0, df.height, size):
                yield df[TEXT].slice(start, size)
        else:
            yield from self.texts.batches(df[ROW].to_numpy(), size)

    def text_bytes(self, df: pl.DataFrame) -> int:
        """UTF-8 bytes of ``df``'s texts (from the frame, or counted when the text is on disk)."""
        if TEXT in df.columns or self.texts is None:
            return int(df[TEXT].str.len_bytes().sum() or 0)
        return self.texts.bytes_of(df[ROW].to_numpy())

    def embeddings(self, df: pl.DataFrame, config: Any) -> Any:
        """Embeddings of ``df`` for an :class:`curate.embed.EmbedderConfig` (float32, L2-normalised).

        Vectors go through the on-disk cache in ``cache_dir`` and are memoised in-process per
        (model fingerprint, ids, texts), so several stages of one run embed once. Read-only.
        """
        from curate.embed import embed_frame

        return embed_frame(df, config, cache_dir=self.cache_dir, memoize=True)

    def artifact_path(self, name: str) -> Path | None:
        """Where a stage may write the artefact ``name``; ``None`` when the run keeps none."""
        if self.artifacts_dir is None:
            return None
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        return self.artifacts_dir / name

    def for_blocks(self) -> RunContext:
        """The context of a phase that runs on blocks of rows (``prepare``, ``keys``, a ``map`` stage's
        ``apply`` on a block): the seed, the cache, progress and the logger; no artefacts, meter or
        validation judge. An engine that runs blocks in other processes gives no progress either."""
        return RunContext(seed=self.seed, cache_dir=self.cache_dir, progress=self.progress, logger=self.logger)


class Stage:
    """Base class of every stage.

    ``__init__`` only stores the validated config; all work happens in :meth:`apply`,
    which must not mutate ``df`` and must partition it into ``kept`` and ``removed``.

    ``kind`` says how an engine may split the work (see ``docs/adding_a_stage.md``):

    * ``map``: row-local. :meth:`apply` on any block of rows gives that block's rows of the
      result on the whole frame; :meth:`combine_stats` turns the blocks' stats into the whole's.
    * ``shuffle``: keyed. Subclass :class:`KeyedStage` and write its phases (``keys``, ``group``,
      ``finish``; optionally ``fit`` and ``prepare``); ``apply`` chains them.
    * ``global``: needs every row at once; :meth:`apply` runs on the whole frame.
    """

    name: ClassVar[str]
    kind: ClassVar[StageKind] = "map"
    Config: ClassVar[type[StageConfig]] = StageConfig
    requires: ClassVar[set[str]] = {"id", "text"}
    artifacts: ClassVar[tuple[str, ...]] = ()
    """Files (or folders) the stage may cache under ``ctx.artifact_path`` for audits."""
    examples: ClassVar[tuple[dict[str, Any], ...]] = ()
    """Non-default configurations (stage parameters, without ``type``) worth showing and testing: the
    reference renders them and the contract suite runs the stage with each."""

    def __init__(self, config: StageConfig | None = None, **params: Any) -> None:
        if config is None:
            config = self.Config(**params)
        elif params:
            raise TypeError("pass either a config object or keyword parameters, not both")
        self.config = config

    @property
    def label(self) -> str:
        """The stage's display name."""
        return self.config.name or self.name

    def streams_text(self) -> bool:
        """Whether the stage can run with its text on disk: a ``map`` stage (the engine gives it blocks
        with their text), or a stage that reads its text with :meth:`RunContext.text_batches`."""
        return self.kind == "map"

    def thresholds(self, stats: dict | None = None) -> list[Threshold]:
        """The cuts this stage applies (the report draws them; sweeps start from them); ``stats`` are
        the stage's stats from its run, for cuts the stage derives from the data."""
        return []

    def apply(self, df: pl.DataFrame, ctx: RunContext) -> StageResult:
        """Run the stage on ``df``; return kept rows, ledger rows and stats."""
        raise NotImplementedError

    def finish_stats(self, stats: dict[str, Any]) -> dict[str, Any]:
        """Stats derived from counts, once the counts cover every row.

        ``apply`` calls it on its own stats; :meth:`combine_stats` calls it again on the blocks'
        summed counts. The default adds nothing.
        """
        return stats

    def combine_stats(self, parts: list[dict[str, Any]]) -> dict[str, Any]:
        """The stats of a ``map`` stage on every row, from its stats on blocks of rows: the counts
        combined (:func:`combine_counts`), then :meth:`finish_stats`."""
        return self.finish_stats(combine_counts(parts, self.config.model_dump(mode="json")))


class KeyedStage(Stage):
    """A stage that groups rows by a key (kind ``shuffle``), written as five public phases.

    An engine runs them in this order; :meth:`apply` chains them in process, the Ray engine runs
    ``prepare`` and ``keys`` in ``map_batches``, ``group`` in a group-by on :data:`KEY`, and ``fit``
    and ``finish`` on the driver:

    1. :meth:`fit` (driver, every row): what keying needs from a look at all rows, such as
       embeddings and k-means centroids; returns the frame with any per-row columns it made.
    2. :meth:`prepare` (one block at a time): per-row columns, such as MinHash signatures.
    3. :meth:`keys` (one block at a time): keyed rows, with the group key in :data:`KEY`.
    4. :meth:`group` (whole groups): decisions, e.g. which row of a group duplicates which.
    5. :meth:`finish` (driver): the :class:`StageResult` from the prepared frame and every decision.

    The frames ``prepare`` and ``keys`` see carry each row's position in the input in
    :data:`POSITION`; decisions refer to rows by it. Columns a stage adds for its own use start
    with ``__curate_`` and never reach ``kept``.
    """

    kind: ClassVar[StageKind] = "shuffle"

    def fit(self, frame: pl.DataFrame, ctx: RunContext) -> pl.DataFrame:
        """Look at every row before keying (on the driver); return ``frame`` with any per-row columns
        the later phases need. Learned state goes in attributes ending with ``_``. Default: nothing."""
        return frame

    def prepare(self, batch: pl.DataFrame, ctx: RunContext) -> pl.DataFrame:
        """``batch`` with per-row columns that ``keys`` and ``finish`` need; row-local, so any split of
        the rows into blocks gives the same columns. Default: nothing added."""
        return batch

    def keys(self, batch: pl.DataFrame, ctx: RunContext) -> pl.DataFrame:
        """Keyed rows of one block of prepared rows: a :data:`KEY` column and whatever ``group`` needs
        (usually :data:`POSITION`). Types must survive Arrow (no 128-bit integers)."""
        raise NotImplementedError

    def group(self, keyed: pl.DataFrame) -> pl.DataFrame:
        """Decisions from keyed rows holding every row of each key they hold, in any order (one or more
        keys at a time: treat keys independently)."""
        raise NotImplementedError

    def finish(self, frame: pl.DataFrame, decisions: pl.DataFrame, ctx: RunContext) -> StageResult:
        """The result from the prepared rows (input order, no :data:`POSITION`) and every group's
        decisions (in any order)."""
        raise NotImplementedError

    def apply(self, df: pl.DataFrame, ctx: RunContext) -> StageResult:
        """The phases chained in this process, on the whole frame as one block."""
        return run_in_blocks(self, df, ctx)


def combine_counts(parts: list[dict[str, Any]], settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """One stats dict from per-block ones, as the stage would report on all rows when its stats are
    counts: a key every block reports is kept when it echoes the stage's ``settings`` or is equal in
    every block, summed when it is an integer count, merged key by key when it is a dict of them;
    anything else (and any key some block lacks) is dropped. A top-N count may hold more than N keys."""
    settings = settings or {}
    out: dict[str, Any] = {}
    for key in dict.fromkeys(k for part in parts for k in part):
        if any(key not in part for part in parts):
            continue
        values = [part[key] for part in parts]
        if key in settings and all(v == settings[key] for v in values):
            out[key] = values[0]
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            out[key] = sum(values)
        elif all(isinstance(v, dict) for v in values):
            merged = {k: sum(v.get(k, 0) for v in values) for k in dict.fromkeys(k for v in values for k in v)}
            if all(isinstance(v, int) for v in merged.values()):
                out[key] = dict(sorted(merged.items(), key=lambda item: -item[1]))
        elif all(v == values[0] for v in values):
            out[key] = values[0]
    return out


def blocks_of(frame: pl.DataFrame, blocks: int) -> list[pl.DataFrame]:
    """``frame`` cut into ``blocks`` contiguous blocks of (nearly) equal size; one empty block for no rows."""
    size = -(-frame.height // max(1, blocks)) or 1
    return [frame.slice(offset, size) for offset in range(0, max(frame.height, 1), size)]


def key_partitions(keyed: pl.DataFrame, partitions: int) -> list[pl.DataFrame]:
    """Keyed rows split into at most ``partitions`` frames, each holding every row of its keys."""
    if partitions <= 1 or keyed.height == 0:
        return [keyed]
    bucket = keyed[KEY].hash(seed=0) % partitions
    return keyed.with_columns(bucket.alias("__curate_bucket")).partition_by(
        "__curate_bucket", include_key=False, maintain_order=True)


def map_in_blocks(stage: Stage, df: pl.DataFrame, ctx: RunContext, blocks: int) -> StageResult:
    """A ``map`` stage applied block by block, as an engine that splits the rows does: the results
    concatenated in input order, the stats combined, each block's Parquet artefacts concatenated (on
    disk, a block at a time). When the run keeps the text on disk, each block gets its text for the
    call and loses it after."""
    results, written = [], {}
    on_disk = TEXT not in df.columns and ctx.texts is not None
    texts = ctx.text_batches(df, -(-df.height // max(1, blocks)) or 1) if on_disk else None
    with tempfile.TemporaryDirectory() as scratch:
        for number, block in enumerate(blocks_of(df, blocks)):
            folder = Path(scratch) / str(number)
            block_ctx = replace(ctx.for_blocks(), artifacts_dir=folder if ctx.artifacts_dir else None)
            if texts is None:
                results.append(stage.apply(block, block_ctx))
            else:
                result = stage.apply(block.with_columns(next(texts)) if block.height else block.with_columns(
                    pl.lit(None, pl.String).alias(TEXT)), block_ctx)
                results.append(replace(result, kept=result.kept.drop(TEXT)))
            for path in sorted(folder.glob("*.parquet")) if folder.is_dir() else []:
                written.setdefault(path.name, []).append(path)
        for name, parts in written.items():
            pl.concat([pl.scan_parquet(part) for part in parts], how="vertical_relaxed").sink_parquet(ctx.artifact_path(name))
    removed = pl.concat([empty_ledger(), *(r.removed.select(list(LEDGER_SCHEMA)) for r in results)], how="vertical_relaxed")
    return StageResult(kept=pl.concat([r.kept for r in results], how="vertical_relaxed"), removed=removed,
                       stats=stage.combine_stats([r.stats for r in results]))


def run_in_blocks(stage: KeyedStage, df: pl.DataFrame, ctx: RunContext, blocks: int = 1, partitions: int = 1,
                  shuffle_seed: int | None = None) -> StageResult:
    """A keyed stage's phases chained in this process: ``fit`` on every row, ``prepare`` and ``keys`` on
    ``blocks`` blocks, ``group`` on ``partitions`` partitions of the keys, ``finish`` on all of it.

    With ``shuffle_seed`` the keyed rows and the decisions are shuffled before they are grouped and
    finished, as a distributed shuffle may deliver them; the result must not change.
    """
    frame = stage.fit(df, ctx)
    positioned = frame.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias(POSITION))
    block_ctx = ctx.for_blocks()
    prepared = pl.concat([stage.prepare(block, block_ctx) for block in blocks_of(positioned, blocks)], how="vertical_relaxed")
    keyed = pl.concat([stage.keys(block, block_ctx) for block in blocks_of(prepared, blocks)], how="vertical_relaxed")
    if shuffle_seed is not None:
        keyed = keyed.sample(fraction=1.0, shuffle=True, seed=shuffle_seed)
    decisions = pl.concat([stage.group(part) for part in key_partitions(keyed, partitions)], how="diagonal_relaxed")
    if shuffle_seed is not None:
        decisions = decisions.sample(fraction=1.0, shuffle=True, seed=shuffle_seed + 1)
    return stage.finish(prepared.drop(POSITION), decisions, ctx)
