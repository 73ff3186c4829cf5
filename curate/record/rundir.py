"""The run directory's layout: one place that knows every path in it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from curate.io.writers import write_json, write_parquet


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label)


@dataclass(frozen=True)
class RunDir:
    """Paths and checkpoint I/O of ``runs/<name>/``."""

    root: Path

    curated = property(lambda self: self.root / "curated.parquet")
    removed = property(lambda self: self.root / "removed.parquet")
    manifest = property(lambda self: self.root / "manifest.json")
    report = property(lambda self: self.root / "report.json")
    quarantine = property(lambda self: self.root / "quarantine.jsonl")
    test = property(lambda self: self.root / "test.parquet")
    validation = property(lambda self: self.root / "validation.parquet")
    restored = property(lambda self: self.root / "restored.parquet")
    stages = property(lambda self: self.root / "stages")
    input = property(lambda self: self.root / "stages" / "00-input.parquet")

    def stage_base(self, index: int, label: str) -> Path:
        """Checkpoint path stem of stage ``index`` (1-based)."""
        return self.stages / f"{index:02d}-{_slug(label)}"

    def artifacts(self, index: int, label: str) -> Path:
        """Folder for stage ``index``'s cached artefacts (signatures, similarities)."""
        return self.root / "artifacts" / f"{index:02d}-{_slug(label)}"

    def load_checkpoint(self, index: int, label: str, key: str) -> tuple[pl.DataFrame, pl.DataFrame, dict] | None:
        """The kept rows, ledger and stats of a completed stage whose key matches, else ``None``."""
        base = self.stage_base(index, label)
        done = base.with_suffix(".done")
        if not done.exists():
            return None
        try:
            marker = json.loads(done.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        kept_path, removed_path = base.with_suffix(".parquet"), base.with_suffix(".removed.parquet")
        if marker.get("key") != key or not kept_path.exists() or not removed_path.exists():
            return None
        return pl.read_parquet(kept_path), pl.read_parquet(removed_path), marker["stats"]

    def save_checkpoint(self, index: int, label: str, key: str, kept: pl.DataFrame,
                        removed: pl.DataFrame, stats: dict[str, Any]) -> None:
        """Write a stage's outputs, then its ``.done`` marker last (a crash leaves no marker)."""
        base = self.stage_base(index, label)
        base.with_suffix(".done").unlink(missing_ok=True)
        write_parquet(kept, base.with_suffix(".parquet"))
        write_parquet(removed, base.with_suffix(".removed.parquet"))
        write_json({"key": key, "stats": stats}, base.with_suffix(".done"))

    def prune_checkpoints(self, keep: set[str]) -> None:
        """Delete checkpoint files of stages no longer in the pipeline."""
        if not self.stages.exists():
            return
        for path in self.stages.iterdir():
            stem = path.name.split(".")[0]
            if stem != "00-input" and stem not in keep:
                path.unlink()
