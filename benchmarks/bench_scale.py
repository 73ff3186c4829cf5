"""Time, peak memory and checkpoint disk of exact + MinHash + heuristic at 250k-10M short documents.

Each run is a fresh process (``curate.run`` of the pipeline below on a Parquet file of documents
built from real texts, 20% of them normalisation-exact copies), which reports its own peak RSS
(``ru_maxrss``) at the end; the text bytes are the UTF-8 size of the ``text`` column. Both
checkpoint modes are measured (``output.checkpoints: full`` and ``ids``).

    HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_scale.py --docs 250000 1000000
"""

from __future__ import annotations

import argparse
import json
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
path, out, mode = sys.argv[1:4]
started = time.perf_counter()
result = curate.run({"name": "scale", "input": {"path": path, "id": "id"},
                     "stages": [{"type": "exact_dedup"}, {"type": "minhash_dedup", "threshold": 0.8},
                                {"type": "heuristic_filter"}],
                     "output": {"dir": out, "checkpoints": mode}})
print(json.dumps({"seconds": round(time.perf_counter() - started, 1), "kept": result.curated.height,
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def corpus(n_docs: int) -> Path:
    """The benchmark's documents (cached): real texts, 1-3 per document, 20% exact-after-normalising copies."""
    path = DATA / f"docs-{n_docs}.parquet"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        dedup_corpus(n_docs, parts=(1, 3)).write_parquet(path)
    return path


def measure(path: Path, mode: str) -> dict:
    """One run in a fresh process: seconds, rows kept, peak RSS and the checkpoints' bytes on disk."""
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run([sys.executable, "-c", CHILD, str(path), out, mode], capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        stages = Path(out) / "scale" / "stages"
        row["checkpoint_bytes"] = sum(p.stat().st_size for p in stages.iterdir() if p.name[:2] != "00")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, nargs="+", default=[250_000, 1_000_000])
    parser.add_argument("--modes", nargs="+", default=["full", "ids"], choices=["full", "ids"])
    args = parser.parse_args()
    print("| documents | text MB | checkpoints | seconds | peak RSS MB | RSS / text | checkpoint MB (stages 1-3) | kept |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for n_docs in args.docs:
        path = corpus(n_docs)
        text_bytes = pl.read_parquet(path, columns=["text"])["text"].str.len_bytes().sum()
        for mode in args.modes:
            row = measure(path, mode)
            print(f"| {n_docs:,} | {text_bytes / 1e6:,.0f} | {mode} | {row['seconds']} | {row['peak_rss_bytes'] / 1e6:,.0f} | "
                  f"{row['peak_rss_bytes'] / text_bytes:.1f}x | {row['checkpoint_bytes'] / 1e6:,.1f} | {row['kept']:,} |", flush=True)


if __name__ == "__main__":
    main()
