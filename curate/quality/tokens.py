"""Word tokens and line splits as polars expressions, close to datatrove's English defaults.

datatrove tokenises English with spaCy's blank tokenizer; this regex reproduces its behaviour
on ordinary web text without a per-row Python call: leading and trailing punctuation split
off one mark at a time, ``...`` and dash runs kept whole, a word keeps its inner symbols
(``350,000``, ``UAIR.O``) but splits at hyphens and before clitics, abbreviations keep their
period. Scripts written without spaces (Chinese, Japanese, Thai, ...) give one token per
character (:mod:`curate.scripts`).
"""

from __future__ import annotations

import polars as pl

from curate.scripts import UNSPACED

# spaCy's English abbreviation exceptions (multi-letter ones): "Corp." stays one token.
_ABBREVIATIONS = (
    "Adm|Ak|Ala|Apr|Ariz|Ark|Aug|Bros|Calif|Co|Colo|Conn|Corp|Dec|Del|Dr|Feb|Fla|Ga|Gen|Gov|Ia|Id|Ill|Inc|Ind|"
    "Jan|Jr|Jul|Jun|Kan|Kans|Ky|La|Ltd|Mar|Mass|Md|Messrs|Mich|Minn|Miss|Mo|Mont|Mr|Mrs|Ms|Mt|Neb|Nebr|Nev|Nov|"
    "Oct|Okla|Ore|Pa|Prof|Rep|Rev|Sen|Sep|Sept|St|Tenn|Va|Wash|Wis|co|vs"
)
_U = UNSPACED[1:-1]  # the ranges, to use inside other classes
_WORD_CHAR = rf"[^\W{_U}]"  # a word character of a script written with spaces
TOKEN_PATTERN = (
    r"https?://\S+"                         # URLs stay one token
    rf"|\b(?:{_ABBREVIATIONS})\."           # Corp., Mr., vs.
    r"|(?:\p{L}\.){2,}"                     # U.S., e.g.
    r"|\.{2,}|…"                            # ellipsis
    rf"|{UNSPACED}"                         # Chinese, Japanese, Thai, ...: one character, one token
    rf"|['’]{_WORD_CHAR}+"                  # clitics: 's, 're, 't
    rf"|{_WORD_CHAR}(?:[^\s\-–—~'’…{_U}]*{_WORD_CHAR})?"  # a word: starts and ends with a word character
    r"|[-–—~]+"                             # hyphens and dashes, runs kept whole
    r"|\S"                                  # any other symbol on its own
)
UNSPACED_TOKEN = f"^{UNSPACED}$"

# datatrove.utils.text.PUNCTUATION_SET (its definition of a "symbol" character).
_PUNCTUATION = (
    "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»"
    + "".join(chr(x) for a, b in ((0, 9), (11, 13), (13, 32), (127, 160)) for x in range(a, b))
    + "᪩？⁈𑩂．꩞𑅃﹗𑂾\u1b7d፧\U00010f87𑗐៙᰻"
)
SYMBOL_ONLY = "^[" + "".join(f"\\x{{{ord(c):x}}}" for c in sorted(set(_PUNCTUATION))) + "]+$"

# str.splitlines() boundaries other than "\n".
_LINE_BREAKS = "[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]"


def tokens(text: pl.Expr) -> pl.Expr:
    """The words of each text as a list (punctuation marks are tokens of their own)."""
    return text.str.extract_all(TOKEN_PATTERN)


def splitlines(text: pl.Expr) -> pl.Expr:
    """Python's ``str.splitlines()``: no trailing empty line; an empty text has no lines."""
    unified = text.str.replace_all("\r\n", "\n", literal=True).str.replace_all(_LINE_BREAKS, "\n")
    trimmed = unified.str.strip_suffix("\n")
    return pl.when(text.str.len_bytes() == 0).then(pl.lit([], dtype=pl.List(pl.String))).otherwise(trimmed.str.split("\n"))


def split_runs(text: pl.Expr, separator: str) -> pl.Expr:
    """``re.split(separator, text)``: split on every run matching ``separator``."""
    return text.str.replace_all("\x00", "\x01", literal=True).str.replace_all(separator, "\x00").str.split("\x00")

