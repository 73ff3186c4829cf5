"""heuristic_filter: every rule on hand-written texts, bounds, presets, ledger, edge cases."""

from __future__ import annotations

import polars as pl
import pytest
from pydantic import ValidationError

from curate.quality.rules import RULES
from curate.stages.base import RunContext
from curate.stages.heuristic_filter import FAILED_RULE, HeuristicFilter, HeuristicFilterConfig, score_frame

CLEAN = "\n".join([
    "The committee said that the new plan of the city will add more parks near the river.",
    "Residents have asked for better bus routes and safer bike lanes for many years.",
    "Officials expect the first stage to be finished before the end of next summer.",
    "Critics argue that the budget is too small to cover the rising cost of materials.",
    "A public meeting on the proposal is planned for Thursday evening at the library.",
    "Local shops hope that more visitors will come to the old market with the changes.",
])


def run(texts: list[str | None], **config) -> tuple[pl.DataFrame, pl.DataFrame]:
    df = pl.DataFrame({"id": [f"r{i}" for i in range(len(texts))], "text": texts}, schema={"id": pl.String, "text": pl.String})
    result = HeuristicFilter(HeuristicFilterConfig(**config)).apply(df, RunContext())
    return result.kept, result.removed


def only(rule: str, bounds: dict | None = None, preset: str = "web") -> dict:
    """Every row rule off except ``rule`` (with ``bounds`` if given); C4's line rules stay on."""
    rules = {r.name: False for r in RULES if r.name != rule and r.kind == "row"}
    rules[rule] = bounds if bounds is not None else True
    return {"preset": preset, "rules": rules}


def reason(text: str, rule: str, bounds: dict | None = None, preset: str = "web") -> str | None:
    _, removed = run([text], **only(rule, bounds, preset))
    return removed["reason"][0] if removed.height else None


def test_clean_web_text_passes_every_rule_and_gets_scores():
    kept, removed = run([CLEAN])
    assert removed.height == 0
    rows = {r.column for r in RULES if r.kind == "row" and r.name != "c4_bad_words"}
    assert rows <= set(kept.columns)
    assert kept["q_words"][0] > 50 and kept["q_c4_sentences"][0] == 6


@pytest.mark.parametrize(("rule", "bad", "good"), [
    ("gopher_word_count", "word " * 49, "word " * 50),
    ("gopher_mean_word_length", " ".join(["ab"] * 60), " ".join(["abc"] * 60)),
    ("gopher_mean_word_length", " ".join(["abcdefghijk"] * 60), " ".join(["abcdefghij"] * 60)),
    ("gopher_hash_ratio", "#tag " * 10 + "word " * 50, "#tag " * 6 + "word " * 54),
    ("gopher_ellipsis_ratio", "word... " * 10 + "word " * 30, "word... " * 2 + "word " * 50),
    ("gopher_bullet_lines", "\n".join(["- item one"] * 10), "\n".join(["- item one"] * 9 + ["plain line"])),
    ("gopher_ellipsis_lines", "a line ...\nanother…\nthird line", "a line ...\nsecond line\nthird line\nfourth"),
    ("gopher_alpha_words", "12 34 56 78 word", "12 word word word word"),
    ("gopher_stop_words", "cats like fish and dogs", "cats like the fish and dogs"),
    ("gopher_dup_para_frac", "para one\n\npara one\n\npara two", "para one\n\npara two\n\npara three\n\npara one"),
    ("gopher_dup_para_char_frac", "a long first paragraph here\n\na long first paragraph here\n\nend",
     "a long first paragraph here\n\nanother paragraph that is different and long\n\nthird one here yes"),
    ("gopher_dup_line_frac", "x\ny\nx\nx", "w\nx\ny\nz\nx"),
    ("gopher_dup_line_char_frac", "a long line that repeats\nshort\na long line that repeats",
     "a long line that is unique\nshort\nanother unique line\nshort"),
    ("gopher_top_2gram", "new york new york new york is big", "new york is a big city with many people living in it"),
    ("gopher_dup_5gram", "one two three four five one two three four five six",
     "one two three four five six seven eight nine ten eleven"),
    ("gopher_dup_10gram", (" ".join(str(i) + "a" for i in range(10)) + " ") * 2, " ".join(str(i) + "a" for i in range(20))),
])
def test_rule_positive_and_negative(rule, bad, good):
    assert reason(bad, rule) == rule
    assert reason(good, rule) is None


def test_c4_rules_on_lines():
    lorem = CLEAN + "\nLorem ipsum dolor sit amet, consectetur."
    assert reason(lorem, "c4_lorem_ipsum") == "c4_lorem_ipsum"
    # C4 only looks at lines it keeps: a line without terminal punctuation is dropped first.
    assert reason(CLEAN + "\nlorem ipsum dolor sit amet", "c4_lorem_ipsum") is None
    assert reason(CLEAN + "\nvar x = {a: 1};", "c4_curly_bracket") is None
    assert reason(CLEAN + "\nThe config is {a: 1} here.", "c4_curly_bracket") == "c4_curly_bracket"
    assert reason(CLEAN, "c4_sentences") is None
    four = "\n".join(CLEAN.splitlines()[:4])
    _, removed = run([four], **only("c4_sentences"))
    assert removed["reason"][0] == "c4_sentences" and removed["score"][0] == 4
    # lines the line rules drop do not count as sentences
    padded = four + "\nPlease enable JavaScript to see this page now." + "\nRead our privacy policy today please."
    padded += "\nToo short." + "\nno terminal punctuation on this line"
    assert reason(padded, "c4_sentences") == "c4_sentences"
    kept, _ = run([padded], rules={"c4_javascript": False, "c4_policy": False})
    assert kept.height == 0 or kept["q_c4_sentences"][0] == 6


def test_c4_line_rules_switch_off_and_bounds():
    four = "\n".join(CLEAN.splitlines()[:4]) + "\nTwo words."
    assert reason(four, "c4_sentences") == "c4_sentences"
    config = only("c4_sentences")
    config["rules"]["c4_words_per_line"] = {"min": 2}
    _, removed = run([four], **config)
    assert removed.height == 0


def test_bad_words_only_when_listed():
    text = CLEAN + "\nThis darn thing is bad."
    _, removed = run([text])
    assert removed.height == 0
    _, removed = run([text], bad_words=["DARN"])
    assert removed["reason"].to_list() == ["c4_bad_words"] and removed["score"][0] == 1


def test_thresholds_at_their_bounds_are_kept():
    # exactly 0.1 hashes per token (6 tokens with '#', 60 tokens): kept; one more: removed
    at_bound = "#" + " w" * 59
    kept = score_frame(pl.Series([at_bound]), HeuristicFilterConfig(**only("gopher_hash_ratio")))
    assert kept["q_hash_ratio"][0] == pytest.approx(1 / 60)
    text = " ".join(["#a"] * 5) + " " + " ".join(["w"] * 40)
    scores = score_frame(pl.Series([text]), HeuristicFilterConfig(**only("gopher_hash_ratio")))
    assert scores["q_hash_ratio"][0] == pytest.approx(0.1)
    assert reason(text, "gopher_hash_ratio") is None
    assert reason(text, "gopher_hash_ratio", {"max": 0.0999}) == "gopher_hash_ratio"
    assert reason("word " * 50, "gopher_word_count", {"min": 50, "max": 50}) is None
    assert reason("word " * 51, "gopher_word_count", {"min": 50, "max": 50}) == "gopher_word_count"


def test_ledger_names_first_failing_rule_value_and_bound():
    text = "#a #b #c ... ... ..."  # too few words and too many hashes: word count is checked first
    kept, removed = run([text, CLEAN])
    assert kept["id"].to_list() == ["r1"]
    row = removed.row(0, named=True)
    assert row["reason"] == "gopher_word_count" and row["score"] == 3.0
    assert row["detail"] == "needs 50 <= q_words <= 100000"


def test_empty_whitespace_and_null_texts():
    kept, removed = run(["", "   \n\t ", None, CLEAN])
    assert kept["id"].to_list() == ["r3"]
    assert removed["reason"].to_list() == ["gopher_word_count"] * 3
    assert removed["score"].to_list() == [0.0, 0.0, 0.0]
    kept, removed = run(["", "  "], preset="short_text")
    assert removed.height == 2


def test_non_latin_scripts():
    russian = " ".join(["Это был очень хороший и тёплый день в городе."] * 2 + [
        "Мы гуляли по парку, говорили о книгах и смотрели на реку, которая текла медленно."] * 1)
    greek = "Η γλώσσα είναι ένα σύστημα επικοινωνίας που χρησιμοποιούν οι άνθρωποι κάθε μέρα."
    scores = score_frame(pl.Series([russian, greek, "这是一个中文句子，没有空格。", "مرحبا بكم في المدينة الجميلة"]),
                         HeuristicFilterConfig())
    assert scores["q_words"].to_list()[:2] == [len(russian.replace(",", "").replace(".", "").split()), 12]
    assert scores["q_alpha_words_frac"][2] > 0 and scores["q_words"][3] == 5
    assert scores.null_count().row(0)[0] == 0


@pytest.mark.slow
def test_ten_megabyte_document():
    lines = [f"Line {i} of a long report says that the value {i * 7 % 1000} was seen in {i % 50} places." for i in range(140_000)]
    text = "\n".join(lines)
    assert len(text.encode()) > 10_000_000
    kept, removed = run([text, CLEAN])
    assert "r1" in kept["id"].to_list()
    assert removed.height == 1 and removed["reason"][0] == "gopher_word_count"  # over 100,000 words
    scores = score_frame(pl.Series([text]), HeuristicFilterConfig(rules={"gopher_word_count": False}))
    assert 0 < scores["q_top_2gram_frac"][0] < 1 and scores["q_c4_sentences"][0] == 140_000


def test_short_text_preset():
    tweets = ["@united thanks for the quick help with my bag today!",
              "lol lol lol lol lol lol lol lol",
              "#aaa #bbb #ccc #ddd #eee #fff",
              "ok",
              "Lorem ipsum dolor sit amet, nice tweet",
              "Just landed in Denver... what a flight"]
    kept, removed = run(tweets, preset="short_text")
    assert kept["id"].to_list() == ["r0", "r5"]
    assert dict(zip(removed["id"], removed["reason"], strict=True)) == {
        "r1": "gopher_top_2gram", "r2": "gopher_hash_ratio", "r3": "gopher_word_count", "r4": "c4_lorem_ipsum"}
    assert "q_bullet_lines_frac" not in kept.columns


def test_flag_action_keeps_everything():
    kept, removed = run(["", CLEAN], action="flag")
    assert removed.height == 0 and kept[FAILED_RULE].to_list() == ["gopher_word_count", None]


def test_config_errors():
    with pytest.raises(ValidationError, match="did you mean 'gopher_word_count'"):
        HeuristicFilterConfig(rules={"gopher_word_cnt": False})
    with pytest.raises(ValidationError, match="short_text preset has none"):
        HeuristicFilterConfig(preset="short_text", rules={"gopher_bullet_lines": True})
    with pytest.raises(ValidationError, match="no default bounds"):
        HeuristicFilterConfig(rules={"c4_kept_lines": True})
    assert HeuristicFilterConfig(rules={"c4_kept_lines": {"min": 0.5}}).bounds()["c4_kept_lines"] == (0.5, None)


def test_batches_give_the_same_scores():
    texts = pl.Series([CLEAN, "", "x y z " * 30, "- a\n- b", CLEAN + "\n\n" + CLEAN] * 3)
    whole = score_frame(texts, HeuristicFilterConfig())
    batched = score_frame(texts, HeuristicFilterConfig(batch_size=2))
    assert whole.equals(batched)


# --- issue 13: text that is not English is not removed wholesale ---------------------------


@pytest.mark.parametrize("preset", ["web", "short_text"])
def test_no_language_is_removed_wholesale(preset):
    from tests.multilingual import LANGUAGES, documents, tweets

    make = documents if preset == "web" else tweets
    for lang in LANGUAGES:
        kept, removed = run(make(lang, 25), preset=preset)
        assert removed.height == 0, (lang, removed["reason"].value_counts().rows())


def test_words_of_scripts_without_spaces_are_characters():
    from tests.multilingual import SENTENCES

    chinese = SENTENCES["zh"][0]  # 今天早上我们一起去公园散步，天气非常好。
    scores = score_frame(pl.Series([chinese * 15]), HeuristicFilterConfig())
    assert scores["q_words"][0] == 15 * 18  # every character but the two punctuation marks
    assert scores["q_mean_word_length"][0] is None  # no word of a spaced script: the rule does not apply
    assert scores["q_c4_sentences"][0] == 15  # 。 ends a sentence with no space after it
    mixed = score_frame(pl.Series(["curate 很好用 today"]), HeuristicFilterConfig())
    assert mixed["q_words"][0] == 5 and mixed["q_mean_word_length"][0] == 5.5


def test_english_stop_words_judge_only_english_rows():
    from tests.multilingual import documents

    arabic, korean, hebrew = documents("ar", 3), documents("ko", 3), documents("he", 3)
    no_stop_words = "\n".join(["Quarterly revenue rose sharply."] * 2 + [CLEAN.replace("the ", "a ").replace(" of ", " in ")
                              .replace(" and ", " or ").replace(" to ", " for ").replace(" have ", " had ")
                              .replace(" that ", " as ").replace(" with ", " by ")])
    kept, removed = run(arabic + korean + hebrew + [no_stop_words], **only("gopher_stop_words"))
    assert removed["id"].to_list() == ["r9"]  # the English text without stop words, and only it
    # with a language column (from language_filter) no detection runs: the column decides
    df = pl.DataFrame({"id": ["a", "b"], "text": [arabic[0], no_stop_words], "lang": ["ar", "en"]})
    result = HeuristicFilter(HeuristicFilterConfig(**only("gopher_stop_words"))).apply(df, RunContext())
    assert result.removed["id"].to_list() == ["b"]


def test_a_rule_removing_most_of_one_script_warns():
    from tests.multilingual import documents

    texts = documents("ar", 25) + documents("zh", 25) + [CLEAN] * 3
    df = pl.DataFrame({"id": [f"r{i}" for i in range(len(texts))], "text": texts})
    misconfigured = HeuristicFilterConfig(stop_words_languages=("en", "ar"))  # English stop words on Arabic
    result = HeuristicFilter(misconfigured).apply(df, RunContext())
    assert result.stats["language_warnings"] == [
        {"rule": "gopher_stop_words", "lang": "Arabic", "rows": 25, "would_remove": 25, "share": 1.0}]
    assert "would remove 100% of the 25 rows in script 'Arabic'" in result.stats["warnings"][0]
    quiet = HeuristicFilter(HeuristicFilterConfig(stop_words_languages=("en", "ar"), warn_language_share=None))
    assert "warnings" not in quiet.apply(df, RunContext()).stats
    # counts of blocks add up: the warning is the same from the summed counts of two halves (the Ray engine's way)
    stage = HeuristicFilter(misconfigured)
    halves = [stage.apply(df.slice(0, 30), RunContext()).stats, stage.apply(df.slice(30), RunContext()).stats]
    combined = stage.combine_stats(halves)
    assert combined["language_warnings"] == result.stats["language_warnings"]


def test_language_warnings_reach_the_run_output_and_the_report(tmp_path):
    import curate
    from curate.engine.observer import RunObserver
    from tests.multilingual import documents

    messages = []

    class Listen(RunObserver):
        def message(self, text):
            messages.append(text)

    texts = documents("ar", 25) + documents("zh", 25)
    config = {"name": "w", "stages": [{"type": "heuristic_filter", "stop_words_languages": ["en", "ar"]}],
              "output": {"dir": str(tmp_path)}}
    result = curate.run(config, data=pl.DataFrame({"text": texts}), observer=Listen())
    assert any("stage 'heuristic_filter': rule gopher_stop_words would remove 100%" in m for m in messages)
    assert result.report.warnings == [m for m in messages if m.startswith("stage 'heuristic_filter'")]
    assert "would remove 100% of the 25 rows in script" in (result.run_dir / "report.html").read_text()


def test_min_above_max_is_rejected():
    with pytest.raises(ValidationError, match="min 100 above max 10"):
        HeuristicFilterConfig(rules={"gopher_word_count": {"min": 100, "max": 10}})
    with pytest.raises(ValidationError, match="min 300 above max 200"):  # the preset's max 200 with a new min
        HeuristicFilterConfig(preset="short_text", rules={"gopher_word_count": {"min": 300}})
