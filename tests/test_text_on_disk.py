"""Text held on disk (``output.hold_text``): the same outputs as with the text in memory, stages reading
their text a batch at a time from the input checkpoint, and one-line errors where a run cannot."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import curate
from curate.errors import ConfigError, CurateError
from curate.explain import explain_row
from curate.io.text_on_disk import ROW, TextOnDisk
from curate.io.writers import write_parquet
from curate.record import read_record

pytest.importorskip("numba")

SMS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sms_spam" / "SMSSpamCollection.tsv"
STAGES = [{"type": "exact_dedup", "keep": "longest"},
          {"type": "minhash_dedup", "threshold": 0.7, "ngram": 3, "keep": "longest", "batch_size": 500},
          {"type": "heuristic_filter", "preset": "short_text"},
          {"type": "filter", "expr": "text.len() > 3"}]


def _texts() -> list[str | None]:
    """Real SMS messages (with their own duplicates and near-duplicates), plus edited copies in several
    scripts; the word-salad fallback keeps the test running where the data set is absent."""
    if SMS.exists():
        texts = pl.read_csv(SMS, separator="\t", has_header=False, new_columns=["label", "text"], quote_char=None)["text"].to_list()
    else:
        rng = np.random.default_rng(0)
        texts = [" ".join(rng.choice([f"w{i}" for i in range(300)], 12)) for _ in range(5000)]
    extra = ["今天的会议改到下午三点，请大家准时参加。", "今天的会议改到下午三点，请大家准时参加！",
             "الاجتماع اليوم في الساعة الثالثة بعد الظهر", "الاجتماع اليوم في الساعة الثالثة بعد الظهر."]
    empty = ["", "  \n ", None]  # ledgered as empty_text before any stage: the rows on disk must skip them
    return texts + extra + empty + [t.upper() for t in texts[:300]] + [t + " ok" for t in texts[300:600]]


def _run(tmp_path: Path, hold_text: str, checkpoints: str = "full") -> curate.RunResult:
    data = tmp_path / "data.parquet"
    if not data.exists():
        texts = _texts()
        pl.DataFrame({"id": [f"m{i}" for i in range(len(texts))], "text": texts,
                      "source": ["sms"] * len(texts)}).write_parquet(data)
    return curate.run({"name": hold_text, "input": {"path": str(data), "id": "id"}, "stages": STAGES,
                       "output": {"dir": str(tmp_path / "runs"), "hold_text": hold_text, "checkpoints": checkpoints}})


def test_text_on_disk_gives_the_outputs_of_text_in_memory(tmp_path):
    memory, disk = _run(tmp_path, "memory"), _run(tmp_path, "disk")
    assert memory.removed["reason"].n_unique() >= 4 and memory.removed.height > 500  # every stage removed rows
    assert memory.removed.filter(pl.col("reason") == "empty_text").height == 3
    assert disk.curated.equals(memory.curated)
    assert disk.removed.equals(memory.removed)
    for name in ("curated.parquet", "removed.parquet"):
        assert pl.read_parquet(disk.run_dir / name).equals(pl.read_parquet(memory.run_dir / name)), name
    assert pl.read_parquet_metadata(disk.run_dir / "curated.parquet")["curate.text"] == "text"
    assert ROW not in disk.curated.columns
    checkpoint = "stages/01-exact_dedup.parquet"  # full checkpoints: the rows the run holds
    assert "text" in pl.read_parquet(memory.run_dir / checkpoint).columns
    assert "text" not in pl.read_parquet(disk.run_dir / checkpoint).columns
    same = lambda record: [(f.stage, f.rows_in, f.rows_out, f.removed) for f in record.funnel]  # noqa: E731
    assert same(read_record(disk.run_dir)) == same(read_record(memory.run_dir))
    for stage in read_record(memory.run_dir).stages:
        on_disk = next(s for s in read_record(disk.run_dir).stages if s.stage == stage.stage)
        assert {k: v for k, v in on_disk.stats.items() if k not in ("seconds", "cpu_seconds")} == \
               {k: v for k, v in stage.stats.items() if k not in ("seconds", "cpu_seconds")}, stage.stage
    for artefact in ("03-heuristic_filter/heuristic_scores.parquet", "02-minhash_dedup/minhash_signatures/signatures.parquet"):
        paths = [run.run_dir / "artifacts" / artefact for run in (memory, disk)]
        assert paths[0].exists() and pl.read_parquet(paths[0]).equals(pl.read_parquet(paths[1])), artefact
    removed = disk.removed.filter(pl.col("reason") == "near_duplicate")["id"][0]
    info = explain_row(disk.run_dir, removed)
    assert info["status"] == "removed" and info["row"]["text"] and info["duplicate_of_row"]["text"]


def test_checkpoints_hold_row_numbers_and_a_rerun_resumes_every_stage(tmp_path):
    first = _run(tmp_path, "disk", checkpoints="ids")
    stages = first.run_dir / "stages"
    written = pl.read_parquet(stages / "03-heuristic_filter.parquet")
    assert "text" not in written.columns and written.columns[0] == "id"
    curated = (first.run_dir / "curated.parquet").read_bytes()
    again = _run(tmp_path, "disk", checkpoints="ids")  # the same run directory: the files are rewritten
    assert [s.resumed for s in read_record(again.run_dir).stages] == [True] * len(STAGES)
    assert (again.run_dir / "curated.parquet").read_bytes() == curated
    with pytest.raises(CurateError, match="no longer this run's output"):
        first.curated  # noqa: B018 - the first result's rows were on disk, and the rerun replaced them
    assert again.curated.height == pl.read_parquet(again.run_dir / "curated.parquet").height


def test_text_batches_read_the_rows_asked_for_in_order(tmp_path):
    texts = [f"text {i} " + "x" * (i % 50) for i in range(1000)]
    path = tmp_path / "input.parquet"
    write_parquet(pl.DataFrame({"id": [str(i) for i in range(1000)], "text": texts}), path)
    store = TextOnDisk(path, np.array([len(t) for t in texts]))
    rows = np.sort(np.random.default_rng(1).choice(1000, 333, replace=False))
    for size in (1, 7, 100, 5000):
        batches = list(store.batches(rows, size))
        assert all(len(b) == size for b in batches[:-1]) and len(batches[-1]) <= size
        assert pl.concat(batches).to_list() == [texts[r] for r in rows]
    assert store.bytes_of(rows) == sum(len(texts[r]) for r in rows)
    with pytest.raises(ValueError, match="ascending"):
        next(store.batches(rows[::-1], 10))


@pytest.mark.parametrize(("extra", "why"), [
    ({"stages": [{"type": "exact_dedup"}, {"type": "semantic_dedup"}]}, "stage 'semantic_dedup' needs every text at once"),
    ({"stages": [{"type": "minhash_dedup", "index": {"save": "idx"}}]}, "stage 'minhash_dedup' needs every text at once"),
    ({"stages": [{"type": "exact_dedup"}], "proxy_train": {"model": "tfidf"}}, "proxy_train trains on the text"),
])
def test_disk_where_a_run_cannot_is_one_line_naming_why(tmp_path, extra, why):
    data = tmp_path / "d.csv"
    pl.DataFrame({"text": [f"message {i % 40} about {i}" for i in range(200)], "label": ["a", "b"] * 100}).write_csv(data)
    config = {"name": "x", "input": {"path": str(data)}, "output": {"dir": str(tmp_path / "runs"), "hold_text": "disk"}, **extra}
    with pytest.raises(ConfigError, match=f"output.hold_text is disk, but {why}"):
        curate.run(config)
    assert not (tmp_path / "runs").exists()  # stopped before the run directory was touched
