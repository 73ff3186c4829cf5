"""CI fails when a test skips for a package, tool or data set CI is meant to have."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIPPING = '''
import pytest

def test_needs_a_tool():
    pytest.skip("chromium not installed")

def test_needs_a_gpu():
    pytest.skip("this machine has CUDA")

@pytest.mark.xfail(reason="known bug")
def test_known_bug():
    assert False
'''
IMPORTING = '''
import pytest

pytest.importorskip("a_package_nobody_installed")

def test_never_runs():
    pass
'''


def _pytest(tmp_path: Path, source: str, ci: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "test_probe.py").write_text(source)
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"PYTHONPATH": str(ROOT)}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests._ci_policy", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tmp_path / "test_probe.py")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def test_skips_fail_in_ci_and_stay_skips_elsewhere(tmp_path):
    local = _pytest(tmp_path, SKIPPING, None)
    assert local.returncode == 0 and "2 skipped, 1 xfailed" in local.stdout, local.stdout
    ci = _pytest(tmp_path, SKIPPING, "true")
    assert ci.returncode == 1 and "1 failed, 1 skipped, 1 xfailed" in ci.stdout, ci.stdout
    assert "skipped in CI, where every package, tool and data set must be present: chromium not installed" in ci.stdout


def test_a_module_skipped_at_import_fails_in_ci(tmp_path):
    assert _pytest(tmp_path, IMPORTING, None).returncode == 5  # all skipped: "no tests ran" on a user's clone
    ci = _pytest(tmp_path, IMPORTING, "true")
    assert ci.returncode != 0 and "a_package_nobody_installed" in ci.stdout, ci.stdout


def test_this_suite_runs_under_the_policy():
    import tests._ci_policy as policy
    import tests.conftest as conftest

    assert conftest.pytest_runtest_makereport is policy.pytest_runtest_makereport
    assert conftest.pytest_make_collect_report is policy.pytest_make_collect_report
