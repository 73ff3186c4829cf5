"""Readers and writers: every input format in, atomic writes out."""

from curate.io.readers import ReadResult, read_input
from curate.io.writers import atomic_write, write_json, write_parquet

__all__ = ["ReadResult", "atomic_write", "read_input", "write_json", "write_parquet"]
