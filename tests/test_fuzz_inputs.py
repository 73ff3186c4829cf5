"""Malformed CSV, JSONL and Parquet thrown at `curate run` in both bad-row modes.

For every case: exit code 0 or 2, no traceback, and no row lost: every physical line of a
CSV/JSONL file is the header, blank, part of a row, or in quarantine.jsonl, and every row
read is kept, removed (in the ledger) or in the proxy's test set.
"""

from __future__ import annotations

import csv
import io
import json

import polars as pl
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from curate.cli import app

runner = CliRunner()

# Texts a user's file may hold: any printable text (CJK, emoji, RTL), quotes, commas, line breaks.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=0, max_size=30)
ROWS = st.lists(TEXT, min_size=1, max_size=25)


def _csv_body(texts: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["text", "n"])
    writer.writerows([text, i] for i, text in enumerate(texts))
    return out.getvalue()


def _jsonl_body(texts: list[str]) -> str:
    return "".join(json.dumps({"text": text, "n": i}, ensure_ascii=False) + "\n" for i, text in enumerate(texts))


def _insert(body: bytes, at: int, line: bytes) -> bytes:
    lines = body.split(b"\n")
    at = 1 + at % max(len(lines) - 1, 1)  # after the header (CSV) or the first line
    return b"\n".join(lines[:at] + [line] + lines[at:])


# Each class turns a well-formed file (its bytes) into a malformed one; `at` picks the place.
CSV_CLASSES = {
    "unterminated_quote": lambda b, at: _insert(b, at, b'"He said hello,a'),
    "quote_closed_much_later": lambda b, at: _insert(_insert(b, at, b'"opened here,1'), at + 3, b'closed here",2'),
    "ragged_row": lambda b, at: _insert(b, at, b"one,two,three,four"),
    "too_few_fields": lambda b, at: _insert(b, at, b"lonely"),
    "invalid_utf8": lambda b, at: _insert(b, at, b"caf\xe9 cr\xe8me,3"),
    "nul_byte": lambda b, at: _insert(b, at, b"a\x00b,4"),
    "utf8_bom": lambda b, at: b"\xef\xbb\xbf" + b,
    "crlf_endings": lambda b, at: b.replace(b"\n", b"\r\n"),
    "blank_and_space_lines": lambda b, at: _insert(_insert(b, at, b""), at, b"   "),
    "stray_quote_in_field": lambda b, at: _insert(b, at, b'5" screen,5'),
    "header_only": lambda b, at: b.split(b"\n")[0] + b"\n",
    "empty_file": lambda b, at: b"",
    "latin1_file": lambda b, at: b.decode().encode("latin-1", errors="replace"),
}
JSONL_CLASSES = {
    "truncated_object": lambda b, at: _insert(b, at, b'{"text": "broken"'),
    "not_an_object": lambda b, at: _insert(_insert(b, at, b"[1, 2, 3]"), at, b'"just a string"'),
    "invalid_utf8": lambda b, at: _insert(b, at, b'{"text": "caf\xe9"}'),
    "text_is_a_list": lambda b, at: _insert(b, at, b'{"text": ["a", "b"], "n": 1}'),
    "text_is_a_number": lambda b, at: b.replace(b'"text": "', b'"text": 7, "t": "', 1),
    "mixed_types": lambda b, at: _insert(b, at, b'{"text": {"nested": true}, "n": "x"}'),
    "blank_lines_and_bom": lambda b, at: b"\xef\xbb\xbf" + _insert(b, at, b""),
    "deep_nesting": lambda b, at: _insert(b, at, b'{"text": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
    "empty_file": lambda b, at: b"\n\n",
}


def _parquet(texts: list[str], kind: str, at: int) -> bytes:
    frame = pl.DataFrame({"text": texts, "n": list(range(len(texts)))})
    if kind == "null_texts":
        frame = frame.with_columns(pl.when(pl.col("n") % 2 == 0).then(None).otherwise(pl.col("text")).alias("text"))
    elif kind == "text_is_int":
        frame = frame.with_columns(pl.col("n").alias("text"))
    elif kind == "text_is_list":
        frame = frame.with_columns(pl.col("text").str.split(" "))
    elif kind == "no_rows":
        frame = frame.head(0)
    out = io.BytesIO()
    frame.write_parquet(out)
    raw = out.getvalue()
    if kind == "truncated":
        return raw[: max(8, (at % len(raw)))]
    if kind == "not_parquet":
        return b"PAR1" + raw[4:40]
    return raw


# Classes where the whole file is unusable (exit 2 in both modes); every other class is read in quarantine mode.
UNREADABLE = {"csv:header_only", "csv:empty_file", "jsonl:empty_file", "jsonl:text_is_a_list", "jsonl:mixed_types",
              "parquet:text_is_list", "parquet:no_rows", "parquet:truncated", "parquet:not_parquet"}
PARQUET_CLASSES = ["null_texts", "text_is_int", "text_is_list", "no_rows", "truncated", "not_parquet"]


def _physical_lines(raw: bytes) -> int:
    pieces = raw.split(b"\n")
    return len(pieces) - (1 if pieces and pieces[-1] == b"" else 0)


def _run(tmp_path, path, mode: str):
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(yaml.safe_dump({
        "name": "fuzz", "input": {"path": str(path), "on_bad_rows": mode},
        "stages": [{"type": "exact_dedup"}, {"type": "filter", "expr": "text.len() > 2"}],
        "output": {"dir": str(tmp_path / "runs")}}))
    result = runner.invoke(app, ["run", str(pipeline)])
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    if result.exit_code == 2:
        assert result.output.strip().startswith("error:"), result.output
        return None
    run_dir = tmp_path / "runs" / "fuzz"
    report = json.loads((run_dir / "report.json").read_text())
    kept = pl.read_parquet(run_dir / "curated.parquet").height
    removed = pl.read_parquet(run_dir / "removed.parquet").height
    test = pl.read_parquet(run_dir / "test.parquet").height if (run_dir / "test.parquet").exists() else 0
    quarantine = run_dir / "quarantine.jsonl"
    quarantined = len(quarantine.read_text().splitlines()) if quarantine.exists() else 0
    assert kept + removed + test == report["input"]["rows"] == report["totals"]["rows_in"]
    assert quarantined == report["input"]["quarantined"]
    if mode == "error":
        assert quarantined == 0
    return report, quarantined


def _settings():
    return settings(max_examples=6, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.slow
@pytest.mark.parametrize("kind", [f"csv:{k}" for k in CSV_CLASSES] + [f"jsonl:{k}" for k in JSONL_CLASSES])
@_settings()
@given(texts=ROWS, at=st.integers(0, 1000), mode=st.sampled_from(["error", "quarantine"]))
def test_malformed_text_files_lose_no_line(tmp_path, kind, texts, at, mode):
    fmt, name = kind.split(":")
    body = (_csv_body(texts) if fmt == "csv" else _jsonl_body(texts)).encode()
    raw = (CSV_CLASSES if fmt == "csv" else JSONL_CLASSES)[name](body, at)
    path = tmp_path / f"data.{fmt}"
    path.write_bytes(raw)
    outcome = _run(tmp_path, path, mode)
    if outcome is None:
        assert mode == "error" or kind in UNREADABLE, f"{kind} in quarantine mode should be read"
        return
    report, quarantined = outcome
    lines = report["input"]["lines"]
    assert lines["lines"] == _physical_lines(raw)
    assert lines["header_lines"] + lines["blank_lines"] + lines["row_lines"] + lines["quarantined_lines"] == lines["lines"]
    assert lines["quarantined_lines"] == quarantined and lines["rows"] == report["input"]["rows"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", PARQUET_CLASSES)
@_settings()
@given(texts=ROWS, at=st.integers(0, 1000), mode=st.sampled_from(["error", "quarantine"]))
def test_malformed_parquet_loses_no_row(tmp_path, kind, texts, at, mode):
    path = tmp_path / "data.parquet"
    raw = _parquet(texts, kind, at)
    path.write_bytes(raw)
    outcome = _run(tmp_path, path, mode)
    assert (outcome is None) == (f"parquet:{kind}" in UNREADABLE)
    if outcome is not None:
        assert outcome[0]["input"]["rows"] == pl.read_parquet(io.BytesIO(raw)).height
