"""The no-loss invariant: kept and removed ids partition the input ids exactly."""

from __future__ import annotations

import polars as pl

from curate.errors import StageError
from curate.schema import ID


def check_partition(input_ids: pl.Series, kept: pl.DataFrame, removed: pl.DataFrame, where: str) -> None:
    """Raise :class:`StageError` unless ``kept`` + ``removed`` ids == ``input_ids``, as sets and counts."""
    out = pl.concat([kept[ID].cast(pl.String), removed[ID].cast(pl.String)])
    problems = []
    if len(out) != len(input_ids):
        problems.append(f"{len(kept)} kept + {len(removed)} removed != {len(input_ids)} in")
    if out.n_unique() != len(out):
        problems.append(f"{len(out) - out.n_unique()} ids appear twice")
    unknown = out.filter(~out.is_in(input_ids.implode()))
    if len(unknown):
        problems.append(f"{len(unknown)} ids not in the input (e.g. {unknown[0]!r})")
    missing = input_ids.filter(~input_ids.is_in(out.implode()))
    if len(missing):
        problems.append(f"{len(missing)} input ids lost (e.g. {missing[0]!r})")
    if problems:
        raise StageError(f"{where} broke the no-loss invariant: " + "; ".join(problems),
                         hint="a stage must return every input row either in kept or in removed")
