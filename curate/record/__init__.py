"""What a run leaves behind: the run directory and its typed record.

``curate.record`` is the data (the run directory's layout, report.json as pydantic models,
manifest.json); ``curate.audit`` is every way to look at it (report.html, Jupyter views,
threshold sweeps). Engines write the record; nothing here imports an engine.
"""

from curate.record.build import StageRecord, build_record
from curate.record.io import read_record, write_record
from curate.record.models import SCHEMA_VERSION, RunRecord
from curate.record.rundir import RunDir

__all__ = ["SCHEMA_VERSION", "RunDir", "RunRecord", "StageRecord", "build_record", "read_record", "write_record"]
