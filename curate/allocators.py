"""Allocator settings that hand freed memory back to the system, set before polars and pyarrow load.

A curate run frees large buffers between phases (a stage's blocks, a checkpoint written, the input's
text once it is on disk). As they come, polars' jemalloc keeps freed pages for ten seconds and
pyarrow's mimalloc pool keeps them for reuse, so a process's resident memory stays near the sum of
every phase's peak rather than the largest one: polars' jemalloc purges freed pages after half a
second, but only when the thread that freed them allocates again (worker threads of a finished
phase never do), and pyarrow's mimalloc pool keeps them for reuse. With these settings (added after
polars' own, which it keeps) a background thread returns polars' freed pages at once, and pyarrow
allocates from its jemalloc pool, which returns them within a second. Results do not change; on 1M documents the peak resident memory falls by a
quarter (docs/BENCHMARKS.md, "Data at scale").

Both are read once, when each library's allocator starts, so they only apply when ``curate`` is
imported before polars and pyarrow, as the ``curate`` command does. A variable the user has set is
left as it is (``_RJEM_MALLOC_CONF=`` with no value, or ``ARROW_DEFAULT_MEMORY_POOL=mimalloc``,
restores the libraries' own behaviour).
"""

from __future__ import annotations

import os
import sys

SETTINGS = {
    "_RJEM_MALLOC_CONF": "background_thread:true,dirty_decay_ms:0,muzzy_decay_ms:0",
    "ARROW_DEFAULT_MEMORY_POOL": "jemalloc",
}
"""polars reads the first (its jemalloc's options), pyarrow the second (its default memory pool)."""

LIBRARIES = {"_RJEM_MALLOC_CONF": "polars", "ARROW_DEFAULT_MEMORY_POOL": "pyarrow"}


def lean_allocators() -> None:
    """Set each allocator variable the user has not set, while its library is not yet loaded."""
    for name, value in SETTINGS.items():
        if LIBRARIES[name] not in sys.modules:
            os.environ.setdefault(name, value)
