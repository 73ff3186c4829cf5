"""The command line: a thin Typer layer over the Python API, and the only part of curate that prints or exits.

* :mod:`.commands`: ``run``, ``validate``, ``stages``, ``explain``, ``report`` and the run's summary tables,
* :mod:`.label`: ``curate label ...`` (labelling sessions),
* :mod:`.output`: the consoles and the one error printer every command shares.
"""

from curate.cli.commands import ProgressObserver, app, entrypoint, funnel_table, print_summary, proxy_table
from curate.cli.label import label_app
from curate.cli.output import console, err_console, fail

__all__ = ["ProgressObserver", "app", "console", "entrypoint", "err_console", "fail", "funnel_table", "label_app",
           "print_summary", "proxy_table"]
