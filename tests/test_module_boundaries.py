"""Module boundaries: private helpers stay private, and only the command line prints.

A name starting with one underscore belongs to the module (or class) that defines it. This test
reads every module of the package and fails on ``from other import _name``, on ``module._name``
and on ``obj._name`` for any object but ``self`` / ``cls`` (a class's own privates). Dunder names
(``__init__``) and IPython's sunder protocol names (``_repr_html_``) are public by convention.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "curate"
ALLOWED = {("os", "_exit")}
"""Underscore names that are documented public API of the standard library."""


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and not name.endswith("_")


def violations(source: str, path: str = "<module>") -> list[str]:
    """``path:line`` and what is used, for every use of another module's private name in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            found += [f"{path}:{node.lineno}: from {'.' * node.level}{node.module or ''} import {alias.name}"
                      for alias in node.names if is_private(alias.name)]
        elif isinstance(node, ast.Attribute) and is_private(node.attr):
            owner = ast.unparse(node.value)
            if owner not in ("self", "cls") and (owner, node.attr) not in ALLOWED:
                found.append(f"{path}:{node.lineno}: {owner}.{node.attr}")
    return found


def test_the_check_finds_each_kind_of_reach():
    source = ("from curate.cli import _fail\nfrom .base import _helper\nimport curate.embed as embed\n"
              "embed._cached_encode(1)\nstage._keepers(frame)\nself._own()\ncls._also_own\nos._exit(0)\n"
              "view._repr_html_()\nobj.__class__\n")
    assert [line.split(": ", 1)[1] for line in violations(source)] == [
        "from curate.cli import _fail", "from .base import _helper", "embed._cached_encode", "stage._keepers"]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_no_module_uses_another_modules_private_names(path):
    assert violations(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent))) == []


def prints(source: str, path: str = "<module>") -> list[str]:
    """``path:line`` of every ``print(...)`` call and every rich ``Console`` made in ``source``."""
    return [f"{path}:{node.lineno}: {ast.unparse(node.func)}" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and ast.unparse(node.func) in ("print", "Console", "rich.console.Console")]


def test_the_print_check_finds_prints():
    assert len(prints("print('x')\nconsole = Console(stderr=True)\nlogger.info('fine')\n")) == 2


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py") if "cli" not in p.relative_to(PACKAGE).parts),
                         ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_only_the_command_line_prints(path):
    assert prints(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent))) == []
