"""The error hierarchy: every error a user can cause names the problem and the fix."""

from __future__ import annotations


class CurateError(Exception):
    """Base class of every error curate raises on purpose.

    Parameters
    ----------
    message : str
        What went wrong, in one line.
    hint : str, optional
        How to fix it.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} (hint: {self.hint})" if self.hint else self.message


class ConfigError(CurateError):
    """The pipeline configuration is invalid; ``issues`` lists every problem."""

    def __init__(self, message: str, hint: str | None = None, issues: list[str] | None = None) -> None:
        super().__init__(message, hint)
        self.issues = issues or []

    def __str__(self) -> str:
        lines = [super().__str__(), *(f"  {issue}" for issue in self.issues)]
        return "\n".join(lines)


class InputError(CurateError):
    """The input data cannot be read as configured."""


class OutputError(CurateError):
    """The run directory or another output cannot be written (permissions, a file in the way, a full disk, a lock)."""


class StageError(CurateError):
    """A stage failed or broke the engine's contract."""


class BudgetExceeded(CurateError):
    """The run's energy or carbon budget was exceeded."""


class MissingDependency(CurateError):
    """An optional dependency is not installed; the hint names the extra."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"the optional package '{package}' is not installed",
            hint=f"pip install 'curate[{extra}]'",
        )
        self.package = package
        self.extra = extra


def require(module: str, extra: str, package: str | None = None):
    """Import ``module`` or raise :class:`MissingDependency` naming ``extra``."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(package or module, extra) from exc
