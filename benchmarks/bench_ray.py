"""Local engine vs Ray engine with 1 and 2 workers, on the same pipeline and documents.

Run: ``python benchmarks/bench_ray.py [--docs 200000] [--workers 1 2]``. Each configuration runs
in a fresh process (a fresh local Ray instance with that many CPUs); every Ray run must give the
local engine's curated ids and ledger. Times: Ray start-up, each stage, and the whole run, twice per
process: `cold` (Ray workers start during the first stage) and `warm` (the same instance again).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
STAGES = [{"type": "heuristic_filter", "preset": "short_text"}, {"type": "exact_dedup"}, {"type": "minhash_dedup"},
          {"type": "semantic_dedup", "embed": {"cache": False}}]  # no embedding cache: every run embeds


def pipeline(engine: str, workers: int, out: Path) -> dict:
    """The benchmark pipeline: quality filter, exact, MinHash and semantic dedup (static embeddings)."""
    stages = STAGES
    return {"name": f"{engine}-{workers}", "engine": engine, "seed": 0, "stages": stages,
            "input": {"path": str(out / "corpus.parquet"), "id": "id"}, "ray": {"num_cpus": workers},
            "output": {"dir": str(out / "runs")}}


def child(engine: str, workers: int, out: Path, repeat: int) -> None:
    """Measured runs of one configuration: one cold, then ``repeat`` warm; prints a JSON line."""
    import curate
    from curate.config import RayConfig
    from curate.embed import clear_memory
    from curate.engine.ray import ray_session

    config = pipeline(engine, workers, out)
    started = time.perf_counter()
    runs = []
    with ray_session(RayConfig(num_cpus=workers)) if engine == "ray" else nullcontext():
        ray_start = time.perf_counter() - started
        for attempt in range(1 + repeat):  # 0 is cold: Ray's workers start during its first stage
            name = f"{config['name']}-{attempt}"
            shutil.rmtree(out / "runs" / name, ignore_errors=True)  # no checkpoints from an earlier run
            clear_memory()  # no embeddings memoised by an earlier run in this process (loaded models stay)
            run_started = time.perf_counter()
            result = curate.run({**config, "name": name})
            runs.append({"run": time.perf_counter() - run_started, "run_dir": str(result.run_dir),
                         "stages": {f.stage: f.seconds or 0.0 for f in result.report.stages}})
    print(json.dumps({"engine": engine, "workers": workers, "ray_start": ray_start, "runs": runs}))


def same_result(run_dir: str, reference: str) -> bool:
    """Curated ids and the whole ledger equal the reference run's."""
    import polars as pl

    a, b = Path(run_dir), Path(reference)
    return (pl.read_parquet(a / "curated.parquet")["id"].equals(pl.read_parquet(b / "curated.parquet")["id"])
            and pl.read_parquet(a / "removed.parquet").equals(pl.read_parquet(b / "removed.parquet")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=2, help="warm runs per configuration (best is shown)")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "WORKERS"), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=HERE / ".data" / "bench_ray")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.child:
        child(args.child[0], int(args.child[1]), args.out, args.repeat)
        return

    from corpus import dedup_corpus

    args.out.mkdir(parents=True, exist_ok=True)
    corpus = dedup_corpus(args.docs)
    corpus.write_parquet(args.out / "corpus.parquet")
    megabytes = corpus["text"].str.len_bytes().sum() / 1e6
    print(f"corpus: {corpus.height:,} docs, {megabytes:.1f} MB; best of {args.repeat} warm runs; stages: "
          f"{', '.join(s['type'] for s in pipeline('local', 1, args.out)['stages'])}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")])}
    results = []
    for engine, workers in [("local", 2), *(("ray", w) for w in args.workers)]:
        command = [sys.executable, __file__, "--child", engine, str(workers), "--out", str(args.out),
                   "--repeat", str(args.repeat)]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode:
            sys.exit(done.stderr)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    reference = results[0]["runs"][-1]
    names = list(reference["stages"])
    header = ["engine", "workers", "Ray start s", *(f"{n} s cold / warm" for n in names), "stages s (warm)",
              "time vs local", "speed-up vs Ray 1 worker", "whole run s (warm)", "identical to local"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    totals = {}
    for result in results:
        cold, warm = result["runs"][0], result["runs"][1:]
        best = {n: min(r["stages"][n] for r in warm) for n in names}
        total = sum(best.values())
        key = (result["engine"], result["workers"])
        totals[key] = total
        one = totals.get(("ray", 1))
        identical = all(same_result(r["run_dir"], reference["run_dir"]) for r in result["runs"])
        cells = ["local" if key[0] == "local" else "ray", "polars, 2 threads" if key[0] == "local" else str(key[1]),
                 f"{result['ray_start']:.1f}" if key[0] == "ray" else "-",
                 *(f"{cold['stages'][n]:.2f} / {best[n]:.2f}" for n in names), f"{total:.2f}",
                 f"{total / totals[('local', 2)]:.2f}x", f"{one / total:.2f}x" if key[0] == "ray" and one else "-",
                 f"{min(r['run'] for r in warm):.2f}", "yes" if identical else "NO"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
