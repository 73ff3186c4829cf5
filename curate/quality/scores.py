"""Per-row scores of the heuristic rules, computed batch-wise with polars (and one numba kernel).

Every function takes a frame with a ``_doc`` row index and a ``text`` column and returns one
row per document (in order) with the ``q_*`` score columns of its family.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from curate.quality.ngrams import ngram_scores
from curate.quality.tokens import SYMBOL_ONLY, UNSPACED_TOKEN, split_runs, splitlines, tokens
from curate.scripts import WORD, count_words

DOC = "_doc"
TEXT = "text"
CITATION = r"\[\d*\]|\[edit\]|\[citation needed\]"
POLICY_PHRASES = ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"]
# A sentence ends at . ! ? (one or more) followed, after closing quotes or brackets, by whitespace;
# also at Arabic, Urdu and Devanagari full stops, and at CJK full stops (no space follows those).
SENTENCE_BREAK = r"[.!?؟۔।॥]+[\"'”’)\]]*\s+\S|[。！？｡]+[」』”’）)\]]*\s*\S"
# C4's terminal punctuation (. ? ! " '), and the full stops and closing brackets of other scripts.
TERMINAL_PUNCT = r"[.?!\"'。！？｡؟۔।॥」』）]$"


@dataclass(frozen=True)
class ScoreOptions:
    """What the score functions need besides the text."""

    stop_words: tuple[str, ...]
    bad_words: tuple[str, ...]
    top_ns: tuple[int, ...]
    dup_ns: tuple[int, ...]
    top_repeated_only: bool
    line_rules: bool
    c4_max_word_length: float | None
    c4_min_words_per_line: float | None
    c4_terminal_punct: bool
    c4_javascript: bool
    c4_policy: bool


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    return pl.when(den > 0).then(num / den).otherwise(None)


def _per_doc(frame: pl.DataFrame, agg: pl.DataFrame, fill: dict[str, float]) -> pl.DataFrame:
    out = frame.select(DOC).join(agg, on=DOC, how="left", maintain_order="left")
    return out.with_columns(*(pl.col(name).fill_null(value) for name, value in fill.items()))


def token_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per token: ``_doc``, ``tok``, in document order."""
    return frame.select(DOC, tok=tokens(pl.col(TEXT))).explode("tok").drop_nulls("tok")


def gopher_quality(frame: pl.DataFrame, toks: pl.DataFrame, options: ScoreOptions) -> pl.DataFrame:
    """Word count, mean word length, symbol ratios, bullet/ellipsis lines, alpha words, stop words."""
    tok = pl.col("tok")
    # A Hangul syllable block is written with two or three letters (jamo): count those, as for other alphabets.
    letters = pl.when(tok.str.contains(r"\p{Hangul}")).then(tok.str.normalize("NFD").str.len_chars())
    per_tok = toks.with_columns(_sym=tok.str.contains(SYMBOL_ONLY), _len=letters.otherwise(tok.str.len_chars()),
                                _alpha=tok.str.contains(r"\p{L}"), _stop=tok.is_in(list(options.stop_words)),
                                _unspaced=tok.str.contains(UNSPACED_TOKEN))
    spaced_word = ~pl.col("_sym") & ~pl.col("_unspaced")
    agg = per_tok.group_by(DOC).agg(
        _tokens=pl.len(),
        q_words=(~pl.col("_sym")).sum(),
        _spaced_words=spaced_word.sum(),
        _word_chars=pl.col("_len").filter(spaced_word).sum(),
        _alpha=pl.col("_alpha").sum(),
        q_stop_words=tok.filter(pl.col("_stop")).n_unique(),
    )
    counts = _per_doc(frame, agg, {"_tokens": 0, "q_words": 0, "_spaced_words": 0, "_word_chars": 0, "_alpha": 0,
                                   "q_stop_words": 0})
    text = frame[TEXT]
    hashes = text.str.count_matches("#", literal=True)
    ellipses = text.str.count_matches("...", literal=True) + text.str.count_matches("…", literal=True)
    n_tokens = pl.col("_tokens")
    scores = counts.with_columns(_hash=hashes, _ell=ellipses).select(
        DOC,
        pl.col("q_words").cast(pl.Int64),
        # over words of scripts written with spaces: one Chinese character is not a short word
        q_mean_word_length=_ratio(pl.col("_word_chars"), pl.col("_spaced_words")),
        q_hash_ratio=_ratio(pl.col("_hash"), n_tokens),
        q_ellipsis_ratio=_ratio(pl.col("_ell"), n_tokens),
        q_alpha_words_frac=_ratio(pl.col("_alpha"), n_tokens),
        q_stop_words=pl.col("q_stop_words").cast(pl.Int64),
    )
    if not options.line_rules:
        return scores
    lines = frame.select(DOC, line=splitlines(pl.col(TEXT))).explode("line").drop_nulls("line")
    line_agg = lines.group_by(DOC).agg(
        q_bullet_lines_frac=pl.col("line").str.contains(r"^\s*[•\-]").mean(),
        q_ellipsis_lines_frac=pl.col("line").str.contains(r"(?:\.\.\.|…)\s*$").mean(),
    )
    return scores.join(line_agg, on=DOC, how="left", maintain_order="left")


def _duplicates(frame: pl.DataFrame, parts: pl.Expr, prefix: str) -> pl.DataFrame:
    exploded = frame.select(DOC, part=parts).explode("part")
    flagged = exploded.with_columns(
        _dup=~pl.struct(DOC, pl.col("part").hash()).is_first_distinct(), _len=pl.col("part").str.len_chars())
    agg = flagged.group_by(DOC).agg(_n=pl.len(), _dups=pl.col("_dup").sum(),
                                    _dup_chars=pl.col("_len").filter(pl.col("_dup")).sum())
    out = _per_doc(frame, agg, {"_n": 0, "_dups": 0, "_dup_chars": 0})
    chars = frame[TEXT].str.len_chars()
    return out.with_columns(_chars=chars).select(
        DOC,
        _ratio(pl.col("_dups"), pl.col("_n")).alias(f"q_dup_{prefix}_frac"),
        _ratio(pl.col("_dup_chars"), pl.col("_chars")).alias(f"q_dup_{prefix}_char_frac"),
    )


def gopher_repetition_lines(frame: pl.DataFrame) -> pl.DataFrame:
    """Duplicate paragraph and line fractions, by count and by characters."""
    paragraphs = _duplicates(frame, split_runs(pl.col(TEXT).str.strip_chars(), r"\n{2,}"), "para")
    lines = _duplicates(frame, split_runs(pl.col(TEXT), r"\n+"), "line")
    return paragraphs.join(lines, on=DOC, maintain_order="left")


def gopher_ngrams(frame: pl.DataFrame, toks: pl.DataFrame, options: ScoreOptions) -> pl.DataFrame:
    """Top 2/3/4-gram and duplicated 5..10-gram character fractions (numba kernel)."""
    counts = np.bincount(toks[DOC].to_numpy(), minlength=frame.height)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    hashes = toks["tok"].hash(seed=0).to_numpy()
    lengths = toks["tok"].str.len_chars().to_numpy()
    chars = frame[TEXT].str.len_chars().to_numpy()
    top, dup = ngram_scores(offsets, hashes, lengths, chars, list(options.top_ns), list(options.dup_ns),
                            options.top_repeated_only)
    columns = {f"q_top_{n}gram_frac": top[i] for i, n in enumerate(options.top_ns)}
    columns |= {f"q_dup_{n}gram_frac": dup[i] for i, n in enumerate(options.dup_ns)}
    return frame.select(DOC).with_columns(**{name: pl.Series(values) for name, values in columns.items()})


def _has_long_word(lines: pl.Series, max_length: float) -> pl.Series:
    """Whether a line has a whitespace-separated word longer than ``max_length`` characters."""
    flags = pl.repeat(False, len(lines), eager=True)
    candidates = (lines.str.len_chars() > max_length).arg_true()
    if len(candidates):
        words = lines.gather(candidates).str.extract_all(WORD)
        longest = words.list.eval(pl.element().str.len_chars()).list.max().fill_null(0)
        flags = flags.scatter(candidates, longest > max_length)
    return flags


def c4(frame: pl.DataFrame, toks: pl.DataFrame, options: ScoreOptions) -> pl.DataFrame:
    """C4 rules: lines kept by the line rules, their sentences, lorem ipsum, curly brackets, bad words."""
    out = frame.select(DOC)
    if options.bad_words:
        bad = toks.filter(pl.col("tok").str.to_lowercase().is_in(list(options.bad_words)))
        agg = bad.group_by(DOC).agg(q_c4_bad_words=pl.len().cast(pl.Int64))
        out = _per_doc(out, agg, {"q_c4_bad_words": 0})
    if not options.line_rules:
        text = pl.col(TEXT)
        return out.with_columns(frame.select(
            q_c4_lorem_ipsum=text.str.to_lowercase().str.contains("lorem ipsum", literal=True).cast(pl.Int64),
            q_c4_curly_bracket=text.str.contains("{", literal=True).cast(pl.Int64),
        ))
    lines = frame.select(DOC, line=splitlines(pl.col(TEXT))).explode("line").drop_nulls("line")
    line = pl.col("line").str.strip_chars()
    cleaned = line.str.replace_all(CITATION, "")
    ok = pl.lit(True)
    if options.c4_max_word_length is not None:
        lines = lines.with_columns(_long=_has_long_word(lines["line"], options.c4_max_word_length))
        ok = ok & ~pl.col("_long")
    if options.c4_terminal_punct:
        ok = ok & cleaned.str.contains(TERMINAL_PUNCT) & ~cleaned.str.ends_with("...")
    if options.c4_min_words_per_line is not None:
        ok = ok & (count_words(line) >= options.c4_min_words_per_line)
    lower = cleaned.str.to_lowercase()
    kept = ok
    if options.c4_javascript:
        kept = kept & ~lower.str.contains("javascript", literal=True)
    if options.c4_policy:
        kept = kept & ~lower.str.contains_any(POLICY_PHRASES)
    per_line = lines.select(
        DOC,
        _lorem=ok & lower.str.contains("lorem ipsum", literal=True),
        _curly=ok & cleaned.str.contains("{", literal=True),
        _kept=kept,
        _sentences=pl.when(kept).then(1 + cleaned.str.count_matches(SENTENCE_BREAK)).otherwise(0),
    )
    agg = per_line.group_by(DOC).agg(
        q_c4_lorem_ipsum=pl.col("_lorem").any().cast(pl.Int64),
        q_c4_curly_bracket=pl.col("_curly").any().cast(pl.Int64),
        q_c4_sentences=pl.col("_sentences").sum().cast(pl.Int64),
        q_c4_kept_lines_frac=pl.col("_kept").mean(),
    )
    fill = {"q_c4_lorem_ipsum": 0, "q_c4_curly_bracket": 0, "q_c4_sentences": 0}
    return out.join(_per_doc(frame, agg, fill), on=DOC, maintain_order="left")
