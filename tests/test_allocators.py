"""curate sets polars' and pyarrow's allocator variables when imported first, and leaves them on request."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from curate.allocators import ARROW_POOL, JEMALLOC

PROBE = """
import json, os
import curate
import pyarrow
print(json.dumps({"jemalloc": os.environ.get("_RJEM_MALLOC_CONF"), "pool": pyarrow.default_memory_pool().backend_name}))
"""


def _fresh(**env: str) -> dict:
    """What a new process that imports curate first ends up with."""
    base = {k: v for k, v in os.environ.items() if k not in ("_RJEM_MALLOC_CONF", "ARROW_DEFAULT_MEMORY_POOL", "CURATE_ALLOCATORS")}
    done = subprocess.run([sys.executable, "-c", PROBE], env={**base, **env}, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_curate_sets_both_allocators_and_polars_keeps_its_own_options_first():
    seen = _fresh()
    assert seen["pool"] == ARROW_POOL
    assert seen["jemalloc"].endswith(JEMALLOC) and seen["jemalloc"] != JEMALLOC  # polars put its own in front


def test_options_inherited_from_a_polars_parent_are_still_overridden():
    """polars writes _RJEM_MALLOC_CONF into its process's environment: a child inherits it unasked."""
    seen = _fresh(_RJEM_MALLOC_CONF="dirty_decay_ms:500,muzzy_decay_ms:1000")
    assert seen["jemalloc"].endswith(JEMALLOC)
    grandchild = _fresh(_RJEM_MALLOC_CONF=seen["jemalloc"])  # a curate process's child imports curate again
    assert grandchild["jemalloc"].count(JEMALLOC) == 1


def test_a_pool_the_user_chose_and_the_opt_out_are_respected():
    assert _fresh(ARROW_DEFAULT_MEMORY_POOL="system")["pool"] == "system"
    seen = _fresh(CURATE_ALLOCATORS="libraries")
    assert seen["pool"] != ARROW_POOL and JEMALLOC not in seen["jemalloc"]
