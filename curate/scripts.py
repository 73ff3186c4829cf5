"""Writing systems without spaces between words, and how curate counts words in them.

Chinese, Japanese, Thai, Lao, Khmer and Burmese do not put spaces between words, so a
whitespace tokenizer sees a whole sentence (or paragraph) as one "word". curate treats each
character of these scripts as one token, as BERT's tokenizer and Unicode's default word
boundaries (UAX #29) do for ideographs: word counts, word shingles and word n-grams then work
on them with character units, and text in other scripts is tokenised as before.
"""

from __future__ import annotations

import re

import polars as pl

# Code point ranges of the scripts above (letters and their iteration marks, no punctuation).
UNSPACED_RANGES: tuple[tuple[int, int], ...] = (
    (0x0E00, 0x0E7F),    # Thai
    (0x0E80, 0x0EFF),    # Lao
    (0x1000, 0x109F),    # Myanmar
    (0x1780, 0x17FF),    # Khmer
    (0x2E80, 0x2FDF),    # CJK radicals, Kangxi radicals
    (0x3005, 0x3007),    # 々 〆 〇
    (0x3021, 0x3029),    # Hangzhou numerals
    (0x3031, 0x3035),    # kana repeat marks
    (0x3038, 0x303C),
    (0x3040, 0x30FF),    # Hiragana, Katakana
    (0x31F0, 0x31FF),    # Katakana phonetic extensions
    (0x3400, 0x4DBF),    # CJK extension A
    (0x4E00, 0x9FFF),    # CJK unified ideographs
    (0xF900, 0xFAFF),    # CJK compatibility ideographs
    (0xFF66, 0xFF9F),    # half-width Katakana
    (0x20000, 0x3134F),  # CJK extensions B-G, compatibility supplement
)

#: One character of those scripts, for polars (Rust regex) patterns.
UNSPACED = "[" + "".join(f"\\x{{{lo:X}}}-\\x{{{hi:X}}}" for lo, hi in UNSPACED_RANGES) + "]"
#: The same, for Python's :mod:`re`.
UNSPACED_RE = re.compile("[" + "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in UNSPACED_RANGES) + "]")
#: A word: one character of an unspaced script, or a run of other non-space characters.
WORD = f"{UNSPACED}|[^\\s{UNSPACED[1:-1]}]+"


def space_out(texts: pl.Expr) -> pl.Expr:
    """Put a space on both sides of every character of an unspaced script (other text unchanged)."""
    return texts.str.replace_all(f"({UNSPACED})", " ${1} ")


def space_out_text(text: str) -> str:
    """:func:`space_out` for one Python string (the reference for tests and datasketch)."""
    return UNSPACED_RE.sub(lambda m: f" {m.group(0)} ", text)


def count_words(texts: pl.Expr) -> pl.Expr:
    """Words per text: runs of non-space characters, each unspaced-script character counting as one."""
    return texts.str.count_matches(WORD)


# The writing systems a row is grouped by when no language column is at hand.
SCRIPTS: dict[str, str] = {
    "Latin": r"\p{Latin}", "Cyrillic": r"\p{Cyrillic}", "Greek": r"\p{Greek}", "Arabic": r"\p{Arabic}",
    "Hebrew": r"\p{Hebrew}", "Devanagari": r"\p{Devanagari}", "Hangul": r"\p{Hangul}", "Thai": r"\p{Thai}",
    "Han": r"\p{Han}", "Kana": r"[\p{Hiragana}\p{Katakana}]",
}


def dominant_script(texts: pl.Expr) -> pl.Expr:
    """The script most of a text's letters are written in (``Han+Kana`` for Japanese; null without letters)."""
    names = list(SCRIPTS)
    counts = pl.concat_list([texts.str.count_matches(pattern).cast(pl.Int64) for pattern in SCRIPTS.values()])
    best = counts.list.arg_max()
    top = pl.lit(pl.Series(names, dtype=pl.String)).gather(best)
    kana = texts.str.count_matches(SCRIPTS["Kana"]) > 0
    japanese = kana & top.is_in(["Han", "Kana"])
    has_letters = counts.list.max() > 0
    return pl.when(~has_letters).then(None).when(japanese).then(pl.lit("Han+Kana")).otherwise(top)
