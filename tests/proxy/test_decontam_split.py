"""Test-set decontamination and the stratified split."""

from __future__ import annotations

import polars as pl
import pytest

from curate.config import ProxyTestConfig
from curate.proxy import annotate_test, contamination, stratified_split

pytest.importorskip("sklearn")

TRAIN = [
    "Stocks rallied on Tuesday as the central bank held interest rates steady for a third month",
    "The home team scored twice in the final ten minutes to win the league cup",
    "A new phone chip promises longer battery life and faster downloads",
    "short one",
]


def test_planted_exact_and_near_duplicates_are_found():
    test = [
        "  STOCKS rallied on   Tuesday as the central bank held interest rates steady for a third month",  # exact after normalising
        "The home team scored twice in the final ten minutes to win the league trophy",  # near: last word changed
        "Short One",  # exact, too short for shingles
        "Rain is expected across the north of the country over the weekend",  # clean
        "A new phone",  # clean: shares words, not enough shingles
    ]
    found = contamination(pl.Series(TRAIN), pl.Series(test), near_threshold=0.7)
    assert found["reason"].to_list() == ["exact_duplicate", "near_duplicate", "exact_duplicate", None, None]
    assert found["match"].to_list() == [0, 1, 3, None, None]
    assert found["similarity"][1] == pytest.approx(12 / 14)  # 13 shingles each, 12 shared
    assert found["similarity"][3] == 0.0


def test_threshold_decides_near_duplicates():
    test = ["The home team scored twice in the final ten minutes to win the league trophy"]
    assert contamination(pl.Series(TRAIN), pl.Series(test), 0.9)["reason"].to_list() == [None]


def test_annotate_names_the_training_row():
    pool = pl.DataFrame({"id": ["a", "b", "c", "d"], "text": TRAIN})
    test = pl.DataFrame({"id": ["x", "y"], "text": ["short  ONE", "nothing like the others at all here"]})
    out = annotate_test(pool, test, ProxyTestConfig())
    assert out["contamination"].to_list() == ["exact_duplicate", None]
    assert out["contaminated_with"].to_list() == ["d", None]
    off = annotate_test(pool, test, ProxyTestConfig(decontaminate=False))
    assert off["contamination"].null_count() == 2


def test_stratified_split_is_seeded_and_keeps_label_shares(labelled):
    pool, test = stratified_split(labelled, 0.2, seed=3)
    assert pool.height + test.height == labelled.height
    assert set(pool["id"]).isdisjoint(test["id"])
    counts = labelled["label"].value_counts().sort("label")
    test_counts = test["label"].value_counts().sort("label")
    assert test_counts["count"].to_list() == [round(c * 0.2) for c in counts["count"]]
    again, _ = stratified_split(labelled, 0.2, seed=3)
    other, _ = stratified_split(labelled, 0.2, seed=4)
    assert again["id"].to_list() == pool["id"].to_list()
    assert other["id"].to_list() != pool["id"].to_list()


def test_split_needs_a_label_column(labelled):
    from curate.errors import InputError

    with pytest.raises(InputError, match="needs a label column"):
        stratified_split(labelled.drop("label"), 0.2, seed=0)


def test_chinese_near_duplicates_of_training_rows_are_found():
    from curate.proxy.decontam import contamination
    from tests.multilingual import SENTENCES

    train = ["".join(SENTENCES["zh"][i:i + 3]) for i in range(0, 9, 3)]
    test = [train[1][:-3] + "的" + train[1][-2:], "".join(SENTENCES["zh"][9:10]) * 2]
    found = contamination(pl.Series(train), pl.Series(test), 0.8)
    assert found["reason"].to_list() == ["near_duplicate", None] and found["match"][0] == 1
