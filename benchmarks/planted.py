"""Planted near-duplicates: edited copies of real texts whose source is known, for dedup precision/recall.

Four edits, each a copy a dedup stage should catch (a duplicate in other words or with light
damage, not a different text on the same topic):

- ``light_edit``: each word is independently dropped (2%), replaced by another word of the same
  text (2%) or has its case flipped (1%); at least one word changes.
- ``word_swaps``: one pair of adjacent words in ten swapped.
- ``reorder``: the sentences in another order (a text of one sentence: its two halves swapped).
- ``drop_sentence``: one sentence other than the first left out (texts of fewer than three
  sentences: a run of one word in seven).

Every random choice takes the seed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import polars as pl

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(text: str) -> list[str]:
    """The text's sentences (split after . ! ? and at line breaks)."""
    return [part for part in _SENTENCE_END.split(text) if part.strip()]


def light_edit(text: str, rng: np.random.Generator) -> str:
    words = text.split()
    out = []
    for word in words:
        draw = rng.random()
        if draw < 0.02:
            continue
        if draw < 0.04:
            out.append(words[int(rng.integers(len(words)))])
        elif draw < 0.05:
            out.append(word.lower() if word.isupper() else word.upper())
        else:
            out.append(word)
    if out == words and len(out) > 1:
        del out[int(rng.integers(len(out)))]
    return " ".join(out)


def word_swaps(text: str, rng: np.random.Generator) -> str:
    words = text.split()
    for _ in range(max(1, len(words) // 10)):
        if len(words) < 2:
            break
        i = int(rng.integers(len(words) - 1))
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def reorder(text: str, rng: np.random.Generator) -> str:
    parts = sentences(text)
    if len(parts) < 2:
        words = text.split()
        cut = max(1, len(words) // 2)
        return " ".join(words[cut:] + words[:cut])
    order = np.arange(len(parts))
    while np.array_equal(order, np.arange(len(parts))):
        order = rng.permutation(len(parts))
    return " ".join(parts[i] for i in order)


def drop_sentence(text: str, rng: np.random.Generator) -> str:
    parts = sentences(text)
    if len(parts) >= 3:
        i = int(rng.integers(1, len(parts)))
        return " ".join(parts[:i] + parts[i + 1:])
    words = text.split()
    span = max(1, len(words) // 7)
    start = int(rng.integers(0, max(1, len(words) - span)))
    return " ".join(words[:start] + words[start + span:])


EDITS: dict[str, Callable[[str, np.random.Generator], str]] = {
    "light_edit": light_edit, "word_swaps": word_swaps, "reorder": reorder, "drop_sentence": drop_sentence}


def distinct_texts(frame: pl.DataFrame, min_words: int = 4) -> pl.DataFrame:
    """Rows whose text is not a case/space-insensitive repeat of an earlier one and has ``min_words`` words."""
    texts = frame["text"].cast(pl.String).fill_null("")
    key = texts.str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
    return frame.with_columns(text=texts).filter(key.is_first_distinct() & (texts.str.split(" ").list.len() >= min_words))


def plant(frame: pl.DataFrame, share: float = 0.05, cap: int = 600, seed: int = 0,
          edits: tuple[str, ...] = tuple(EDITS)) -> pl.DataFrame:
    """``frame`` (distinct texts only) plus edited copies of ``share`` of its rows (at most ``cap``), shuffled.

    Columns added: ``id`` (``o<i>`` for originals, ``p<j>`` for copies), ``group`` (the source
    row's number, shared by a source and its copy) and ``edit`` (``original`` or the edit's name,
    used in turn). A copy that the edit left equal to its source up to case and spacing gets a
    light edit instead.
    """
    rng = np.random.default_rng(seed)
    base = distinct_texts(frame).with_columns(id=pl.format("o{}", pl.int_range(pl.len())),
                                              group=pl.int_range(pl.len()), edit=pl.lit("original"))
    sources = rng.choice(base.height, min(cap, int(share * base.height)), replace=False)
    texts = base["text"].to_list()
    copies = []
    for j, source in enumerate(sources):
        edit = edits[j % len(edits)]
        text = EDITS[edit](texts[source], rng)
        if " ".join(text.lower().split()) == " ".join(texts[source].lower().split()):
            text = light_edit(texts[source], rng)
        copies.append({"id": f"p{j}", "text": text, "group": int(source), "edit": edit})
    copied = pl.DataFrame(copies, schema={"id": pl.String, "text": pl.String, "group": pl.Int64, "edit": pl.String})
    extra = [c for c in base.columns if c not in copied.columns]
    copied = copied.join(base.select("group", *extra), on="group", how="left").select(base.columns)
    return pl.concat([base.with_columns(pl.col("group").cast(pl.Int64)), copied]).sample(
        fraction=1.0, shuffle=True, seed=seed)
