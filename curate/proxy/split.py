"""The held-out test set: a stratified, seeded split made before the first stage."""

from __future__ import annotations

import numpy as np
import polars as pl

from curate.errors import InputError
from curate.schema import LABEL


def stratified_split(df: pl.DataFrame, fraction: float, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split ``df`` into (train pool, test) with ``fraction`` of each label in the test set.

    Rows without a label, and labels too rare to give a test row, stay in the pool.
    """
    if LABEL not in df.columns:
        raise InputError("proxy training needs a label column to split a test set off",
                         hint="set input.label, or give proxy_train.test.input")
    keys = np.random.default_rng(seed).random(df.height)
    in_test = df.select(LABEL).with_columns(_key=pl.Series(keys)).select(
        (pl.col("_key").rank("ordinal").over(LABEL) <= (pl.len().over(LABEL) * fraction).round())
        & pl.col(LABEL).is_not_null()
    ).to_series()
    return df.filter(~in_test), df.filter(in_test)
