"""The terminal: the consoles every command prints through, and the one error printer."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from curate.errors import CurateError

console = Console()
err_console = Console(stderr=True)
label_console = Console(highlight=False)
"""The labelling commands' console: a text's numbers and quotes are shown as typed, not highlighted."""
settings = {"debug": False}
"""Set by the ``--debug`` option: errors then raise with their traceback."""


def as_user_error(exc: Exception) -> Exception:
    """Errors a user caused, met outside curate's own checks, as one-line :class:`CurateError` s."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg'].removeprefix('Value error, ')}"
                             for e in exc.errors())
        return CurateError(f"invalid {exc.title}: {problems}", hint="see --help for the allowed values")
    if isinstance(exc, OSError) and exc.filename is not None:
        return CurateError(f"{exc.filename}: {exc.strerror or exc}", hint="check the path and its permissions")
    return exc


def fail(exc: Exception) -> NoReturn:
    """Show ``exc`` as one line on stderr and exit with status 2 (with ``--debug``: raise it).

    A :class:`CurateError` prints as ``error: <message> (hint)``; anything else is a bug in curate and
    says so, pointing at ``--debug``.
    """
    if settings["debug"]:
        raise exc
    exc = as_user_error(exc)
    if isinstance(exc, CurateError):
        err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
    else:
        err_console.print(f"[bold red]internal error:[/] {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
                          highlight=False, soft_wrap=True)
    raise typer.Exit(2)
