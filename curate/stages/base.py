"""The Stage interface: what every stage receives, returns and promises."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from curate.schema import LEDGER_SCHEMA

StageKind = Literal["map", "shuffle", "global"]


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
    meter : object, optional
        The energy meter of the current stage, when energy tracking is on.
    validation : ValidationJudge, optional
        Scores training subsets on the run's validation split (for ``budget: auto``);
        ``None`` when the run has no validation split.
    """

    seed: int = 0
    cache_dir: Path = field(default_factory=lambda: Path(os.environ.get("CURATE_CACHE_DIR") or ".curate-cache"))
    artifacts_dir: Path | None = None
    progress: Callable[[int, int | None], None] = _no_progress
    meter: Any = None
    validation: Any = None
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("curate"))

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


class Stage:
    """Base class of every stage.

    ``__init__`` only stores the validated config; all work happens in :meth:`apply`,
    which must not mutate ``df`` and must partition it into ``kept`` and ``removed``.
    """

    name: ClassVar[str]
    kind: ClassVar[StageKind] = "map"
    Config: ClassVar[type[StageConfig]] = StageConfig
    requires: ClassVar[set[str]] = {"id", "text"}
    artifacts: ClassVar[tuple[str, ...]] = ()
    """Files (or folders) the stage may cache under ``ctx.artifact_path`` for audits."""

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

    def thresholds(self, stats: dict | None = None) -> list[Threshold]:
        """The cuts this stage applies (the report draws them; sweeps start from them); ``stats`` are
        the stage's stats from its run, for cuts the stage derives from the data."""
        return []

    def apply(self, df: pl.DataFrame, ctx: RunContext) -> StageResult:
        """Run the stage on ``df``; return kept rows, ledger rows and stats."""
        raise NotImplementedError

    def finish_stats(self, stats: dict[str, Any]) -> dict[str, Any]:
        """Stats derived from counts, once the counts cover every row.

        ``apply`` calls it on its own stats; an engine that applies a ``map`` stage to blocks
        of rows calls it again on the blocks' summed counts. The default adds nothing.
        """
        return stats
