"""The heuristic rule table: names, score columns, fixed order, and the two presets.

A rule keeps a row when ``min <= score <= max`` (a missing bound is open; a null score, e.g.
the mean word length of a text with no words, passes). Rows failing several rules are
recorded under the first one in :data:`RULES` order. ``line`` rules (C4) drop lines, not
rows: they decide which lines count towards ``c4_sentences``.

Presets (the published defaults are ``web``):

- ``web``: Gopher quality and repetition rules (Rae et al., 2021, table A1) and C4 rules
  (Raffel et al., 2020), with the defaults of datatrove's filters.
- ``short_text``: tweets, SMS, titles. Line and paragraph rules are off (a tweet is one
  line), bounds fit 3..200-word texts, hashtags are allowed, top n-grams only count when
  repeated, and lorem ipsum / curly braces look at the whole text.
"""

from __future__ import annotations

from dataclasses import dataclass

Bound = tuple[float | None, float | None]


@dataclass(frozen=True)
class Rule:
    """One rule: its score column, family, kind and the bounds of each preset (None: off)."""

    name: str
    column: str
    family: str
    web: Bound | None
    short_text: Bound | None
    kind: str = "row"
    description: str = ""


def _top(n: int, web: float, short: float) -> Rule:
    return Rule(f"gopher_top_{n}gram", f"q_top_{n}gram_frac", "gopher_repetition", (None, web), (None, short),
                description=f"characters in the most frequent word {n}-gram x its count / text characters")


def _dup(n: int, web: float, short: float) -> Rule:
    return Rule(f"gopher_dup_{n}gram", f"q_dup_{n}gram_frac", "gopher_repetition", (None, web), (None, short),
                description=f"characters in repeated word {n}-grams / text characters")


RULES: tuple[Rule, ...] = (
    Rule("gopher_word_count", "q_words", "gopher_quality", (50, 100_000), (3, 200),
         description="words that are not only symbols"),
    Rule("gopher_mean_word_length", "q_mean_word_length", "gopher_quality", (3, 10), (2, 15),
         description="mean characters per word (symbols excluded)"),
    Rule("gopher_hash_ratio", "q_hash_ratio", "gopher_quality", (None, 0.1), (None, 0.4),
         description="'#' characters per token"),
    Rule("gopher_ellipsis_ratio", "q_ellipsis_ratio", "gopher_quality", (None, 0.1), (None, 0.3),
         description="'...' and '…' per token"),
    Rule("gopher_bullet_lines", "q_bullet_lines_frac", "gopher_quality", (None, 0.9), None,
         description="fraction of lines starting with '•' or '-'"),
    Rule("gopher_ellipsis_lines", "q_ellipsis_lines_frac", "gopher_quality", (None, 0.3), None,
         description="fraction of lines ending with '...' or '…'"),
    Rule("gopher_alpha_words", "q_alpha_words_frac", "gopher_quality", (0.8, None), (0.5, None),
         description="fraction of tokens with an alphabetic character"),
    Rule("gopher_stop_words", "q_stop_words", "gopher_quality", (2, None), None,
         description="distinct stop words present"),
    Rule("gopher_dup_para_frac", "q_dup_para_frac", "gopher_repetition", (None, 0.3), None,
         description="fraction of paragraphs that repeat an earlier one"),
    Rule("gopher_dup_para_char_frac", "q_dup_para_char_frac", "gopher_repetition", (None, 0.2), None,
         description="characters in repeated paragraphs / text characters"),
    Rule("gopher_dup_line_frac", "q_dup_line_frac", "gopher_repetition", (None, 0.3), None,
         description="fraction of lines that repeat an earlier one"),
    Rule("gopher_dup_line_char_frac", "q_dup_line_char_frac", "gopher_repetition", (None, 0.2), None,
         description="characters in repeated lines / text characters"),
    _top(2, 0.20, 0.4), _top(3, 0.18, 0.4), _top(4, 0.16, 0.4),
    _dup(5, 0.15, 0.3), _dup(6, 0.14, 0.3), _dup(7, 0.13, 0.3), _dup(8, 0.12, 0.3), _dup(9, 0.11, 0.3),
    _dup(10, 0.10, 0.3),
    Rule("c4_word_length", "", "c4", (None, 1000), None, "line", "drop lines with a word longer than max"),
    Rule("c4_terminal_punct", "", "c4", (None, None), None, "line",
         "drop lines not ending in . ? ! \" ' (or ending in ...)"),
    Rule("c4_words_per_line", "", "c4", (3, None), None, "line", "drop lines with fewer words than min"),
    Rule("c4_javascript", "", "c4", (None, None), None, "line", "drop lines mentioning javascript"),
    Rule("c4_policy", "", "c4", (None, None), None, "line", "drop terms-of-use / privacy / cookie-policy lines"),
    Rule("c4_lorem_ipsum", "q_c4_lorem_ipsum", "c4", (None, 0), (None, 0),
         description="1 when a kept line (short_text: the text) contains 'lorem ipsum'"),
    Rule("c4_curly_bracket", "q_c4_curly_bracket", "c4", (None, 0), (None, 0),
         description="1 when a kept line (short_text: the text) contains '{'"),
    Rule("c4_sentences", "q_c4_sentences", "c4", (5, None), None, description="sentences in the lines C4 keeps"),
    Rule("c4_kept_lines", "q_c4_kept_lines_frac", "c4", None, None, description="fraction of lines C4 keeps"),
    Rule("c4_bad_words", "q_c4_bad_words", "c4", (None, 0), (None, 0),
         description="words from the configured bad_words list (on only when the list is given)"),
)

RULE_NAMES: tuple[str, ...] = tuple(rule.name for rule in RULES)
BY_NAME: dict[str, Rule] = {rule.name: rule for rule in RULES}
