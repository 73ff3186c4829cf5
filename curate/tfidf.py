"""The one TF-IDF builder: every model in curate that reads words gets its vectorizer here.

The active learner (``features.source: tfidf``), label-noise detection and the proxy's (and the
guard's) ``tfidf`` model all count the same tokens: runs of two or more word characters, and each character
of a script written without spaces (Chinese, Japanese, Thai, ...) as a token of its own
(:mod:`curate.scripts`), so text in those scripts is not one giant "word" per sentence. Weights
are sublinear TF-IDF in float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from curate.errors import require
from curate.scripts import UNSPACED_RE

TOKEN_PATTERN = rf"(?u){UNSPACED_RE.pattern}|[^\W{UNSPACED_RE.pattern[1:-1]}]{{2,}}"
"""A token: one character of an unspaced script, or a run of two or more other word characters
(scikit-learn's default tokens, which drop one-letter words)."""


def tfidf_vectorizer(ngrams: int = 1, max_features: int | None = None, min_df: int = 1, extra: str = "proxy") -> Any:
    """An unfitted scikit-learn ``TfidfVectorizer`` over word 1- to ``ngrams``-grams.

    Parameters
    ----------
    ngrams : int
        Longest word n-gram.
    max_features : int, optional
        Vocabulary size (the most frequent n-grams); all of them by default.
    min_df : int
        Rows an n-gram must occur in to be kept.
    extra : str
        The extra to name when scikit-learn is missing (the caller's).
    """
    text = require("sklearn.feature_extraction.text", extra, "scikit-learn")
    return text.TfidfVectorizer(sublinear_tf=True, ngram_range=(1, ngrams), max_features=max_features, min_df=min_df,
                                token_pattern=TOKEN_PATTERN, dtype=np.float32)
