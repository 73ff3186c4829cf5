"""Where rows come from: Hugging Face datasets by name (offline, built locally), templates over
several fields, chat columns, and folders or globs of compressed and plain shards."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import curate
from curate.cli import app
from curate.config import InputConfig
from curate.errors import InputError
from curate.explain import explain_row
from curate.io.readers import read_input

INSTRUCTIONS = [
    {"instruction": "Translate to French", "input": "good morning", "output": "bonjour", "label": "translate"},
    {"instruction": "Translate to French", "input": "good morning", "output": "bonjour", "label": "translate"},
    {"instruction": "Translate to French", "input": "good night", "output": "bonne nuit", "label": "translate"},
    {"instruction": "Add the numbers", "input": "2 and 2", "output": "4", "label": "math"},
    {"instruction": "Add the numbers", "input": None, "output": "4", "label": "math"},
    {"instruction": "把这句话翻译成英文", "input": "早上好", "output": "good morning", "label": "translate"},
    {"instruction": "把这句话翻译成英文", "input": "早上好", "output": "good morning", "label": "translate"},
]


def _jsonl(path: Path, rows: list[dict], compress: bool = False) -> Path:
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _run(tmp_path: Path, name: str, source: dict, **extra) -> curate.RunResult:
    return curate.run({"name": name, "input": source, "stages": [{"type": "exact_dedup"}],
                       "output": {"dir": str(tmp_path / "runs")}, **extra})


def test_a_template_over_three_fields_is_what_every_stage_curates_and_the_ledger_names_it(tmp_path):
    data = _jsonl(tmp_path / "instruct.jsonl", INSTRUCTIONS)
    template = "{instruction}\n{input}\n{output}"
    result = _run(tmp_path, "tmpl", {"path": str(data), "text": template, "label": "label"})
    # the two exact copies (English and Chinese) go; same instruction and output with another input stays
    assert result.removed.height == 2 and result.curated.height == 5
    assert set(result.curated.columns) >= {"instruction", "input", "output", "text", "label"}
    kept = dict(zip(result.curated["input"].fill_null("<null>"), result.curated["text"], strict=True))
    assert kept["good night"] == "Translate to French\ngood night\nbonne nuit"
    assert kept["<null>"] == "Add the numbers\n\n4"  # a null field renders empty
    for ledger in ("removed.parquet", "curated.parquet"):
        assert pl.read_parquet_metadata(result.run_dir / ledger)["curate.text"] == template
    assert result.report.input.text == template
    removed = result.removed["id"][0]
    assert explain_row(result.run_dir, removed)["text_from"] == template


def test_a_list_of_fields_joins_them_with_newlines(tmp_path):
    data = _jsonl(tmp_path / "instruct.jsonl", INSTRUCTIONS)
    frame = read_input(InputConfig(path=data, text=["instruction", "output"])).frame
    assert frame["text"][2] == "Translate to French\nbonne nuit"
    # without `input`, rows 0-2 differ only there: rows 0, 1 and 2 render alike except in output
    assert frame["text"].n_unique() == 4


def test_a_chat_column_renders_one_role_line_per_message_and_duplicates_are_found(tmp_path):
    chats = [{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}]},
             {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}]},
             {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "مرحبا"}]}]
    data = _jsonl(tmp_path / "chats.jsonl", chats)
    result = _run(tmp_path, "chat", {"path": str(data), "text": "messages"})
    assert result.removed.height == 1
    assert result.curated["text"].to_list() == ["user: Hi\nassistant: Hello! How can I help?", "system: Be brief.\nuser: مرحبا"]
    assert result.curated.schema["messages"] == pl.List(pl.Struct({"role": pl.String, "content": pl.String}))
    assert result.report.input.text == "{messages}"


@pytest.mark.parametrize("text, problem", [("{instruction}\n{nope}", "names column 'nope'"), ("{instruction", "malformed"),
                                           ("{} and {0}", "without a column name")])
def test_a_bad_template_is_one_line_naming_it(tmp_path, text, problem):
    data = _jsonl(tmp_path / "instruct.jsonl", INSTRUCTIONS)
    with pytest.raises(InputError, match=problem):
        read_input(InputConfig(path=data, text=text))


def _shards(folder: Path) -> None:
    """Three shards, two gzipped; the second has a malformed line 3 and a blank line 2."""
    _jsonl(folder / "part-0.jsonl.gz", [{"text": "alpha one", "label": "a"}, {"text": "beta two", "label": "b"}], compress=True)
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    (folder / "sub" / "part-1.jsonl").write_text('{"text": "gamma three", "label": "a"}\n\n{"text": broken\n'
                                                 '{"text": "alpha one", "label": "a"}\n', encoding="utf-8")
    _jsonl(folder / "part-2.jsonl.gz", [{"text": "delta four", "label": "b", "line": "a column of the user's"}], compress=True)
    (folder / "README.md").write_text("not a shard\n")


def test_a_folder_of_mixed_shards_is_one_dataset_with_each_rows_shard_and_line(tmp_path):
    _shards(tmp_path / "data")
    result = _run(tmp_path, "shards", {"path": str(tmp_path / "data"), "label": "label", "on_bad_rows": "quarantine"})
    everything = pl.read_parquet(result.run_dir / "stages" / "00-input.parquet")
    assert sorted(zip(everything["shard"], everything["line"], strict=True)) == [
        ("part-0.jsonl.gz", 1), ("part-0.jsonl.gz", 2), ("part-2.jsonl.gz", 1), ("sub/part-1.jsonl", 1), ("sub/part-1.jsonl", 4)]
    assert everything.filter(pl.col("shard") == "part-2.jsonl.gz")["line_original"].to_list() == ["a column of the user's"]
    # the malformed line: quarantined with its shard and line, nothing lost
    bad = [json.loads(line) for line in (result.run_dir / "quarantine.jsonl").read_text().splitlines()]
    assert [(Path(b["file"]).relative_to(tmp_path / "data").as_posix(), b["line"]) for b in bad] == [("sub/part-1.jsonl", 3)]
    assert result.report.input.lines.lines == 2 + 4 + 1 and result.report.input.lines.quarantined_lines == 1
    assert result.curated.height + result.removed.height == 5
    # explain shows where a removed copy came from
    copy = result.removed["id"][0]
    info = explain_row(result.run_dir, copy)
    assert info["row"]["text"] == "alpha one" and (info["row"]["shard"], info["row"]["line"]) in {
        ("part-0.jsonl.gz", 1), ("sub/part-1.jsonl", 4)}


def test_a_bad_line_in_a_shard_stops_the_run_naming_the_shard_and_line(tmp_path):
    _shards(tmp_path / "data")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"name: s\ninput: {{path: {tmp_path / 'data'}}}\nstages: [{{type: exact_dedup}}]\n"
                        f"output: {{dir: {tmp_path / 'runs'}}}\n")
    result = CliRunner().invoke(app, ["run", str(pipeline)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{tmp_path / 'data' / 'sub' / 'part-1.jsonl'}, line 3: invalid JSON" in " ".join(result.output.split())


def test_a_glob_reads_the_shards_it_matches(tmp_path):
    _shards(tmp_path / "data")
    frame = read_input(InputConfig(path=tmp_path / "data" / "*.jsonl.gz")).frame
    assert sorted(frame["text"]) == ["alpha one", "beta two", "delta four"]
    assert set(frame["shard"]) == {"part-0.jsonl.gz", "part-2.jsonl.gz"}
    with pytest.raises(InputError, match="matches no files"):
        read_input(InputConfig(path=tmp_path / "data" / "*.parquet"))


def test_hf_loads_a_local_dataset_in_the_hub_layout_offline(tmp_path):
    pytest.importorskip("datasets")
    repo = tmp_path / "my_dataset"  # a dataset repository as the hub stores it: data files per split
    _jsonl(repo / "data" / "train-00000-of-00001.jsonl", INSTRUCTIONS)
    _jsonl(repo / "data" / "test-00000-of-00001.jsonl", INSTRUCTIONS[:2])
    result = _run(tmp_path, "hf", {"hf": str(repo), "split": "train", "text": "{instruction}\n{input}\n{output}",
                                   "label": "label"})
    assert result.report.input.source == f"hf:{repo}" and result.report.input.rows == len(INSTRUCTIONS)
    assert result.removed.height == 2
    test_split = read_input(InputConfig(hf=str(repo), split="test", text="output")).frame
    assert test_split["text"].to_list() == ["bonjour", "bonjour"]


def test_hf_builders_read_local_files_and_stream(tmp_path):
    pytest.importorskip("datasets")
    shard = _jsonl(tmp_path / "rows.jsonl.gz", INSTRUCTIONS, compress=True)
    frame = read_input(InputConfig(hf="json", data_files=str(shard), text="output")).frame
    assert frame.height == len(INSTRUCTIONS) and frame["text"][0] == "bonjour"
    streamed = read_input(InputConfig(hf="json", data_files=str(shard), streaming=True, limit=3, text="output")).frame
    assert streamed["text"].to_list() == ["bonjour", "bonjour", "bonne nuit"]


def test_hf_names_what_it_could_not_load(tmp_path):
    pytest.importorskip("datasets")
    with pytest.raises(InputError, match="cannot load hf:") as error:
        read_input(InputConfig(hf="no-such-user/no-such-dataset-anywhere"))
    assert error.value.hint
    repo = tmp_path / "repo"
    _jsonl(repo / "data" / "train-00000-of-00001.jsonl", INSTRUCTIONS)
    with pytest.raises(InputError, match="cannot load hf:.*validation"):
        read_input(InputConfig(hf=str(repo), split="validation"))


def test_a_shard_with_no_readable_row_is_quarantined_whole_or_stops_the_run(tmp_path):
    folder = tmp_path / "data"
    _jsonl(folder / "good.jsonl", [{"text": "alpha one"}])
    (folder / "bad.jsonl.gz").write_bytes(gzip.compress(b"not json at all\n"))
    read = read_input(InputConfig(path=folder, on_bad_rows="quarantine"))
    assert read.frame["text"].to_list() == ["alpha one"]
    assert [(Path(b["file"]).name, b["line"]) for b in read.bad_rows] == [("bad.jsonl.gz", None)]
    assert "no readable rows" in read.bad_rows[0]["reason"]
    with pytest.raises(InputError, match=r"bad.jsonl.gz, line 1: invalid JSON"):
        read_input(InputConfig(path=folder))
