"""label_noise on NoisyAG-News: flagged rows vs the known wrong crowd labels, and proxy accuracy.

One command: ``python benchmarks/bench_label_noise.py`` (``--shared`` points at the data).
The crowd label is wrong on 19.8% of the 10,000 rows (``gt`` holds the original label). For
each configuration: precision and recall of the flagged rows against the wrong labels, and
the clean-test accuracy (official AG News test set) of a proxy model (TF-IDF + log-loss
linear model) trained on all rows vs on the rows label_noise keeps. Rows are flagged by
cleanlab's find_label_issues (``filter_by``) or, with ``select: quality_rank``, as the
``rank_fraction`` of rows with the lowest label quality. Embeddings: all-MiniLM-L6-v2
(computed once and cached in benchmarks/.data/: minutes on two CPU cores) and curate's
default static embedder (model2vec distilled from MiniLM, seconds).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from curate.embed import EmbedderConfig, embed_frame  # noqa: E402
from curate.stages.base import RunContext  # noqa: E402
from curate.stages.label_noise import LabelNoise, LabelNoiseConfig  # noqa: E402

RANK = {"select": "quality_rank", "quality_method": "self_confidence"}
# (vectors, label_noise config): vectors is tfidf (no embeddings), minilm or static.
CONFIGS = [
    ("tfidf", {"classifier": "sgd", "filter_by": "prune_by_noise_rate"}),
    ("tfidf", {"classifier": "sgd", "filter_by": "predicted_neq_given"}),
    ("minilm", {"classifier": "sgd", "filter_by": "prune_by_noise_rate"}),
    ("minilm", {"classifier": "sgd", "filter_by": "predicted_neq_given"}),
    ("minilm", {"classifier": "knn", "filter_by": "prune_by_noise_rate"}),
    ("minilm", {"classifier": "knn", "filter_by": "predicted_neq_given"}),
    ("static", {"classifier": "knn", "filter_by": "predicted_neq_given"}),
    ("tfidf", {"classifier": "sgd", **RANK, "rank_fraction": 0.2}),
    ("minilm", {"classifier": "sgd", **RANK, "rank_fraction": 0.2}),
    ("minilm", {"classifier": "knn", **RANK, "rank_fraction": 0.2}),
    ("static", {"classifier": "sgd", **RANK, "rank_fraction": 0.2}),
    ("static", {"classifier": "knn", **RANK, "rank_fraction": 0.15}),
    ("static", {"classifier": "knn", **RANK, "rank_fraction": 0.17}),
    ("static", {"classifier": "knn", **RANK, "rank_fraction": 0.2}),
]


def proxy_accuracy(train: pl.DataFrame, test: pl.DataFrame, seed: int) -> float:
    """Clean-test accuracy of TF-IDF + log-loss SGD trained on ``train``'s (crowd) labels."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import SGDClassifier

    vectorizer = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2, dtype=np.float32)
    model = SGDClassifier(loss="log_loss", alpha=1e-4, random_state=seed)
    model.fit(vectorizer.fit_transform(train["text"].to_list()), train["label"].to_numpy())
    return float((model.predict(vectorizer.transform(test["text"].to_list())) == test["label"].to_numpy()).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=HERE.parent.parent / "shared" / "data")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = args.shared / "noisy_ag_news"
    train = pl.read_csv(folder / "samples10000valMed.csv").with_row_index("id").with_columns(pl.col("id").cast(pl.String))
    test = pl.read_csv(folder / "samplesTest.csv")
    cache = HERE / ".data" / "noisy_ag_news_minilm.npy"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, embed_frame(train, EmbedderConfig(embedder="sentence-transformers")))
    train = train.with_columns(pl.Series("minilm", np.load(cache)),
                               pl.Series("static", embed_frame(train, EmbedderConfig(cache=False))))
    wrong = train["label"] != train["gt"]
    base = proxy_accuracy(train, test, args.seed)
    oracle = proxy_accuracy(train.filter(~wrong), test, args.seed)
    print(f"rows {train.height}, wrong crowd labels {int(wrong.sum())} ({wrong.mean():.1%})")
    print(f"proxy clean-test accuracy: all rows {base:.4f}; only rows with a right label (oracle) {oracle:.4f}\n")
    print(f"{'features':10} {'classifier':10} {'selection':26} {'flagged':>7} {'precision':>9} {'recall':>7} "
          f"{'acc after':>9} {'delta':>7} {'seconds':>7}")
    for vectors, config in CONFIGS:
        features = {"features": "tfidf"} if vectors == "tfidf" else {
            "features": "embeddings", "embed": EmbedderConfig(embedder="column", column=vectors)}
        stage = LabelNoise(LabelNoiseConfig(action="remove", **features, **config))
        selection = (f"quality_rank {config['rank_fraction']}" if config.get("select") == "quality_rank"
                     else config["filter_by"])
        start = time.perf_counter()
        result = stage.apply(train, RunContext(seed=args.seed))
        seconds = time.perf_counter() - start
        flagged = train["id"].is_in(result.removed["id"].implode())
        hits = int((flagged & wrong).sum())
        precision, recall = hits / max(int(flagged.sum()), 1), hits / int(wrong.sum())
        after = proxy_accuracy(result.kept, test, args.seed)
        print(f"{vectors:10} {config['classifier']:10} {selection:26} {int(flagged.sum()):7d} "
              f"{precision:9.3f} {recall:7.3f} {after:9.4f} {after - base:+7.4f} {seconds:7.1f}")


if __name__ == "__main__":
    main()
