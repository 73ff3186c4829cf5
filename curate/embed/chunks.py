"""Long texts embedded whole, not truncated: split into chunks, embed each, pool by length.

Embedding models read a bounded number of tokens (all-MiniLM-L6-v2 256 word pieces, the static
model2vec back-end 512) and silently drop the rest, so two long documents that open alike look
identical whatever follows. A text longer than ``chunk_words`` words is cut into equal chunks of
at most that many words (CJK, Thai and similar scripts count one word per character), each chunk
is embedded, and the document vector is the word-weighted mean of its chunk vectors, L2-normalised.
Shorter texts are embedded as they are, so their vectors (and cache entries) are the plain ones.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from curate.schema import TEXT

_NO_SPACES = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
WORD = rf"(?:[{_NO_SPACES}]|[^\s{_NO_SPACES}]+)\s*"  # a word with its trailing space; one char in scripts without spaces
ROW = "row"
WORDS = "words"


def chunk_texts(texts: pl.Series, chunk_words: int, max_chunks: int, words: pl.Series | None = None) -> pl.DataFrame:
    """Chunks of each text, in order: ``row`` (position of the text), ``text``, ``words``.

    A text of at most ``chunk_words`` words is one chunk, unchanged. A longer one is cut into
    ``min(ceil(words / chunk_words), max_chunks)`` consecutive chunks of near-equal word counts.
    ``words``, each text's count of :data:`WORD` matches, is counted here when not given.
    """
    texts = texts.cast(pl.String).fill_null("").rename(TEXT)
    words = texts.str.count_matches(WORD) if words is None else words
    frame = pl.DataFrame({TEXT: texts, WORDS: words}).with_row_index(ROW)
    long = pl.col(WORDS) > chunk_words
    short = frame.filter(~long)
    if short.height == frame.height:
        return frame
    pieces = ((frame.filter(long).with_columns(pl.col(TEXT).str.extract_all(WORD)).explode(TEXT)
               .with_columns(_i=pl.int_range(pl.len()).over(ROW),
                             _n=pl.min_horizontal((pl.col(WORDS) + chunk_words - 1) // chunk_words, pl.lit(max_chunks))))
              .with_columns(_chunk=pl.col("_i") * pl.col("_n") // pl.col(WORDS))
              .group_by(ROW, "_chunk", maintain_order=True)
              .agg(pl.col(TEXT).str.join(""), pl.len().alias(WORDS).cast(frame.schema[WORDS])))
    return pl.concat([short, pieces.drop("_chunk")]).sort(ROW, maintain_order=True)


def document_vectors(texts: pl.Series, embed: Callable[[pl.DataFrame], np.ndarray], chunk_words: int,
                     max_chunks: int, words: pl.Series | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """One L2-normalised vector per text, long texts pooled over their chunks.

    Parameters
    ----------
    texts : polars.Series
        The texts, one per row.
    embed : callable
        Embeds a frame with a ``text`` column (the run context's cached embeddings).
    chunk_words, max_chunks : int
        See :func:`chunk_texts`.
    words : polars.Series, optional
        Each text's word count, when already known.

    Returns
    -------
    (ndarray, dict)
        float32 ``[n, d]``, and ``{"chunked_rows", "chunks"}``: how many texts were split, into how many chunks.
    """
    chunks = chunk_texts(texts, chunk_words, max_chunks, words)
    vectors = embed(chunks.select(TEXT))
    if chunks.height == len(texts):
        return vectors, {"chunked_rows": 0, "chunks": 0}
    rows = chunks[ROW].to_numpy()
    starts = np.flatnonzero(np.diff(rows, prepend=-1))
    counts = np.diff(np.append(starts, len(rows)))
    pooled = np.array(vectors[starts], dtype=np.float32)  # one-chunk texts keep their own vector, bit for bit
    split = counts > 1
    members = np.repeat(split, counts)  # the chunks of split texts
    weights = chunks[WORDS].to_numpy()[members].astype(np.float32)[:, None]
    sums = np.add.reduceat(vectors[members] * weights, np.flatnonzero(np.diff(rows[members], prepend=-1)), axis=0)
    pooled[split] = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    return pooled, {"chunked_rows": int(split.sum()), "chunks": int(counts[split].sum())}
