"""Exact dedup: each normalisation switch, both hash widths, every keep policy."""

from __future__ import annotations

import polars as pl
import pytest

from curate.errors import StageError
from curate.normalize import NormalizeConfig, normalize
from curate.stages.base import RunContext
from curate.stages.exact_dedup import ExactDedup, ExactDedupConfig


def _removed(df, **params):
    result = ExactDedup(ExactDedupConfig(**params)).apply(df, RunContext())
    return dict(zip(result.removed["id"], result.removed["duplicate_of"], strict=True))


def _frame(texts, **extra):
    return pl.DataFrame({"id": [f"r{i}" for i in range(len(texts))], "text": texts, **extra})


@pytest.mark.parametrize(("switch", "a", "b"), [
    ("nfkc", "ｆｕｌｌ width ﬁ", "full width fi"),
    ("lowercase", "Hello World", "hello world"),
    ("collapse_whitespace", "a  b\t\nc ", "a b c"),
    ("strip_punctuation", "hi, there!", "hi there"),
])
def test_each_normalisation_switch(switch, a, b):
    df = _frame([a, b])
    on = {"nfkc": False, "lowercase": False, "collapse_whitespace": False, "strip_punctuation": False, switch: True}
    off = {**on, switch: False}
    assert _removed(df, normalize=on) == {"r1": "r0"}
    assert _removed(df, normalize=off) == {}


def test_normalize_keeps_nulls_and_non_ascii_order():
    texts = pl.Series(["ＡＢ", None, "ab", "Ǆ x"])
    assert normalize(texts, NormalizeConfig()).to_list() == ["ab", None, "ab", "dž x"]


def test_whitespace_collapse_equals_the_plain_regex():
    texts = pl.Series(["a\u00a0\u2003 b\n\tc", " lead and trail ", "one two", "x\r\ny", "tab\tonly", ""])
    config = NormalizeConfig(nfkc=False, lowercase=False)
    assert normalize(texts, config).to_list() == texts.str.replace_all(r"\s+", " ").str.strip_chars().to_list()


@pytest.mark.parametrize("bits", [64, 128])
def test_hash_widths_find_the_same_groups(bits):
    df = _frame(["x", "y", "X ", "z", "y"])
    assert _removed(df, hash_bits=bits) == {"r2": "r0", "r4": "r1"}


def test_keep_policies():
    df = _frame(["short", "SHORT", " short  "], score=[0.1, 0.9, 0.5])
    assert _removed(df, keep="first") == {"r1": "r0", "r2": "r0"}
    assert _removed(df, keep="longest") == {"r0": "r2", "r1": "r2"}
    assert _removed(df, keep="max", keep_column="score") == {"r0": "r1", "r2": "r1"}
    with pytest.raises(StageError, match="keep_column 'nope' not found; columns are: id, text, score"):
        _removed(df, keep="max", keep_column="nope")


def test_max_with_nulls_prefers_a_value():
    df = _frame(["a", "a", "a"], score=[None, 0.2, 0.1])
    assert _removed(df, keep="max", keep_column="score") == {"r0": "r1", "r2": "r1"}


def test_ledger_rows_and_kept_order(small_frame):
    result = ExactDedup(ExactDedupConfig()).apply(small_frame, RunContext())
    assert result.kept["id"].to_list() == ["r0", "r2", "r4", "r6"]
    removed = result.removed.sort("id")
    assert removed["id"].to_list() == ["r1", "r3", "r5", "r7"]
    assert removed["duplicate_of"].to_list() == ["r0", "r0", "r2", "r4"]
    assert set(removed["reason"]) == {"exact_duplicate"} and set(removed["score"]) == {1.0}
    assert removed["cluster_id"].to_list() == [0, 0, 2, 4]
    assert result.stats["duplicate_groups"] == 3
