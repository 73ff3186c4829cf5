"""Read every supported input into one polars frame with canonical columns.

Bad input never crashes with a traceback and never loses a row silently: a malformed
line either stops the read with its file, line number and reason (``on_bad_rows:
error``) or is returned in ``ReadResult.bad_rows`` for quarantine.
"""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import polars_hash as plh

from curate.builtin import resolve_builtin
from curate.config import InputConfig
from curate.errors import InputError
from curate.io.compression import read_bytes, strip_compression
from curate.io.lines import Line, LineCount, parse_csv, quarantine_record, split_lines
from curate.schema import ID, LABEL, TEXT

_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv",
               ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class ReadResult:
    """The rows read, the malformed rows set aside, where they came from, and where each line went."""

    frame: pl.DataFrame
    bad_rows: list[dict[str, Any]] = field(default_factory=list)
    source: str = "<frame>"
    lines: LineCount | None = None


def read_input(config: InputConfig, data: Any = None) -> ReadResult:
    """Read the configured input (or ``data``: a polars/pandas frame or ``datasets.Dataset``).

    Returns a frame whose text column is named ``text``, label ``label`` and id ``id``
    (when configured); other columns pass through untouched.
    """
    if data is not None:
        result = ReadResult(_from_object(data), source=f"<{type(data).__name__}>")
    else:
        path, fmt, defaults = _locate(config)
        config = config.model_copy(update={k: v for k, v in defaults.items() if k not in config.model_fields_set})
        reader = {"jsonl": _read_jsonl, "csv": _read_csv, "tsv": _read_csv, "parquet": _read_parquet,
                  "text_folder": _read_text_folder, "hf_disk": _read_hf_disk}[fmt]
        frame, bad, lines = reader(path, config, fmt)
        result = ReadResult(frame, bad, str(path), lines)
    if config.limit is not None:
        result.frame = result.frame.head(config.limit)
    result.frame = _canonical_columns(result.frame, config, result.source)
    return result


def _locate(config: InputConfig) -> tuple[Path, str, dict]:
    if config.dataset is not None:
        return resolve_builtin(config.dataset)
    if config.path is None:
        raise InputError("no input given", hint="set input.path or input.dataset, or pass data= to curate.run")
    return config.path, input_format(config), {}


def input_format(config: InputConfig) -> str:
    """The format of ``config.path`` (``format: auto`` looks at the name; ``.gz``/``.zst``/... are seen through).

    Raises
    ------
    InputError
        The path does not exist, or its format cannot be told or does not fit it.
    """
    path = config.path
    if not path.exists():
        if path.is_symlink():
            raise InputError(f"input path {path} is a symbolic link to nothing (or a link loop)",
                             hint="point input.path at the real file")
        raise InputError(f"input path {path} does not exist", hint="check input.path (relative paths start from the current folder)")
    fmt = config.format
    folder_formats = ("text_folder", "hf_disk")
    if fmt == "auto":
        if path.is_dir():
            return "hf_disk" if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists() else "text_folder"
        suffix, _ = strip_compression(path)
        fmt = _EXTENSIONS.get(suffix)
        if fmt is None:
            raise InputError(f"cannot tell the format of {path} from its extension",
                             hint="set input.format to one of jsonl, csv, tsv, parquet, text_folder, hf_disk")
    elif path.is_dir() and fmt not in folder_formats:
        raise InputError(f"input path {path} is a folder, but input.format is {fmt}",
                         hint="point input.path at a file, set input.format: auto (a folder of .txt files or a datasets folder), "
                              "or use engine: ray, which reads folders of JSONL/Parquet shards")
    elif not path.is_dir() and fmt in folder_formats:
        raise InputError(f"input path {path} is a file, but input.format is {fmt}", hint="set input.format: auto, or point input.path at a folder")
    return fmt


# --- formats ----------------------------------------------------------------------------


def _read_text_file(path: Path) -> bytes:
    raw = read_bytes(path)
    if not raw.strip() or raw.strip() == codecs.BOM_UTF8:
        raise InputError(f"input file {path} is empty", hint="point input.path at a file with at least one row")
    return raw


def _bad_row(path: Path, config: InputConfig, bad: list[dict]) -> Callable[[Line, str], None]:
    """A callback that stops the read (``on_bad_rows: error``) or quarantines the line."""

    def fail(line: Line, reason: str) -> None:
        hint = "fix the line, or set input.on_bad_rows: quarantine to set such rows aside"
        if line.text is None:
            reason = f"bytes that are not valid {config.encoding}"
            hint = "set input.encoding (e.g. latin-1 or cp1252), or on_bad_rows: quarantine to set such rows aside"
        if config.on_bad_rows == "error":
            raise InputError(f"{path}, line {line.number}: {reason}", hint=hint)
        bad.append(quarantine_record(path, line, reason))

    return fail


def _read_jsonl(path: Path, config: InputConfig, _fmt: str) -> tuple[pl.DataFrame, list[dict], LineCount]:
    raw = _read_text_file(path)
    lines = split_lines(raw, config.encoding)
    count = LineCount(lines=len(lines))
    if all(line.text is not None for line in lines):
        fast = _read_ndjson_whole(lines, count)
        if fast is not None:
            return fast, [], count
    bad: list[dict] = []
    fail = _bad_row(path, config, bad)
    good: list[str] = []
    for line in lines:
        if line.text is None:
            count.quarantined += 1
            fail(line, f"bytes that are not valid {config.encoding}")
            continue
        if not line.text.strip():
            count.blank += 1
            continue
        try:
            value = json.loads(line.text)
            reason = None if isinstance(value, dict) else f"expected a JSON object, got {type(value).__name__}"
        except json.JSONDecodeError as exc:
            reason = f"invalid JSON: {exc.msg} at column {exc.colno}"
        except RecursionError:
            reason = "invalid JSON: nested too deeply"
        if reason is None:
            good.append(line.text)
            continue
        count.quarantined += 1
        fail(line, reason)
    count.rows = count.row_lines = len(good)
    count.check()
    if not good:
        raise InputError(f"{path}: no readable rows ({len(bad)} malformed)", hint="check the file's format and encoding")
    try:
        frame = pl.read_ndjson(io.StringIO("\n".join(good)), infer_schema_length=None)
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{path}: the JSON objects do not fit one table: {str(exc).splitlines()[0]}",
                         hint="give each key one type across rows (e.g. text always a string)") from None
    return frame, bad, count


def _read_ndjson_whole(lines: list[Line], count: LineCount) -> pl.DataFrame | None:
    """All lines at once with polars' reader, when every non-blank line is an object (else ``None``)."""
    blank = sum(1 for line in lines if not line.text.strip())
    try:
        frame = pl.read_ndjson(io.StringIO("\n".join(line.text for line in lines)), infer_schema_length=None)
    except Exception:  # noqa: BLE001 - the line-by-line path finds and names the bad line
        return None
    if frame.height != len(lines) - blank:
        return None
    count.blank, count.rows, count.row_lines = blank, frame.height, frame.height
    count.check()
    return frame


def _read_csv(path: Path, config: InputConfig, fmt: str) -> tuple[pl.DataFrame, list[dict], LineCount]:
    raw = _read_text_file(path)
    separator = config.separator or ("\t" if fmt == "tsv" else ",")
    bad: list[dict] = []
    records = parse_csv(split_lines(raw, config.encoding), path, separator=separator, quote_char=config.quote_char,
                        has_header=config.has_header, max_record_lines=config.max_record_lines,
                        fail=_bad_row(path, config, bad))
    rows = records.rows
    width = len(records.header) if records.header is not None else len(rows[0]) if rows else 0
    header = records.header if records.header is not None else [f"column_{i + 1}" for i in range(width)]
    if not rows and not bad:
        raise InputError(f"input file {path} has a header but no rows", hint="point input.path at a file with data")
    if not rows:
        raise InputError(f"input file {path} has no readable rows ({len(bad)} malformed)",
                         hint="point input.path at a file with data, or check input.separator and input.encoding")
    columns = {name: pl.Series(name, values, dtype=pl.String) for name, values in zip(_unique(header), zip(*rows, strict=True), strict=True)}
    frame = pl.DataFrame(columns)
    return _infer_numbers(frame), bad, records.count


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        name = name or "column"
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}_{count}")
    return out


def _infer_numbers(frame: pl.DataFrame) -> pl.DataFrame:
    """Cast string columns that are wholly integers or floats (empty cells as null)."""
    casts = []
    for name in frame.columns:
        col = pl.col(name).replace("", None)
        for dtype in (pl.Int64, pl.Float64):
            parsed = frame.select(col.cast(dtype, strict=False).alias("v"), col.alias("s"))
            if (parsed["v"].null_count() == parsed["s"].null_count()) and parsed["s"].null_count() < len(parsed):
                casts.append(col.cast(dtype).alias(name))
                break
    return frame.with_columns(casts) if casts else frame


def _read_parquet(path: Path, _config: InputConfig, _fmt: str) -> tuple[pl.DataFrame, list[dict], None]:
    raw = read_bytes(path)
    try:
        frame = pl.read_parquet(io.BytesIO(raw))
    except Exception as exc:  # noqa: BLE001 - any Arrow error means the same to the user
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: not a readable Parquet file ({reason})", hint="check the file, or set input.format") from None
    if frame.height == 0:
        raise InputError(f"input file {path} has no rows", hint="point input.path at a file with data")
    return frame, [], None


def _read_text_folder(path: Path, config: InputConfig, _fmt: str) -> tuple[pl.DataFrame, list[dict], None]:
    files = sorted(p for p in path.rglob("*.txt") if not p.is_dir())
    if not files:
        shards = [p.name for p in path.rglob("*") if strip_compression(p)[0] in _EXTENSIONS][:3]
        if shards:
            raise InputError(f"folder {path} holds data files ({', '.join(shards)}, ...), not .txt files",
                             hint="point input.path at one file, or use engine: ray, which reads folders of JSONL/Parquet shards")
        raise InputError(f"folder {path} has no .txt files", hint="set input.format, or point input.path at a file")
    names, texts, bad = [], [], []
    fail = _bad_row(path, config, bad)
    for file in files:
        name = file.relative_to(path).as_posix()
        try:
            raw = read_bytes(file)
        except InputError as exc:
            if config.on_bad_rows == "error":
                raise
            bad.append({"file": str(file), "line": None, "reason": exc.message})
            continue
        try:
            texts.append(raw.decode(config.encoding))
            names.append(name)
        except UnicodeDecodeError:
            fail(Line(1, None, raw), f"{name}: bytes that are not valid {config.encoding}")
    if not texts:
        raise InputError(f"folder {path} has no readable .txt files ({len(bad)} set aside)", hint="check the files' encoding")
    return pl.DataFrame({"file": names, config.text: texts}, schema={"file": pl.String, config.text: pl.String}), bad, None


def _read_hf_disk(path: Path, _config: InputConfig, _fmt: str) -> tuple[pl.DataFrame, list[dict], None]:
    from curate.errors import require

    datasets = require("datasets", "core", "datasets")
    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        splits = list(loaded)
        if len(splits) != 1:
            raise InputError(f"{path} holds several splits: {', '.join(splits)}",
                             hint=f"point input.path at one split's folder, e.g. {path / splits[0]}")
        loaded = loaded[splits[0]]
    return _from_object(loaded), [], None


def _from_object(data: Any) -> pl.DataFrame:
    if isinstance(data, pl.DataFrame):
        return data
    if type(data).__module__.startswith("pandas"):
        return pl.from_pandas(data)
    if type(data).__name__ == "Dataset" and hasattr(data, "data"):
        return pl.from_arrow(data.data.table)
    if isinstance(data, pl.LazyFrame):
        return data.collect()
    raise InputError(f"cannot read data of type {type(data).__name__}",
                     hint="pass a polars or pandas DataFrame, or a datasets.Dataset")


# --- canonical columns ------------------------------------------------------------------


def _canonical_columns(frame: pl.DataFrame, config: InputConfig, source: str) -> pl.DataFrame:
    """Rename the configured columns to their roles; a column already named after a role moves aside.

    An ``id`` column the config did not name is kept as ``id_original`` (curate makes the
    ids), so data is never keyed by a column nobody chose.
    """
    columns = frame.columns
    wanted = {TEXT: config.text, LABEL: config.label, ID: config.id}
    for role, name in wanted.items():
        if name is not None and name not in columns:
            raise InputError(f"{role} column '{name}' not found in {source}; columns are: {', '.join(columns)}",
                             hint=f"set input.{role} to one of them")
    renames = {name: role for role, name in wanted.items() if name is not None and name != role}
    clashes = [role for name, role in renames.items() if role in columns and role not in renames]
    if config.id is None and ID in columns:
        clashes.append(ID)
    if clashes:
        frame = frame.rename({role: f"{role}_original" for role in clashes})
    frame = frame.rename(renames)
    dtype = frame.schema[TEXT]
    if dtype.is_nested() or dtype in (pl.Binary, pl.Object):
        kind = "lists" if isinstance(dtype, pl.List | pl.Array) else "objects" if isinstance(dtype, pl.Struct) else "bytes"
        raise InputError(f"text column '{config.text}' in {source} holds {kind} ({dtype}), not text",
                         hint="point input.text at a column of strings (join lists or pick a field first)")
    if dtype != pl.String:
        frame = frame.with_columns(pl.col(TEXT).cast(pl.String))
    return frame


def content_ids(frame: pl.DataFrame) -> pl.Series:
    """Ids made from a stable content hash (xxh3) of the text plus the row number."""
    digest = plh.col(TEXT).fill_null("").nchash.xxh3_64()
    return frame.select(
        pl.format("{}-{}", digest.cast(pl.String).str.zfill(20), pl.int_range(pl.len())).alias(ID)
    ).to_series()
