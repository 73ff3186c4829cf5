"""The one TF-IDF builder, and that every model reading words uses it."""

from __future__ import annotations

import polars as pl

from curate.active.features import FeatureConfig, build_features
from curate.proxy.models import make_model
from curate.stages.label_noise import tfidf_features
from curate.tfidf import TOKEN_PATTERN, tfidf_vectorizer

TEXTS = ["我喜欢猫。", "我喜欢狗。", "I like cats", "I like dogs", "أحب القطط", "أحب الكلاب"]


def test_unspaced_scripts_are_tokenised_per_character():
    vocabulary = tfidf_vectorizer().fit(TEXTS).vocabulary_
    assert {"我", "喜", "猫", "狗", "like", "cats", "أحب", "القطط"} <= set(vocabulary)
    assert "我喜欢猫" not in vocabulary and "。" not in vocabulary


def test_every_word_model_uses_the_one_builder():
    frame = pl.DataFrame({"text": TEXTS})
    active, _ = build_features(frame, FeatureConfig(source="tfidf", ngrams=2))
    assert (active != tfidf_vectorizer(2, 50_000).fit_transform(TEXTS)).nnz == 0
    assert (tfidf_features(frame["text"]) != tfidf_vectorizer(2, 200_000).fit_transform(TEXTS)).nnz == 0
    assert make_model("tfidf", seed=0).steps[0][1].token_pattern == TOKEN_PATTERN
