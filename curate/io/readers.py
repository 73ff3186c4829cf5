"""Read every supported input into one polars frame with canonical columns.

Bad input never crashes with a traceback and never loses a row silently: a malformed
line either stops the read with its file, line number and reason (``on_bad_rows:
error``) or is returned in ``ReadResult.bad_rows`` for quarantine.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import polars_hash as plh

from curate.builtin import resolve_builtin
from curate.config import InputConfig
from curate.errors import InputError
from curate.schema import ID, LABEL, TEXT

_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv",
               ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class ReadResult:
    """The rows read, the malformed rows set aside, and where they came from."""

    frame: pl.DataFrame
    bad_rows: list[dict[str, Any]] = field(default_factory=list)
    source: str = "<frame>"


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
        frame, bad = reader(path, config, fmt)
        result = ReadResult(frame, bad, str(path))
    if config.limit is not None:
        result.frame = result.frame.head(config.limit)
    result.frame = _canonical_columns(result.frame, config, result.source)
    return result


def _locate(config: InputConfig) -> tuple[Path, str, dict]:
    if config.dataset is not None:
        return resolve_builtin(config.dataset)
    if config.path is None:
        raise InputError("no input given", hint="set input.path or input.dataset, or pass data= to curate.run")
    path = config.path
    if not path.exists():
        raise InputError(f"input path {path} does not exist", hint="check input.path (relative paths start from the current folder)")
    fmt = config.format
    if fmt == "auto":
        if path.is_dir():
            fmt = "hf_disk" if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists() else "text_folder"
        else:
            fmt = _EXTENSIONS.get(path.suffix.lower())
            if fmt is None:
                raise InputError(f"cannot tell the format of {path} from its extension",
                                 hint="set input.format to one of jsonl, csv, tsv, parquet, text_folder, hf_disk")
    return path, fmt, {}


# --- decoding ---------------------------------------------------------------------------


def _decode_lines(raw: bytes, path: Path, config: InputConfig, bad: list[dict]) -> list[tuple[int, str]]:
    """Split ``raw`` into (line number, text) pairs; undecodable lines are bad rows."""
    try:
        text = raw.decode(config.encoding)
        return _numbered(text)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        if config.on_bad_rows == "error":
            raise InputError(
                f"{path}, line {line}: bytes that are not valid {config.encoding} ({exc.reason} at byte {exc.start})",
                hint="set input.encoding (e.g. latin-1 or cp1252), or on_bad_rows: quarantine to set such rows aside",
            ) from None
    lines = []
    for number, chunk in enumerate(raw.split(b"\n"), start=1):
        try:
            lines.append((number, chunk.decode(config.encoding).rstrip("\r")))
        except UnicodeDecodeError as exc:
            bad.append({"file": str(path), "line": number, "reason": f"not valid {config.encoding}: {exc.reason}",
                        "raw": chunk.decode(config.encoding, errors="replace")})
    return lines


def _numbered(text: str) -> list[tuple[int, str]]:
    return [(number, line.rstrip("\r")) for number, line in enumerate(text.split("\n"), start=1)]


def _require_content(raw: bytes, path: Path) -> None:
    if not raw.strip():
        raise InputError(f"input file {path} is empty", hint="point input.path at a file with at least one row")


# --- formats ----------------------------------------------------------------------------


def _read_jsonl(path: Path, config: InputConfig, _fmt: str) -> tuple[pl.DataFrame, list[dict]]:
    raw = path.read_bytes()
    _require_content(raw, path)
    if config.encoding.lower().replace("-", "") in {"utf8", "utf_8"}:
        try:
            return pl.read_ndjson(io.BytesIO(raw), infer_schema_length=None), []
        except Exception:  # noqa: BLE001 - the slow path below finds and names the bad line
            pass
    bad: list[dict] = []
    good: list[str] = []
    for number, line in _decode_lines(raw, path, config, bad):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
            reason = None if isinstance(value, dict) else f"expected a JSON object, got {type(value).__name__}"
        except json.JSONDecodeError as exc:
            reason = f"invalid JSON: {exc.msg} at column {exc.colno}"
        if reason is None:
            good.append(line)
            continue
        if config.on_bad_rows == "error":
            raise InputError(f"{path}, line {number}: {reason}",
                             hint="fix the line, or set input.on_bad_rows: quarantine to set such rows aside")
        bad.append({"file": str(path), "line": number, "reason": reason, "raw": line})
    if not good:
        raise InputError(f"{path}: no readable rows ({len(bad)} malformed)", hint="check the file's format and encoding")
    return pl.read_ndjson(io.StringIO("\n".join(good)), infer_schema_length=None), bad


def _read_csv(path: Path, config: InputConfig, fmt: str) -> tuple[pl.DataFrame, list[dict]]:
    raw = path.read_bytes()
    _require_content(raw, path)
    separator = config.separator or ("\t" if fmt == "tsv" else ",")
    bad: list[dict] = []
    lines = _decode_lines(raw, path, config, bad)
    quoting = csv.QUOTE_NONE if config.quote_char is None else csv.QUOTE_MINIMAL
    reader = csv.reader((line + "\n" for _, line in lines), delimiter=separator,
                        quotechar=config.quote_char, quoting=quoting, strict=True)
    rows: list[list[str]] = []
    width = None
    starts = [number for number, _ in lines]
    while True:
        position = reader.line_num
        number = starts[position] if position < len(starts) else len(starts)
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            _bad_csv(path, number, f"malformed CSV: {exc}", "", config, bad)
            continue
        if not row:
            continue
        if width is None:
            width = len(row)
            rows.append(row)
        elif len(row) != width:
            _bad_csv(path, number, f"expected {width} fields, found {len(row)}", separator.join(row), config, bad)
        else:
            rows.append(row)
    if config.has_header:
        header, body = rows[0], rows[1:]
    else:
        header, body = [f"column_{i + 1}" for i in range(width or 0)], rows
    if not body:
        raise InputError(f"input file {path} has a header but no rows", hint="point input.path at a file with data")
    columns = {name: pl.Series(name, values, dtype=pl.String) for name, values in zip(_unique(header), zip(*body, strict=True), strict=True)}
    frame = pl.DataFrame(columns)
    return _infer_numbers(frame), bad


def _bad_csv(path: Path, line: int, reason: str, raw: str, config: InputConfig, bad: list[dict]) -> None:
    if config.on_bad_rows == "error":
        raise InputError(f"{path}, line {line}: {reason}",
                         hint="fix the line, or set input.on_bad_rows: quarantine to set such rows aside")
    bad.append({"file": str(path), "line": line, "reason": reason, "raw": raw})


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


def _read_parquet(path: Path, _config: InputConfig, _fmt: str) -> tuple[pl.DataFrame, list[dict]]:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any Arrow error means the same to the user
        raise InputError(f"{path}: not a readable Parquet file ({exc})", hint="check input.format") from None
    if frame.height == 0:
        raise InputError(f"input file {path} has no rows", hint="point input.path at a file with data")
    return frame, []


def _read_text_folder(path: Path, config: InputConfig, _fmt: str) -> tuple[pl.DataFrame, list[dict]]:
    files = sorted(p for p in path.rglob("*.txt") if p.is_file())
    if not files:
        raise InputError(f"folder {path} has no .txt files", hint="set input.format, or point input.path at a file")
    names, texts, bad = [], [], []
    for file in files:
        try:
            texts.append(file.read_bytes().decode(config.encoding))
            names.append(file.relative_to(path).as_posix())
        except UnicodeDecodeError as exc:
            _bad_csv(file, 1, f"not valid {config.encoding}: {exc.reason}", "", config, bad)
    return pl.DataFrame({"file": names, config.text: texts}, schema={"file": pl.String, config.text: pl.String}), bad


def _read_hf_disk(path: Path, _config: InputConfig, _fmt: str) -> tuple[pl.DataFrame, list[dict]]:
    from curate.errors import require

    datasets = require("datasets", "core", "datasets")
    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        splits = list(loaded)
        if len(splits) != 1:
            raise InputError(f"{path} holds several splits: {', '.join(splits)}",
                             hint=f"point input.path at one split's folder, e.g. {path / splits[0]}")
        loaded = loaded[splits[0]]
    return _from_object(loaded), []


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
    columns = frame.columns
    wanted = {TEXT: config.text, LABEL: config.label, ID: config.id}
    for role, name in wanted.items():
        if name is not None and name not in columns:
            raise InputError(f"{role} column '{name}' not found in {source}; columns are: {', '.join(columns)}",
                             hint=f"set input.{role} to one of them")
    renames = {name: role for role, name in wanted.items() if name is not None and name != role}
    clashes = [role for name, role in renames.items() if role in columns and role not in renames]
    if clashes:
        frame = frame.rename({role: f"{role}_original" for role in clashes})
    frame = frame.rename(renames)
    if frame.schema[TEXT] != pl.String:
        frame = frame.with_columns(pl.col(TEXT).cast(pl.String))
    return frame


def content_ids(frame: pl.DataFrame) -> pl.Series:
    """Ids made from a stable content hash (xxh3) of the text plus the row number."""
    digest = plh.col(TEXT).fill_null("").nchash.xxh3_64()
    return frame.select(
        pl.format("{}-{}", digest.cast(pl.String).str.zfill(20), pl.int_range(pl.len())).alias(ID)
    ).to_series()
