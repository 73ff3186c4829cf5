"""Canonical column names and the ledger schema shared by every stage."""

from __future__ import annotations

import polars as pl

ID = "id"
TEXT = "text"
LABEL = "label"
EMBEDDING = "embedding"

LEDGER_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String(),
    "stage": pl.String(),
    "reason": pl.String(),
    "score": pl.Float64(),
    "duplicate_of": pl.String(),
    "cluster_id": pl.Int64(),
    "detail": pl.String(),
}


def empty_ledger() -> pl.DataFrame:
    """A ledger with no rows and the canonical schema."""
    return pl.DataFrame(schema=LEDGER_SCHEMA)


def make_ledger(
    ids: pl.Series | list[str],
    stage: str,
    reason: str | pl.Series | list[str],
    score: pl.Series | list[float] | float | None = None,
    duplicate_of: pl.Series | list[str] | None = None,
    cluster_id: pl.Series | list[int] | None = None,
    detail: pl.Series | list[str] | str | None = None,
) -> pl.DataFrame:
    """Build ledger rows (one per removed sample) with the canonical schema.

    Scalars are broadcast to every row; ``None`` gives a null column.
    """
    ids = pl.Series("id", ids, dtype=pl.String)
    n = len(ids)
    columns = {"id": ids, "stage": stage, "reason": reason, "score": score,
               "duplicate_of": duplicate_of, "cluster_id": cluster_id, "detail": detail}
    series = []
    for name, dtype in LEDGER_SCHEMA.items():
        value = columns[name]
        if isinstance(value, pl.Series):
            s = value.rename(name).cast(dtype)
        elif isinstance(value, (list, tuple)):
            s = pl.Series(name, value, dtype=dtype)
        else:
            s = pl.repeat(value, n, dtype=dtype, eager=True).rename(name)
        if len(s) != n:
            raise ValueError(f"ledger column {name!r} has {len(s)} values for {n} ids")
        series.append(s)
    return pl.DataFrame(series)
