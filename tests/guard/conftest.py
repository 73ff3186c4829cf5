"""Topic corpora whose difficulty is set by how many words of a row belong to its own class."""

from __future__ import annotations

import numpy as np
import polars as pl

TOPICS = {
    "sport": "match goal team score league coach player season win cup referee stadium".split(),
    "tech": "software chip phone internet computer data code startup cloud robot laptop app".split(),
    "money": "market stock bank price profit shares trade economy rates oil investor fund".split(),
    "health": "doctor hospital vaccine patient virus nurse clinic drug disease surgery diet fever".split(),
    "music": "album band guitar concert song singer tour chart drummer vinyl lyrics festival".split(),
}
FILLER = "the a of today new report says after big first this week".split()


def topic_frame(n: int, classes: int = 3, own: int = 8, other: int = 1, noise: float = 0.0,
                ambiguous: float = 0.0, seed: int = 0) -> pl.DataFrame:
    """``n`` rows of ``classes`` topics: ``own`` words of the row's topic, ``other`` words of another
    topic and 4 fillers; a share ``noise`` of labels is flipped; a share ``ambiguous`` of rows has
    as many words of another topic as of its own (``clear`` is False for them)."""
    rng = np.random.default_rng(seed)
    names = list(TOPICS)[:classes]
    topic = rng.integers(0, classes, n)
    clear = rng.random(n) >= ambiguous
    texts = []
    for i in range(n):
        others = [k for k in range(classes) if k != topic[i]]
        mine, theirs = (own, other) if clear[i] else (5, 5)
        words = [*rng.choice(TOPICS[names[topic[i]]], mine), *rng.choice(TOPICS[names[rng.choice(others)]], theirs),
                 *rng.choice(FILLER, 4)]
        rng.shuffle(words)
        texts.append(" ".join(words) + f" {rng.integers(1_000_000)}")
    flip = rng.random(n) < noise
    label = np.where(flip, (topic + rng.integers(1, classes, n)) % classes, topic)
    return pl.DataFrame({"id": [f"r{i}" for i in range(n)], "text": texts,
                         "label": np.asarray(names)[label], "clear": clear})
