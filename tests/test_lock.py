"""constraints.txt pins every package make installs, matches pyproject.toml, and holds no CUDA build."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "constraints.txt"


def _pins() -> dict[str, list[tuple[Version, str]]]:
    """name -> [(version, environment marker)] (a package may be pinned per Python version)."""
    pins: dict[str, list[tuple[Version, str]]] = {}
    for line in LOCK.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==", line
        pins.setdefault(canonicalize_name(requirement.name), []).append((Version(spec.version), str(requirement.marker or "")))
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        wanted += [Requirement(r) for r in extra if not r.startswith("curate[")]
    return wanted


def test_every_dependency_is_pinned_within_its_bounds():
    pins = _pins()
    for requirement in _requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is in pyproject.toml but not in constraints.txt: run make lock"
        for version, marker in pins[name]:
            if "python_full_version >= '3.12'" in marker:
                continue  # the pin for newer Pythons; the machines run 3.11
            assert requirement.specifier.contains(version, prereleases=True), \
                f"constraints.txt pins {name}=={version}, outside pyproject.toml's {requirement}: run make lock"


def test_torch_is_the_cpu_build_and_nothing_pulls_cuda():
    pins = _pins()
    assert [str(v) for v, _ in pins["torch"]] == ["2.13.0"]
    cuda = [name for name in pins if re.match(r"nvidia-(?!ml-py$)|triton$|cuda", name)]
    assert cuda == [], f"CUDA packages in constraints.txt: {cuda}"
    metadata = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["dependency-metadata"]
    assert {m["name"]: m["version"] for m in metadata} == {"torch": "2.13.0"}


def test_make_installs_from_the_lock():
    makefile = (ROOT / "Makefile").read_text()
    assert "--constraints $(LOCK)" in makefile and "LOCK := constraints.txt" in makefile
    assert '$(UV_INSTALL) -e ".[demo]"' in makefile and '$(UV_INSTALL) -e ".[all,dev]"' in makefile
    assert 'pip install --quiet "torch==2.13.0"' in makefile  # pip first: it takes the CPU build
