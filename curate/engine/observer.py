"""Hooks through which a front end (the CLI's progress bars) follows a run."""

from __future__ import annotations

from typing import Any


class RunObserver:
    """Receives run events; the default does nothing. Override what you need."""

    def stage_started(self, index: int, label: str, rows: int, resumed: bool) -> None:
        """A stage begins (or is loaded from its checkpoint when ``resumed``)."""

    def progress(self, advance: int, total: int | None = None) -> None:
        """The running stage made progress."""

    def stage_finished(self, index: int, label: str, stats: dict[str, Any]) -> None:
        """A stage ended with ``stats``."""

    def message(self, text: str) -> None:
        """A line worth telling the user (a warning, a resumed checkpoint)."""
