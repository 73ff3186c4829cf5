"""Generate docs/pipeline.md and docs/report.schema.json from the pydantic models, so neither can drift."""

from __future__ import annotations

import json
import typing
from pathlib import Path

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from curate.config import InputConfig, OutputConfig, PipelineConfig
from curate.registry import get_stage, stage_names

DOC_PATH = Path(__file__).resolve().parent.parent / "docs" / "pipeline.md"
SCHEMA_PATH = DOC_PATH.parent / "report.schema.json"


def _type_name(annotation) -> str:
    text = getattr(annotation, "__name__", None) if not typing.get_args(annotation) else None
    return text or str(annotation).replace("typing.", "").replace("pathlib.", "").replace("curate.", "")


def _default(field) -> str:
    if field.default is not PydanticUndefined:
        value = field.default
    elif field.default_factory is not None:
        value = field.default_factory()
    else:
        return "required"
    if isinstance(value, BaseModel):
        return "see below"
    return json.dumps(value, default=str)


def stage_parameters(model: type[BaseModel]) -> list[tuple[str, str, str, str]]:
    """(name, type, default, description) of every field of ``model`` but ``type``."""
    return [(name, _type_name(field.annotation), _default(field), field.description or "")
            for name, field in model.model_fields.items() if name != "type"]


def _table(model: type[BaseModel], prefix: str) -> list[str]:
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    nested = []
    for name, kind, default, description in stage_parameters(model):
        lines.append(f"| `{prefix}{name}` | `{kind}` | `{default}` | {description} |")
        annotation = model.model_fields[name].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            nested.append((annotation, f"{prefix}{name}."))
    for sub, sub_prefix in nested:
        lines += ["", f"`{sub_prefix[:-1]}`: {(sub.__doc__ or '').strip()}", "", *_table(sub, sub_prefix)]
    return lines


def render() -> str:
    """The whole pipeline reference as Markdown."""
    out = ["# Pipeline reference", "",
           "Generated from the pydantic models by `python -m curate.docs`; a test fails when it is stale.", "",
           "## Top level", "", *_table(PipelineConfig, ""), "",
           "## input", "", (InputConfig.__doc__ or "").strip(), "", *_table(InputConfig, "input."), "",
           "## output", "", (OutputConfig.__doc__ or "").strip(), "", *_table(OutputConfig, "output."), "",
           "## Stages", "", "Each item of `stages` has a `type`, one of the stages below, and that stage's parameters.", ""]
    for name in stage_names():
        stage = get_stage(name)
        out += [f"### `{name}` ({stage.kind})", "", (stage.Config.__doc__ or "").strip(), "",
                *_table(stage.Config, ""), ""]
    return "\n".join(out)


def render_schema() -> str:
    """The JSON Schema of report.json (the run record), generated from :class:`curate.record.RunRecord`."""
    from curate.record import SCHEMA_VERSION, RunRecord

    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              **RunRecord.model_json_schema(mode="serialization"),
              "description": f"curate run record (report.json), schema version {SCHEMA_VERSION}. "
                             "Generated from curate.record.RunRecord by `python -m curate.docs`."}
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_docs() -> list[Path]:
    """Write docs/pipeline.md and docs/report.schema.json; return their paths."""
    DOC_PATH.write_text(render(), encoding="utf-8")
    SCHEMA_PATH.write_text(render_schema(), encoding="utf-8")
    return [DOC_PATH, SCHEMA_PATH]


if __name__ == "__main__":  # `python -m curate.docs`: the hidden `curate docs` command, which says what it wrote
    from curate.cli import entrypoint

    entrypoint(["docs"])
