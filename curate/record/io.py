"""Write the run record once as report.json, and read it back into the same models."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from curate.errors import InputError
from curate.io.writers import atomic_write
from curate.record.models import SCHEMA_VERSION, RunRecord
from curate.record.rundir import RunDir

_RERUN = "rerun its pipeline with this curate (`curate run PIPELINE`) to rewrite report.json"


def write_record(record: RunRecord, run_dir: str | Path) -> Path:
    """Write ``record`` as ``run_dir``/report.json (atomically) and return the path."""
    path = RunDir(Path(run_dir)).report
    with atomic_write(path, "w") as handle:
        handle.write(record.model_dump_json(indent=2))
        handle.write("\n")
    return path


def read_record(run_dir: str | Path) -> RunRecord:
    """The run record of a run directory.

    Raises
    ------
    InputError
        When the folder has no report.json, the file is not JSON, it was written with another
        schema version (named in the message), or it does not match this version's models.
    """
    path = RunDir(Path(run_dir)).report
    if not path.exists():
        raise InputError(f"{run_dir} has no report.json", hint="pass a run directory that `curate run` wrote")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not readable JSON ({exc})", hint=_RERUN) from exc
    if not isinstance(raw, dict):
        raise InputError(f"{path} holds a {type(raw).__name__}, not a run record", hint=_RERUN)
    version = raw.get("schema_version", 1)
    if version != SCHEMA_VERSION:
        newer = isinstance(version, int) and version > SCHEMA_VERSION
        raise InputError(f"{path} has schema version {version}; this curate reads schema version {SCHEMA_VERSION}",
                         hint="upgrade curate to read it" if newer else _RERUN)
    try:
        return RunRecord.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InputError(f"{path} does not match schema version {SCHEMA_VERSION}: {where}: {first['msg']} "
                         f"({exc.error_count()} problem(s))", hint=_RERUN) from exc
