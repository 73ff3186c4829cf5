"""curate: shrink a training set, then prove the energy it saves."""

from curate.api import RunResult, run
from curate.config import InputConfig, OutputConfig, PipelineConfig, load_config, validate_config
from curate.errors import ConfigError, CurateError, InputError, MissingDependency, StageError

__version__ = "0.1.0"

__all__ = [
    "ConfigError", "CurateError", "InputConfig", "InputError", "MissingDependency", "OutputConfig",
    "PipelineConfig", "RunResult", "StageError", "load_config", "run", "validate_config",
]
