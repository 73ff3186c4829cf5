"""Text kept on disk: the rows a run holds carry their input row number instead of their text, which
stays in the run's input checkpoint and is read back a row group at a time.

A run whose stages all stream their text (see :meth:`curate.stages.base.Stage.streams_text`) holds
only ids and small columns in memory; this is how 10M documents fit on one machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl

from curate.io.writers import ROW_GROUP_ROWS, write_parquet_blocks
from curate.schema import TEXT

ROW = "__curate_row"
"""Column holding each row's number in the run's input checkpoint, in frames whose text is on disk."""


class TextOnDisk:
    """The ``text`` column of a Parquet file, read for the rows asked for, a row group at a time.

    Parameters
    ----------
    path : Path
        The run's input checkpoint (every input row, in order).
    text_bytes : numpy.ndarray
        UTF-8 bytes of each row's text (for stats, without reading the text).
    """

    def __init__(self, path: Path, text_bytes: np.ndarray) -> None:
        self.path = path
        self.text_bytes = text_bytes

    def batches(self, rows: np.ndarray, size: int) -> Iterator[pl.Series]:
        """The texts of input rows ``rows`` (ascending), ``size`` at a time, in order."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if len(rows) > 1 and not bool(np.all(rows[1:] > rows[:-1])):
            raise ValueError("rows must be ascending input row numbers")
        parquet = pq.ParquetFile(self.path)
        ends = np.cumsum([parquet.metadata.row_group(g).num_rows for g in range(parquet.num_row_groups)])
        starts = ends - [parquet.metadata.row_group(g).num_rows for g in range(parquet.num_row_groups)]
        pending: list[pl.Series] = []
        held = 0
        for group, (start, end) in enumerate(zip(starts, ends, strict=True)):
            lo, hi = np.searchsorted(rows, [start, end])
            if lo == hi:
                continue
            column = parquet.read_row_group(group, columns=[TEXT]).column(0)
            wanted = pa.array(rows[lo:hi] - start)
            pending.append(pl.from_arrow(column.take(wanted)).alias(TEXT))  # a compact copy: the group is let go
            held += hi - lo
            while held >= size:
                batch = pl.concat(pending, rechunk=True)
                yield batch.head(size)
                pending, held = [batch.slice(size)], held - size
        if held:
            yield pl.concat(pending, rechunk=True)

    def bytes_of(self, rows: np.ndarray) -> int:
        """UTF-8 bytes of the texts of ``rows``."""
        return int(self.text_bytes[rows].sum())


def write_with_text(df: pl.DataFrame, texts: TextOnDisk, path: Path, metadata: dict[str, str] | None = None) -> None:
    """Write ``df`` (rows with :data:`ROW`, no text) to Parquet with each row's text read back, a block
    of rows at a time (atomically): the input's columns in its order, then those the stages added."""
    import pyarrow.parquet as pq

    columns = pq.ParquetFile(texts.path).schema_arrow.names
    order = [c for c in columns if c in df.columns or c == TEXT] + [c for c in df.columns if c not in columns and c != ROW]
    texts_of = texts.batches(df[ROW].to_numpy(), ROW_GROUP_ROWS)
    blocks = (df.slice(start, ROW_GROUP_ROWS).with_columns(next(texts_of)).select(order)
              for start in range(0, df.height, ROW_GROUP_ROWS))
    schema = df.head(0).with_columns(pl.Series(TEXT, [], dtype=pl.String)).select(order)
    write_parquet_blocks(blocks, schema, path, metadata)
