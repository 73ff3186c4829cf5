"""label_noise: planted label flips are found; tiny and degenerate inputs flag nothing."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from curate.embed import EmbedderConfig
from curate.errors import StageError
from curate.stages.base import RunContext
from curate.stages.label_noise import ISSUE, QUALITY, SUGGESTED, LabelNoise, LabelNoiseConfig

TOPICS = {
    "sport": "match goal team coach league season player score win cup",
    "money": "bank market stock price profit shares trade economy rate fund",
    "tech": "software chip computer internet phone data code server app robot",
}


def planted(n_per_class: int = 80, flip_every: int = 10, seed: int = 0) -> tuple[pl.DataFrame, set[str]]:
    """Texts drawn from three topic vocabularies; every ``flip_every``-th row gets another topic's label."""
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    rows, flipped = [], set()
    for c, name in enumerate(names):
        words = TOPICS[name].split()
        for i in range(n_per_class):
            text = " ".join(rng.choice(words, 8)) + " " + " ".join(rng.choice(["the", "a", "of", "and", "news"], 3))
            label = name
            rid = f"{name}-{i}"
            if i % flip_every == 0:
                label = names[(c + 1) % 3]
                flipped.add(rid)
            rows.append((rid, text, label))
    return pl.DataFrame(rows, schema=["id", "text", "sentiment"], orient="row"), flipped


def apply(df: pl.DataFrame, seed: int = 0, **config):
    return LabelNoise(LabelNoiseConfig(**config)).apply(df, RunContext(seed=seed))


def test_finds_planted_flips_with_tfidf():
    df, flipped = planted()
    result = apply(df, label="sentiment")
    found = set(result.removed["id"])
    assert len(found & flipped) / len(flipped) >= 0.8
    assert len(found & flipped) / len(found) >= 0.9
    row = result.removed.filter(pl.col("id") == "sport-0").row(0, named=True)
    assert row["reason"] == "label_issue" and row["score"] < 0.5
    assert row["detail"] == "given money; model suggests sport"
    assert set(result.kept["id"]).isdisjoint(found)


def test_flag_action_adds_columns_and_removes_nothing():
    df, flipped = planted()
    result = apply(df, label="sentiment", action="flag")
    assert result.removed.height == 0 and result.kept.height == df.height
    flagged = set(result.kept.filter(pl.col(ISSUE))["id"])
    assert len(flagged & flipped) >= 0.8 * len(flipped)
    assert result.kept[QUALITY].is_between(0, 1).all()
    assert result.kept.filter(pl.col("id") == "tech-0")[SUGGESTED][0] == "tech"


def test_embedding_features_from_a_column():
    df, flipped = planted(flip_every=8)
    rng = np.random.default_rng(1)
    centers = {name: rng.normal(size=16) for name in TOPICS}
    truth = [name.split("-")[0] for name in df["id"]]
    vectors = [list(centers[t] + 0.3 * rng.normal(size=16)) for t in truth]
    df = df.with_columns(pl.Series("vec", vectors, dtype=pl.Array(pl.Float64, 16)))
    result = apply(df, label="sentiment", features="embeddings", embed=EmbedderConfig(embedder="column", column="vec"))
    found = set(result.removed["id"])
    assert len(found & flipped) >= 0.9 * len(flipped) and len(found & flipped) >= 0.9 * len(found)


def test_deterministic_for_a_seed():
    df, _ = planted()
    first, second = apply(df, seed=3, label="sentiment"), apply(df, seed=3, label="sentiment")
    assert first.removed.equals(second.removed)


@pytest.mark.parametrize("rows", [0, 1, 2])
def test_tiny_inputs_flag_nothing(rows):
    df = pl.DataFrame({"id": [f"r{i}" for i in range(rows)], "text": ["good match"] * rows, "label": list(range(rows))},
                      schema={"id": pl.String, "text": pl.String, "label": pl.Int64})
    result = apply(df)
    assert result.removed.height == 0 and result.kept.height == rows
    assert "needs two classes" in result.stats["skipped"]


def test_single_class_and_rare_classes():
    df = pl.DataFrame({"id": ["a", "b", "c", "d"], "text": ["x y", "y z", "z x", "q"], "label": [1, 1, 1, 2]})
    result = apply(df)
    assert result.removed.height == 0 and result.stats["flagged"] == 0
    # a class with one row is left out of the analysis; two classes with 2+ rows are enough
    df = pl.DataFrame({"id": list("abcdefg"), "text": ["win goal", "goal team", "win team", "bank rate",
                                                        "rate fund", "bank fund", "robot"],
                       "label": [0, 0, 0, 1, 1, 1, 2]})
    result = apply(df)
    assert result.stats["analysed_rows"] == 6 and result.stats["folds"] == 3
    assert result.kept.filter(pl.col("id") == "g")[ISSUE][0] is False


def test_null_labels_and_empty_texts():
    df, _ = planted(n_per_class=20)
    df = df.with_columns(pl.when(pl.col("id").str.ends_with("-5")).then(None).otherwise(pl.col("sentiment")).alias("sentiment"),
                         pl.when(pl.col("id").str.ends_with("-7")).then(pl.lit("")).otherwise(pl.col("text")).alias("text"))
    result = apply(df, label="sentiment", action="flag")
    assert result.kept.filter(pl.col("sentiment").is_null())[QUALITY].null_count() == 3
    assert result.stats["analysed_rows"] == 57
    empty = pl.DataFrame({"id": ["a", "b", "c", "d"], "text": ["", "", "", ""], "label": [0, 0, 1, 1]})
    assert "no words" in apply(empty).stats["skipped"]


def test_missing_label_column():
    df, _ = planted(n_per_class=5)
    with pytest.raises(StageError, match="label column 'label' not found"):
        apply(df)


@pytest.mark.slow
def test_noisy_ag_news_flags_wrong_labels_and_removal_helps(shared_data):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import SGDClassifier

    folder = shared_data / "noisy_ag_news"
    train = pl.read_csv(folder / "samples10000valMed.csv").with_row_index("id").with_columns(pl.col("id").cast(pl.String))
    test = pl.read_csv(folder / "samplesTest.csv")
    result = apply(train, filter_by="predicted_neq_given")
    wrong = train["label"] != train["gt"]
    flagged = train["id"].is_in(result.removed["id"].implode())
    precision = (flagged & wrong).sum() / flagged.sum()
    recall = (flagged & wrong).sum() / wrong.sum()
    assert precision >= 0.5 and recall >= 0.35  # measured 0.56 / 0.41 (docs/BENCHMARKS.md)

    def accuracy(frame: pl.DataFrame) -> float:
        vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2)
        model = SGDClassifier(loss="log_loss", random_state=0).fit(vectorizer.fit_transform(frame["text"]), frame["label"])
        return float((model.predict(vectorizer.transform(test["text"])) == test["label"].to_numpy()).mean())

    default = apply(train)
    assert accuracy(default.kept) > accuracy(train)



def with_vectors(df: pl.DataFrame, noise: float = 0.3) -> pl.DataFrame:
    """Add a ``vec`` column: one Gaussian cluster per true topic (the id's prefix)."""
    rng = np.random.default_rng(1)
    centers = {name: rng.normal(size=16) for name in TOPICS}
    vectors = [list(centers[rid.split("-")[0]] + noise * rng.normal(size=16)) for rid in df["id"]]
    return df.with_columns(pl.Series("vec", vectors, dtype=pl.Array(pl.Float64, 16)))


@pytest.mark.parametrize("method", ["self_confidence", "normalized_margin"])
def test_quality_rank_flags_the_planted_flips_first(method):
    df, flipped = planted()
    df = with_vectors(df)
    config = {"label": "sentiment", "features": "embeddings", "embed": EmbedderConfig(embedder="column", column="vec"),
              "select": "quality_rank", "quality_method": method}
    half = apply(df, rank_fraction=0.05, **config)
    assert half.removed.height == 12 and set(half.removed["id"]) <= flipped
    assert half.stats["select"] == "quality_rank"
    full = apply(df, rank_fraction=0.1, action="flag", **config)
    flagged = full.kept.filter(pl.col(ISSUE))
    assert flagged.height == len(flipped) == 24 and len(set(flagged["id"]) & flipped) >= 22
    assert flagged[QUALITY].max() <= full.kept.filter(~pl.col(ISSUE))[QUALITY].min()


def test_quality_rank_flags_the_requested_fraction_of_the_analysed_rows():
    df, flipped = planted(flip_every=5)
    ranked = apply(df, label="sentiment", select="quality_rank", rank_fraction=0.2)
    assert ranked.removed.height == len(flipped) == 48
    assert len(set(ranked.removed["id"]) & flipped) >= 0.8 * len(flipped)


@pytest.mark.slow
def test_noisy_ag_news_target_with_static_knn(shared_data):
    """Issue 6: precision >= 0.6 at recall >= 0.5 against the known wrong crowd labels."""
    df = pl.read_csv(shared_data / "noisy_ag_news" / "samples10000valMed.csv").with_row_index("id")
    df = df.with_columns(pl.col("id").cast(pl.String))
    wrong = set(df.filter(pl.col("label") != pl.col("gt"))["id"])
    for config in ({"filter_by": "predicted_neq_given"}, {"select": "quality_rank", "rank_fraction": 0.2}):
        found = set(apply(df, features="embeddings", classifier="knn", **config).removed["id"])
        assert len(found & wrong) >= 0.6 * len(found) and len(found & wrong) >= 0.5 * len(wrong)
