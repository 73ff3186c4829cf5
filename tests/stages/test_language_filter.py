"""language_filter: the bundled offline model, the lang columns, bounds and degenerate texts."""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl
import pytest

from curate.stages.base import RunContext
from curate.stages.language_filter import LANG, LANG_SCORE, LanguageFilter, LanguageFilterConfig, detect

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from langid_sample import SAMPLE  # noqa: E402


def frame(texts: list[str | None]) -> pl.DataFrame:
    return pl.DataFrame({"id": [f"r{i}" for i in range(len(texts))], "text": texts}, schema={"id": pl.String, "text": pl.String})


def test_detects_the_sample_languages_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    detected = detect(pl.Series([t for _, t in SAMPLE]), 1000)
    assert detected[LANG].to_list() == [code for code, _ in SAMPLE]
    assert detected[LANG_SCORE].is_between(0, 1).all()


def test_keeps_listed_languages_and_records_the_rest():
    texts = ["The weather was lovely this morning, so we walked to the market.",
             "Le temps était magnifique ce matin, alors nous sommes allés au marché.",
             "Сегодня утром была прекрасная погода, и мы пошли на рынок.", "", None, "ok"]
    result = LanguageFilter(LanguageFilterConfig(languages=("en", "fr"))).apply(frame(texts), RunContext())
    assert result.kept["id"].to_list() == ["r0", "r1"]
    assert result.kept[LANG].to_list() == ["en", "fr"]
    ledger = {r["id"]: r for r in result.removed.iter_rows(named=True)}
    assert ledger["r2"]["reason"] == "language_not_allowed" and ledger["r2"]["detail"].startswith("detected ru;")
    assert ledger["r3"]["reason"] == ledger["r4"]["reason"] == "language_unknown"
    assert ledger["r5"]["reason"] == "language_low_confidence" and ledger["r5"]["score"] < 0.65


def test_min_score_bounds():
    texts = frame(["The weather was lovely this morning, so we walked to the market."])
    score = detect(texts["text"], 1000)[LANG_SCORE][0]
    at_bound = LanguageFilter(LanguageFilterConfig(min_score=score)).apply(texts, RunContext())
    assert at_bound.kept.height == 1
    strict = LanguageFilter(LanguageFilterConfig(min_score=min(1.0, score + 1e-6))).apply(texts, RunContext())
    assert strict.kept.height == 0 or score == 1.0


def test_flag_action_and_whitespace():
    result = LanguageFilter(LanguageFilterConfig(action="flag")).apply(frame(["  \n ", "Bonjour tout le monde, ça va?"]), RunContext())
    assert result.removed.height == 0 and result.kept[LANG].to_list() == [None, "fr"]
    assert result.stats["failing"] == 2


def test_long_and_multiline_text():
    text = "This is a line of English text.\n" * 200_000
    detected = detect(pl.Series([text]), 1000)
    assert detected[LANG][0] == "en"


def test_config_bounds():
    with pytest.raises(ValueError):
        LanguageFilterConfig(min_score=1.5)
    with pytest.raises(ValueError):
        LanguageFilterConfig(languages=())
