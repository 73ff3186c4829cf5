"""Benchmark corpora built from real text (shared data sets) with planted duplicates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def real_sentences() -> list[str]:
    """Real English texts: AG News (train + test) and SMS; a word-salad fallback when absent."""
    texts: list[str] = []
    ag = SHARED / "noisy_ag_news"
    if ag.exists():
        for name in ("samples10000valMed.csv", "samplesTest.csv"):
            texts += pl.read_csv(ag / name)["text"].to_list()
    sms = SHARED / "sms_spam" / "SMSSpamCollection.tsv"
    if sms.exists():
        texts += pl.read_csv(sms, separator="\t", has_header=False, new_columns=["label", "text"], quote_char=None)["text"].to_list()
    if not texts:
        rng = np.random.default_rng(0)
        words = [f"w{i}" for i in range(5000)]
        texts = [" ".join(rng.choice(words, 40)) + "." for _ in range(20000)]
    return texts


def dedup_corpus(n_docs: int = 100_000, parts: tuple[int, int] = (2, 8), dup_rate: float = 0.2, seed: int = 0) -> pl.DataFrame:
    """``n_docs`` documents, each 2-8 real texts joined; ``dup_rate`` of them are copies of an
    earlier document changed only by case, whitespace or Unicode width (exact after normalising)."""
    rng = np.random.default_rng(seed)
    sentences = np.array(real_sentences(), dtype=object)
    n_unique = int(n_docs * (1 - dup_rate))
    counts = rng.integers(parts[0], parts[1] + 1, n_unique)
    picks = rng.integers(0, len(sentences), counts.sum())
    docs, start = [], 0
    for count in counts:
        docs.append(" ".join(sentences[picks[start:start + count]]))
        start += count
    sources = rng.integers(0, n_unique, n_docs - n_unique)
    variants = []
    for k, src in enumerate(sources):
        text = docs[src]
        kind = k % 3
        variants.append(text.upper() if kind == 0 else text.replace(" ", "  ") if kind == 1 else text.replace("a", "ａ"))
    order = rng.permutation(n_docs)
    all_docs = np.array(docs + variants, dtype=object)[order]
    return pl.DataFrame({"id": [f"d{i}" for i in range(n_docs)], "text": all_docs.tolist()})
