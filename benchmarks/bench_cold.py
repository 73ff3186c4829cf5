"""The cold path: a whole `curate run` process (one minhash_dedup stage) against datasketch, in one run.

    PYTHONPATH=. python benchmarks/bench_cold.py                 # 40,000 documents, 5 warm runs
    PYTHONPATH=. python benchmarks/bench_cold.py --docs 40000 --runs 7 --per-shingle

The corpus is bench_minhash's (`make_corpus(docs, 50, 500)`: Zipf words, 10% planted near-copies),
written once as a Parquet file with `id` and `text` (cached in benchmarks/.data). datasketch
(`MinHash` + `MinHashLSH`, query-then-insert, as in bench_minhash) runs once in this process,
timed from its first document to its last (the corpus already in memory). curate is timed from
the start of a fresh `curate run pipeline.yaml` subprocess to its exit, with a new run directory
each time (nothing resumes): the first run with an empty numba cache (`NUMBA_CACHE_DIR` a new
folder: every kernel compiles), then `--runs` more with that cache warm. The children run the curate
this script imports (`PYTHONPATH=<other checkout>` measures another version). Children run as a user's
installed curate does (bytecode caches allowed: the `PYTHONDONTWRITEBYTECODE` of this machine's
shell is dropped for them) with default threads; their CPU seconds are reported beside the wall
time. Every curate run must remove the same rows. ``--per-shingle`` also times datasketch fed one
shingle at a time (``MinHash.update``, the loop of its README) beside ``update_batch``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

import curate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_minhash import NUM_PERM, SEED, THRESHOLD, datasketch_dedup, make_corpus  # noqa: E402

DATA = Path(__file__).resolve().parent / ".data" / "cold"
PIPELINE = """name: cold
input:
  path: {path}
  id: id
stages:
  - type: minhash_dedup
    threshold: {threshold}
    num_perm: {num_perm}
    seed: {seed}
output:
  dir: {out}
"""


def corpus(n_docs: int) -> Path:
    """The benchmark's documents as Parquet (``id``, ``text``), built once."""
    path = DATA / f"docs-{n_docs}.parquet"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        texts, _ = make_corpus(n_docs, 50, 500)
        pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts}).write_parquet(path)
    return path


def curate_run(pipeline: Path, env: dict[str, str]) -> dict:
    """One fresh ``curate run`` process: wall and CPU seconds, and what its run record says."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "curate", "run", str(pipeline)], env=env, check=True,
                   stdout=subprocess.DEVNULL, cwd=pipeline.parent)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = Path(pipeline.read_text().split("dir: ")[1].strip()) / "cold"
    record = json.loads((out / "report.json").read_text())
    return {"wall": wall, "cpu": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
            "in_run": record["totals"]["seconds"], "stage": record["funnel"][1]["seconds"],
            "removed": record["totals"]["rows_removed"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=40_000)
    parser.add_argument("--runs", type=int, default=5, help="warm curate runs after the first")
    parser.add_argument("--per-shingle", action="store_true", help="also time datasketch fed one shingle at a time")
    args = parser.parse_args()
    path = corpus(args.docs)
    texts = pl.read_parquet(path)["text"].to_list()
    started = time.perf_counter()
    reference = datasketch_dedup(texts)
    datasketch = time.perf_counter() - started
    per_shingle = None
    if args.per_shingle:
        started = time.perf_counter()
        assert datasketch_dedup(texts, per_shingle=True) == reference, "datasketch's two APIs removed different rows"
        per_shingle = time.perf_counter() - started
    del texts

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(curate.__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    with tempfile.TemporaryDirectory() as scratch:
        env["NUMBA_CACHE_DIR"] = str(Path(scratch) / "numba-cache")
        runs = []
        for i in range(args.runs + 1):
            pipeline = Path(scratch) / f"p{i}.yaml"
            pipeline.write_text(PIPELINE.format(path=path, threshold=THRESHOLD, num_perm=NUM_PERM, seed=SEED,
                                                out=Path(scratch) / f"runs{i}"))
            runs.append(curate_run(pipeline, env))
    first, warm = runs[0], runs[1:]
    assert len({r["removed"] for r in runs}) == 1, "curate runs removed different rows"
    best = min(warm, key=lambda r: r["wall"])
    median = statistics.median(r["wall"] for r in warm)

    print(f"{args.docs:,} documents of 50-500 words; datasketch removed {len(reference):,}, curate {first['removed']:,}\n")
    print("| run | wall s | CPU s | in the run (report) s | the stage s | start-up, record, exit s | datasketch / curate |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(f"| datasketch MinHash.update_batch + MinHashLSH (in-process) | {datasketch:.2f} | | | | | 1.0 |")
    if per_shingle is not None:
        print(f"| datasketch MinHash.update per shingle + MinHashLSH (in-process) | {per_shingle:.2f} | | | | | "
              f"{datasketch / per_shingle:.2f} |")
    rows = [("curate run, first (numba compiles)", first), ("curate run, warm best", best)]
    for name, r in rows:
        print(f"| {name} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['in_run']:.2f} | {r['stage']:.2f} | "
              f"{r['wall'] - r['in_run']:.2f} | **{datasketch / r['wall']:.1f}x**{against(per_shingle, r['wall'])} |")
    print(f"| curate run, warm median of {len(warm)} | {median:.2f} | | | | | **{datasketch / median:.1f}x**"
          f"{against(per_shingle, median)} |")


def against(per_shingle: float | None, seconds: float) -> str:
    """The ratio to datasketch fed per shingle, when it was timed."""
    return "" if per_shingle is None else f" ({per_shingle / seconds:.1f}x per shingle)"


if __name__ == "__main__":
    main()
