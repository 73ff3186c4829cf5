"""Does the recommended recipe hold on every labelled corpus, for proxies of two families?

For each corpus of ``benchmarks/labelled_corpora.py`` and each proxy model, the recipe
(``pipelines/text_classification.yaml``) runs with only ``input.path`` changed (and
``proxy_train.model``), and the proxy's report is tabulated: energy saved, macro-F1 against
the full pool and a random subset of the same size, the guard's verdict.

``--dev`` is how the recipe is chosen without reading a test split: the same stratified test
split the real run makes is cut off first and thrown away, and the recipe runs on the rest
without ``proxy_train`` (guard on, judged by the same proxy model), so only validation figures
are printed.

Run from the repository root (``../shared/data`` beside it)::

    HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_effectiveness.py --dev
    HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_effectiveness.py --markdown
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import polars as pl
import yaml

import curate
from curate.proxy import stratified_split
from curate.record import RunRecord

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labelled_corpora import CORPORA, write_corpus  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / ".data"
PROXIES = {"tfidf": "TF-IDF + LR", "mlp": "MLP on static embeddings"}


def recipe_for(recipe: dict, corpus_path: Path, proxy: str, out: Path, name: str) -> dict:
    """The recipe with only the input path, the proxy model and the output changed."""
    raw = copy.deepcopy(recipe)
    raw["input"]["path"] = str(corpus_path)
    raw["proxy_train"]["model"] = proxy
    raw["output"] = {"dir": str(out), "name": name}
    return raw


def dev_recipe(raw: dict, corpus_path: Path, out: Path) -> dict:
    """The recipe on the pool only: the test split the real run would make is cut off and discarded."""
    frame = pl.read_csv(corpus_path)
    split = raw["proxy_train"].get("test", {}).get("split", 0.2)
    pool, _ = stratified_split(frame, split, raw.get("seed", 0))
    path = out / f"{corpus_path.stem}-pool.csv"
    pool.write_csv(path)
    dev = copy.deepcopy(raw)
    dev["input"]["path"] = str(path)
    proxy = dev.pop("proxy_train")
    dev["guard"] = {**dev.get("guard", {}), "enabled": True, "model": proxy["model"]}
    return dev


def summarise(report: RunRecord, corpus: str, proxy: str, seconds: float, dev: bool) -> dict:
    """One table row."""
    guard = report.guard
    final = guard.final_checks[-1] if guard is not None and guard.final_checks else None
    totals = report.totals
    pool = totals.rows_in - totals.rows_test - totals.rows_validation
    row = {"corpus": corpus, "proxy": PROXIES[proxy], "pool": pool, "kept_pct": totals.kept_pct,
           "verdict": guard.verdict if guard else None, "seconds": round(seconds, 1),
           "val_full": guard.reference.macro_f1 if guard else None, "val_curated": final.macro_f1 if final else None,
           "val_random": final.random_macro_f1 if final else None}
    if dev:
        return row
    p = report.proxy
    row |= {"energy_saved_pct": p.energy_saved_pct, "cpu_saved_pct": p.cpu_seconds_saved_pct,
            "f1_full": p.full.macro_f1.mean, "f1_curated": p.curated.macro_f1.mean,
            "f1_random": p.random.macro_f1.mean, "delta": p.macro_f1_delta, "delta_ci": p.macro_f1_delta_ci,
            "vs_random": p.curated_minus_random_macro_f1, "beats_random": p.beats_random,
            "energy_method": p.energy_method, "break_even_runs": p.break_even_runs}
    no_safe = row["verdict"] == "no safe reduction found"
    row["meets_target"] = no_safe or (p.energy_saved_pct >= 40 and p.macro_f1_delta >= -0.01 and p.beats_random)
    return row


def markdown(rows: list[dict], dev: bool) -> str:
    """The rows as a Markdown table."""
    def pt(value):
        return "–" if value is None else f"{100 * value:+.2f}"

    if dev:
        head = "| corpus | proxy | pool rows | kept % | validation macro-F1 pool / curated / random | guard | s |"
        lines = [head, "|---|---|---:|---:|---|---|---:|"]
        lines += [f"| {r['corpus']} | {r['proxy']} | {r['pool']:,} | {r['kept_pct']:.1f} | "
                  f"{r['val_full']:.4f} / {r['val_curated']:.4f} / {r['val_random']:.4f} | {r['verdict']} | {r['seconds']} |"
                  for r in rows]
        return "\n".join(lines)
    head = ("| corpus | proxy | pool rows | kept % | energy saved (estimated) | CPU-s saved | macro-F1 full / curated / random "
            "| curated − full, pt [95% CI] | curated − random, pt | guard | target met |")
    lines = [head, "|---|---|---:|---:|---:|---:|---|---|---|---|---|"]
    for r in rows:
        low, high = r["delta_ci"]
        lines.append(f"| {r['corpus']} | {r['proxy']} | {r['pool']:,} | {r['kept_pct']:.1f} | {r['energy_saved_pct']:.1f}% | "
                     f"{r['cpu_saved_pct']:.1f}% | {r['f1_full']:.4f} / {r['f1_curated']:.4f} / {r['f1_random']:.4f} | "
                     f"{pt(r['delta'])} [{pt(low)}, {pt(high)}] | {pt(r['vs_random'])} | {r['verdict']} | "
                     f"{'yes' if r['meets_target'] else '**no**'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipe", type=Path, default=ROOT / "pipelines" / "text_classification.yaml")
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=CORPORA)
    parser.add_argument("--proxies", nargs="+", default=list(PROXIES), choices=list(PROXIES))
    parser.add_argument("--dev", action="store_true", help="validation figures only; no test split is read")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "effectiveness")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    recipe = yaml.safe_load(args.recipe.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for corpus in args.corpora:
        path = write_corpus(corpus, DATA)
        for proxy in args.proxies:
            name = f"{corpus}-{proxy}" + ("-dev" if args.dev else "")
            raw = recipe_for(recipe, path, proxy, args.out, name)
            if args.dev:
                raw = dev_recipe(raw, path, args.out)
            started = time.perf_counter()
            result = curate.run(raw)
            row = summarise(result.report, corpus, proxy, time.perf_counter() - started, args.dev)
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(markdown(rows, args.dev) if args.markdown else json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
