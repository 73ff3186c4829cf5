"""Stage name -> class. Stages register themselves; unknown names get "did you mean"."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from typing import TYPE_CHECKING

from curate.errors import ConfigError

if TYPE_CHECKING:
    from curate.stages.base import Stage

_STAGES: dict[str, type[Stage]] = {}
_discovered = False


def register(name: str):
    """Class decorator: make a :class:`Stage` available under ``name``."""

    def decorate(cls: type[Stage]) -> type[Stage]:
        from curate.stages.base import KeyedStage

        if name in _STAGES and _STAGES[name] is not cls:
            raise ValueError(f"stage {name!r} is registered twice")
        declared = cls.Config.model_fields["type"].default
        if declared != name:
            raise ValueError(f"{cls.__name__}.Config.type defaults to {declared!r}, not {name!r}")
        if cls.kind not in ("map", "shuffle", "global"):
            raise ValueError(f"{cls.__name__}.kind is {cls.kind!r}; use map, shuffle or global")
        if cls.kind == "shuffle" and not issubclass(cls, KeyedStage):
            raise ValueError(f"{cls.__name__} is a shuffle stage: subclass curate.stages.base.KeyedStage and write its phases")
        cls.name = name
        _STAGES[name] = cls
        return cls

    return decorate


def unregister(name: str) -> None:
    """Remove the stage registered under ``name`` (a stage defined for one test, or one notebook cell)."""
    _STAGES.pop(name, None)


def _discover() -> None:
    """Import every module in ``curate.stages`` so their decorators run."""
    global _discovered
    if _discovered:
        return
    import curate.stages as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name != "base":
            importlib.import_module(f"curate.stages.{module.name}")
    _discovered = True


def suggest(name: str, choices: list[str]) -> str:
    """A 'did you mean' hint, or a list of the valid choices."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    if close:
        return f"did you mean '{close[0]}'?"
    return "valid choices: " + ", ".join(sorted(choices))


def stage_names() -> list[str]:
    """Names of all registered stages, sorted."""
    _discover()
    return sorted(_STAGES)


def get_stage(name: str) -> type[Stage]:
    """The stage class registered under ``name``; a built-in stage's module (named after it) is all that
    is imported when the name is one, so a run does not import every stage's dependencies."""
    import curate.stages as package

    if name not in _STAGES and name in {module.name for module in pkgutil.iter_modules(package.__path__)} - {"base"}:
        importlib.import_module(f"curate.stages.{name}")
    if name not in _STAGES:
        _discover()
    try:
        return _STAGES[name]
    except KeyError:
        raise ConfigError(f"unknown stage type '{name}'", hint=suggest(name, list(_STAGES))) from None
