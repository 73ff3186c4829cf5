"""Time, peak memory and checkpoint disk of exact + MinHash + heuristic at 250k-10M short documents.

Each run is a fresh process (``curate.run`` of the pipeline below on a Parquet file of documents
built from real texts, 20% of them normalisation-exact copies), which reports its own peak RSS
(``ru_maxrss``) at the end; the text bytes are the UTF-8 size of the ``text`` column. Measured per
checkpoint mode (``output.checkpoints``), per place the text is held (``output.hold_text``), and
with the allocators curate sets when it is imported first (curate/allocators.py: freed pages
handed back at once) or, with ``--libraries``, also as the libraries set them (polars' jemalloc
with its own decay, pyarrow's mimalloc pool), to measure what the settings are worth.

    HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_scale.py --docs 250000 1000000 --libraries
    HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_scale.py --docs 10000000 --modes ids --hold disk
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import dedup_corpus  # noqa: E402

DATA = Path(__file__).resolve().parent / ".data" / "scale"

CHILD = """
import json, resource, sys, time
import curate
path, out, mode, hold = sys.argv[1:5]
started = time.perf_counter()
result = curate.run({"name": "scale", "input": {"path": path, "id": "id"},
                     "stages": [{"type": "exact_dedup"}, {"type": "minhash_dedup", "threshold": 0.8},
                                {"type": "heuristic_filter"}],
                     "output": {"dir": out, "checkpoints": mode, "hold_text": hold}})
print(json.dumps({"seconds": round(time.perf_counter() - started, 1), "kept": result.report.totals.rows_kept,
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def corpus(n_docs: int) -> Path:
    """The benchmark's documents (cached): real texts, 1-3 per document, 20% exact-after-normalising copies."""
    path = DATA / f"docs-{n_docs}.parquet"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        dedup_corpus(n_docs, parts=(1, 3)).write_parquet(path)
    return path


LIBRARIES = {"CURATE_ALLOCATORS": "libraries"}
"""curate then leaves each library's own allocator settings as they are."""


def measure(path: Path, mode: str, hold: str, libraries: bool) -> dict:
    """One run in a fresh process: seconds, rows kept, peak RSS and the checkpoints' bytes on disk."""
    env = {**os.environ, **(LIBRARIES if libraries else {})}
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run([sys.executable, "-c", CHILD, str(path), out, mode, hold], capture_output=True, text=True,
                              check=True, env=env)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        stages = Path(out) / "scale" / "stages"
        row["checkpoint_bytes"] = sum(p.stat().st_size for p in stages.iterdir() if p.name[:2] != "00")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, nargs="+", default=[250_000, 1_000_000])
    parser.add_argument("--modes", nargs="+", default=["full", "ids"], choices=["full", "ids"])
    parser.add_argument("--hold", nargs="+", default=["memory", "disk"], choices=["memory", "disk"])
    parser.add_argument("--libraries", action="store_true", help="also run each with the libraries' own allocator settings")
    args = parser.parse_args()
    print("| documents | text MB | text held in | checkpoints | allocators | seconds | peak RSS MB | RSS / text "
          "| checkpoint MB (stages 1-3) | kept |")
    print("|---:|---:|---|---|---|---:|---:|---:|---:|---:|")
    for n_docs in args.docs:
        path = corpus(n_docs)
        text_bytes = pl.scan_parquet(path).select(pl.col("text").str.len_bytes().sum()).collect(engine="streaming").item()
        for hold in args.hold:
            for mode in args.modes:
                for libraries in [False, True] if args.libraries else [False]:
                    row = measure(path, mode, hold, libraries)
                    print(f"| {n_docs:,} | {text_bytes / 1e6:,.0f} | {hold} | {mode} | {'libraries' if libraries else 'curate'} | "
                          f"{row['seconds']} | {row['peak_rss_bytes'] / 1e6:,.0f} | {row['peak_rss_bytes'] / text_bytes:.1f}x | "
                          f"{row['checkpoint_bytes'] / 1e6:,.1f} | {row['kept']:,} |", flush=True)


if __name__ == "__main__":
    main()
