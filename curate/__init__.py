"""curate: shrink a training set, then prove the energy it saves."""

from curate.allocators import lean_allocators

lean_allocators()  # before polars and pyarrow load: see curate/allocators.py

from curate.api import RunResult, run  # noqa: E402
from curate.config import InputConfig, OutputConfig, PipelineConfig, load_config, validate_config  # noqa: E402
from curate.errors import ConfigError, CurateError, InputError, MissingDependency, StageError  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "ConfigError", "CurateError", "InputConfig", "InputError", "MissingDependency", "OutputConfig",
    "PipelineConfig", "RunResult", "StageError", "load_config", "run", "validate_config",
]
