"""Read every supported input into one polars frame with canonical columns.

Bad input never crashes with a traceback and never loses a row silently: a malformed
line either stops the read with its file, line number and reason (``on_bad_rows:
error``) or is returned in ``ReadResult.bad_rows`` for quarantine.
"""

from __future__ import annotations

import codecs
import io
import json
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import polars_hash as plh

from curate.builtin import resolve_builtin
from curate.config import InputConfig
from curate.errors import InputError
from curate.io.compression import read_bytes, source_of, strip_compression
from curate.io.lines import Line, LineCount, parse_csv, quarantine_record, split_lines
from curate.schema import ID, LABEL, TEXT

_LINE = "\x00line"  # a shard row's line until the shard reader names it (no user column can clash)
_EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv",
               ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet"}


@dataclass
class ReadResult:
    """The rows read, the malformed rows set aside, where they came from, and where each line went."""

    frame: pl.DataFrame
    bad_rows: list[dict[str, Any]] = field(default_factory=list)
    source: str = "<frame>"
    lines: LineCount | None = None
    text: str = TEXT


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
                  "text_folder": _read_text_folder, "hf_disk": _read_hf_disk, "shards": _read_shards,
                  "hf": _read_hf}[fmt]
        frame, bad, lines = reader(path, config, fmt)
        result = ReadResult(frame, bad, str(path) if fmt != "hf" else f"hf:{config.hf}", lines)
    if config.limit is not None:
        result.frame = result.frame.head(config.limit)
    result.frame, result.text = _canonical_columns(result.frame, config, result.source)
    return result


def _locate(config: InputConfig) -> tuple[Path, str, dict]:
    if config.dataset is not None:
        return resolve_builtin(config.dataset)
    if config.hf is not None:
        return Path(config.hf), "hf", {}
    if config.path is None:
        raise InputError("no input given", hint="set input.path, input.dataset or input.hf, or pass data= to curate.run")
    if _is_pattern(config.path):
        return config.path, "shards", {}
    return config.path, input_format(config), {}


def _is_glob(path: Path) -> bool:
    return any(char in str(path) for char in "*?[")


def _is_pattern(path: Path) -> bool:
    """A glob to expand: glob characters, and no file or folder of that very name (`part[0].parquet`)."""
    return _is_glob(path) and not path.exists()


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
            if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
                return "hf_disk"
            return "shards" if _data_files(path) else "text_folder"
        suffix, _ = strip_compression(path)
        fmt = _EXTENSIONS.get(suffix)
        if fmt is None:
            raise InputError(f"cannot tell the format of {path} from its extension",
                             hint="set input.format to one of jsonl, csv, tsv, parquet, text_folder, hf_disk")
    elif path.is_dir() and fmt not in folder_formats:
        if _data_files(path):
            return "shards"
        raise InputError(f"input path {path} is a folder with no {fmt} files",
                         hint="point input.path at a file or a folder of data files, or set input.format: auto")
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


def _read_jsonl(path: Path, config: InputConfig, _fmt: str, keep_lines: bool = False) -> tuple[pl.DataFrame, list[dict], LineCount]:
    """JSON lines; with ``keep_lines`` each row's line number in a ``line`` column."""
    raw = _read_text_file(path)
    lines = split_lines(raw, config.encoding)
    count = LineCount(lines=len(lines))
    if all(line.text is not None for line in lines):
        fast = _read_ndjson_whole(lines, count)
        if fast is not None:
            numbers = [line.number for line in lines if line.text.strip()]
            return _with_lines(fast, numbers, keep_lines), [], count
    bad: list[dict] = []
    fail = _bad_row(path, config, bad)
    good: list[str] = []
    numbers: list[int] = []
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
            numbers.append(line.number)
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
    return _with_lines(frame, numbers, keep_lines), bad, count


def _with_lines(frame: pl.DataFrame, numbers: list[int], keep: bool) -> pl.DataFrame:
    """``frame`` with each row's line number as ``line`` (when ``keep``)."""
    return frame.with_columns(pl.Series(_LINE, numbers, dtype=pl.Int64)) if keep else frame


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


def _read_csv(path: Path, config: InputConfig, fmt: str, keep_lines: bool = False) -> tuple[pl.DataFrame, list[dict], LineCount]:
    """CSV/TSV records; with ``keep_lines`` each row's first line number in a ``line`` column."""
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
    return _with_lines(_infer_numbers(frame), records.starts, keep_lines), bad, records.count


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


def _read_parquet(path: Path, _config: InputConfig, _fmt: str, keep_lines: bool = False) -> tuple[pl.DataFrame, list[dict], None]:
    """A Parquet file; with ``keep_lines`` each row's 1-based position in a ``line`` column."""
    source = source_of(path)
    try:
        frame = pl.read_parquet(source, glob=False)  # a path is a file name: `[0]` in it is not a pattern
    except Exception as exc:  # noqa: BLE001 - any Arrow error means the same to the user
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: not a readable Parquet file ({reason})", hint="check the file, or set input.format") from None
    if frame.height == 0:
        raise InputError(f"input file {path} has no rows", hint="point input.path at a file with data")
    return _with_lines(frame, list(range(1, frame.height + 1)), keep_lines), [], None


def _read_text_folder(path: Path, config: InputConfig, _fmt: str) -> tuple[pl.DataFrame, list[dict], None]:
    files = sorted(p for p in path.rglob("*.txt") if not p.is_dir())
    if not files:
        raise InputError(f"folder {path} has no .txt files and no data files (JSONL, CSV/TSV, Parquet)",
                         hint="point input.path at a file, or a folder or glob of data files")
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
    column = config.text if isinstance(config.text, str) and not template_fields(config.text) else TEXT
    return pl.DataFrame({"file": names, column: texts}, schema={"file": pl.String, column: pl.String}), bad, None


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


def _data_files(folder: Path) -> list[Path]:
    """The data files (JSONL, CSV/TSV, Parquet, compressed or not) under ``folder``, sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")
                  and strip_compression(p)[0] in _EXTENSIONS)


def _read_shards(path: Path, config: InputConfig, _fmt: str) -> tuple[pl.DataFrame, list[dict], LineCount | None]:
    """A folder or glob of shards as one dataset, each row with its ``shard`` (path relative to
    the folder, or to the glob's part before its first wildcard) and ``line`` (first line of its record; for Parquet, its row)."""
    if _is_pattern(path):
        anchor = Path(*path.parts[:_glob_depth(path)])
        files = sorted(p for p in anchor.glob(str(path.relative_to(anchor))) if p.is_file())
        if not files:
            raise InputError(f"input path {path} matches no files", hint="check the pattern (relative paths start from the current folder)")
    else:
        anchor, files = path, _data_files(path)
    frames, bad, total = [], [], LineCount()
    counted = False
    for file in files:
        fmt = config.format if config.format not in ("auto", "text_folder", "hf_disk") else _EXTENSIONS.get(strip_compression(file)[0])
        if fmt is None:
            raise InputError(f"cannot tell the format of shard {file} from its extension",
                             hint="give every shard a .jsonl/.csv/.tsv/.parquet name (compressed or not), or set input.format")
        reader = {"jsonl": _read_jsonl, "csv": _read_csv, "tsv": _read_csv, "parquet": _read_parquet}[fmt]
        try:
            frame, shard_bad, lines = reader(file, config, fmt, keep_lines=True)
        except InputError as exc:  # an empty, unreadable or wholly malformed shard: quarantined whole, when asked
            if config.on_bad_rows == "error":
                raise
            bad.append({"file": str(file), "line": None, "reason": exc.message})
            continue
        frame = frame.rename({name: f"{name}_original" for name in ("shard", "line") if name in frame.columns})
        frames.append(frame.rename({_LINE: "line"}).with_columns(shard=pl.lit(file.relative_to(anchor).as_posix())))
        bad += shard_bad
        if lines is not None:
            total.add(lines)
            counted = True
    if not frames:
        raise InputError(f"{path}: no shard has a readable row ({len(bad)} set aside)",
                         hint="check the shards' format and encoding (quarantine.jsonl lists why each failed)")
    frame = pl.concat(frames, how="diagonal_relaxed")
    return frame.select([c for c in frame.columns if c not in ("shard", "line")] + ["shard", "line"]), bad, total if counted else None


def _glob_depth(path: Path) -> int:
    """How many leading parts of ``path`` hold no glob character."""
    return next((i for i, part in enumerate(path.parts) if _is_glob(Path(part))), len(path.parts))


def _read_hf(_path: Path, config: InputConfig, _fmt: str) -> tuple[pl.DataFrame, list[dict], None]:
    """A dataset by name through ``datasets.load_dataset`` (its cache; streamed when asked)."""
    from curate.errors import require

    datasets = require("datasets", "core", "datasets")
    options = {"split": config.split, "revision": config.revision, "streaming": config.streaming}
    if config.data_files is not None:
        options["data_files"] = config.data_files
    try:
        loaded = datasets.load_dataset(config.hf, config.config, **options)
        if config.streaming:
            import itertools

            import pyarrow as pa

            rows = list(itertools.islice(iter(loaded), config.limit))
            if not rows:
                raise InputError(f"hf:{config.hf} split '{config.split}' streamed no rows", hint="check input.split and input.config")
            return pl.from_arrow(pa.Table.from_pylist(rows)), [], None
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - datasets raises many types; the user needs the first line and a fix
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        offline = "offline" in reason.lower() or "connect" in reason.lower() or type(exc).__name__ in ("ConnectionError", "DatasetNotFoundError")
        hint = ("this machine cannot reach the hub: load it once where it can (the cache is reused), or set input.hf to a "
                "local folder or a builder (json, csv, parquet) with input.data_files") if offline else \
               "check input.hf, input.config and input.split (the error above names what datasets could not find)"
        raise InputError(f"cannot load hf:{config.hf}: {reason}", hint=hint) from None
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


def template_fields(text: str) -> list[str]:
    """The columns a ``input.text`` template names (none for a plain column name).

    Raises
    ------
    InputError
        The template is malformed (an unclosed brace) or names a field by position.
    """
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise InputError(f"input.text template {text!r} is malformed: {exc}",
                         hint="name columns in braces, e.g. \"{instruction}\\n{output}\"; write {{ and }} for literal braces") from None
    if any(not name or name.isdigit() for name in fields):
        raise InputError(f"input.text template {text!r} has a field without a column name ({{}} or {{0}})",
                         hint="name a column in every pair of braces, e.g. {instruction}")
    return fields


def text_template(text: str | list[str]) -> str | None:
    """``input.text`` as a template (a list of columns joins with newlines), or ``None`` for one plain column."""
    if isinstance(text, list):
        return "\n".join("{" + name.replace("{", "{{").replace("}", "}}") + "}" for name in text)
    return text if template_fields(text) else None


def _render(frame: pl.DataFrame, template: str, source: str) -> pl.Series:
    """Every row's text from ``template`` over ``frame``'s columns (a null field renders empty)."""
    parts: list[pl.Expr] = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        if literal:
            parts.append(pl.lit(literal))
        if name is None:
            continue
        if name not in frame.columns:
            raise InputError(f"input.text names column '{name}', not found in {source}; columns are: {', '.join(frame.columns)}",
                             hint="fix the template or list in input.text")
        if spec or conversion:
            raise InputError(f"input.text template field {{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} "
                             "has a format specification", hint=f"write the field plainly, as {{{name}}}")
        parts.append(_as_text(frame, name, source).fill_null(""))
    return frame.select(pl.concat_str(parts).alias(TEXT)).to_series()


def _as_text(frame: pl.DataFrame, name: str, source: str) -> pl.Expr:
    """Column ``name`` as text: strings as they are, numbers printed, a list of strings one per line,
    a chat (a list of ``{role, content}``) one ``role: content`` line per message."""
    dtype = frame.schema[name]
    column = pl.col(name)
    if dtype == pl.String:
        return column
    if dtype.is_numeric() or dtype == pl.Boolean:
        return column.cast(pl.String)
    if isinstance(dtype, pl.List) and dtype.inner == pl.String:
        return column.list.join("\n")
    if isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct) and \
            {"role", "content"} <= {f.name for f in dtype.inner.fields}:
        message = pl.concat_str([pl.element().struct.field("role").cast(pl.String).fill_null(""), pl.lit(": "),
                                 pl.element().struct.field("content").cast(pl.String).fill_null("")])
        return column.list.eval(message).list.join("\n")
    raise InputError(f"column '{name}' in {source} holds {dtype}, which curate cannot render as text",
                     hint="name columns of strings, numbers, lists of strings or chats (lists of {role, content}) in input.text")


def _canonical_columns(frame: pl.DataFrame, config: InputConfig, source: str) -> tuple[pl.DataFrame, str]:
    """Rename the configured columns to their roles; a column already named after a role moves aside.

    An ``id`` column the config did not name is kept as ``id_original`` (curate makes the
    ids), so data is never keyed by a column nobody chose. A template (or list of columns, or
    a chat column) in ``input.text`` renders a new ``text`` column; the columns it reads stay.
    Returns the frame and how its text was made (the column, or the template).
    """
    template = text_template(config.text)
    if template is None and config.text in frame.columns and frame.schema[config.text] != pl.String:
        dtype = frame.schema[config.text]
        if isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct):
            template = "{" + config.text + "}"  # a chat column renders by the chat rule, its column stays
    if template is not None:
        rendered = _render(frame, template, source)
        if TEXT in frame.columns:
            frame = frame.rename({TEXT: f"{TEXT}_original"})
        frame = frame.with_columns(rendered)
        config = config.model_copy(update={"text": TEXT})
    made = template or config.text
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
                         hint=f"point input.text at a column of strings, or render this one with a template: "
                              f"input.text: \"{{{config.text}}}\" (a list of strings joins one item per line)")
    if dtype != pl.String:
        frame = frame.with_columns(pl.col(TEXT).cast(pl.String))
    return frame, made


def content_ids(frame: pl.DataFrame) -> pl.Series:
    """Ids made from a stable content hash (xxh3) of the text plus the row number."""
    digest = plh.col(TEXT).fill_null("").nchash.xxh3_64()
    return frame.select(
        pl.format("{}-{}", digest.cast(pl.String).str.zfill(20), pl.int_range(pl.len())).alias(ID)
    ).to_series()
