"""Allocator settings that hand freed memory back to the system, set before polars and pyarrow load.

A curate run frees large buffers between phases (a stage's blocks, a checkpoint written, the input's
text once it is on disk). As the libraries come, freed memory is slow to leave the process: polars'
jemalloc purges freed pages after half a second, but only when the thread that freed them
allocates again (worker threads of a finished phase may not), and pyarrow's mimalloc pool keeps
them for reuse, so resident memory stays near the sum of the phases' peaks rather than the largest.
With these settings a background thread returns polars' freed pages after a tenth of a second, and
pyarrow allocates from its jemalloc pool, which returns them within a second. Results do not
change; docs/BENCHMARKS.md ("Data at scale") measures what they save and cost.

Both are read once, when each library's allocator starts, so they only apply when ``curate`` is
imported before polars and pyarrow, as the ``curate`` command does. polars writes its own options
into ``_RJEM_MALLOC_CONF`` when imported, so a child of any process that imported polars inherits
them: curate's options are appended (jemalloc takes the last value of each). An
``ARROW_DEFAULT_MEMORY_POOL`` the user set is kept, and ``CURATE_ALLOCATORS=libraries`` leaves
both variables as they are.
"""

from __future__ import annotations

import os
import sys

JEMALLOC = "background_thread:true,dirty_decay_ms:100,muzzy_decay_ms:0"
"""polars' jemalloc: a background thread returns pages freed for 0.1 s (0 s cost 15-20% time)."""
ARROW_POOL = "jemalloc"
"""pyarrow's default memory pool."""
OPT_OUT = "CURATE_ALLOCATORS"


def lean_allocators() -> None:
    """Set the allocator variables of the libraries not yet loaded (unless ``CURATE_ALLOCATORS=libraries``)."""
    if os.environ.get(OPT_OUT) == "libraries":
        return
    if "polars" not in sys.modules:
        inherited = os.environ.get("_RJEM_MALLOC_CONF", "")
        if not inherited.endswith(JEMALLOC):  # a child of a curate process has them already
            os.environ["_RJEM_MALLOC_CONF"] = f"{inherited},{JEMALLOC}" if inherited else JEMALLOC
    if "pyarrow" not in sys.modules:
        os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", ARROW_POOL)
