"""In CI every test runs: a skip there (a package, a tool or the shared data missing) is a failure.

On a user's clone a test may skip for what that clone lacks (``../shared/data``, Chromium);
CI is meant to have all of it, so when ``CI`` is set a skipped test, or a test module skipped
at import (``pytest.importorskip``), fails with the reason it gave. Only the skips listed in
:data:`CI_MAY_SKIP` (conditions CI cannot meet, such as a GPU) stay skips.
"""

from __future__ import annotations

import os

import pytest

CI_MAY_SKIP = ("this machine has CUDA",)


def in_ci() -> bool:
    """Whether this is a CI run (``CI`` set to anything but empty, 0 or false)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _forbid(report) -> None:
    if not report.skipped or hasattr(report, "wasxfail") or not in_ci():
        return
    reason = _reason(report)
    if any(allowed in reason for allowed in CI_MAY_SKIP):
        return
    report.outcome = "failed"
    report.longrepr = f"skipped in CI, where every package, tool and data set must be present: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Turn a test's skip into a failure in CI."""
    outcome = yield
    _forbid(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """Turn a module skipped at import (``importorskip``) into a collection error in CI."""
    outcome = yield
    _forbid(outcome.get_result())
