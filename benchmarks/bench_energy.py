"""Energy figures a manager can act on (issue 16): the MLP proxy as one metered span, and int8 embeddings.

Run from the repository root (both need ../shared/data and the MiniLM package):

    HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_energy.py mlp [--embedder static] [--seeds 2] [--hidden 1024]
    HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_energy.py mlp-sizes
    HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_energy.py int8 [--corpora noisy_ag_news sms_spam]

``mlp``: ``pipelines/ag_news_proxy.yaml`` (the full NoisyAG-News pool of 10,000 crowd-labelled
rows, curated by exact_dedup, label_noise and prototype_prune; tested on the 7,600 clean AG News
test rows) with its proxy replaced by a bake-off of the MLP on embeddings (the headline), TF-IDF +
logistic regression, linear SVM and naive Bayes. Per model and arm: rows, the fits in each seed's
metered span (1: the fit is metered as one span, not repeated), CPU and wall seconds per fit,
epochs run and to convergence, kWh (point and range), macro-F1, and the Carbontracker-style
prediction of each fit's energy from its first two epochs. Ratios to TF-IDF + LR are within one run.
The guard is off, so the full arm is the whole pool; ``--hidden`` / ``--layers`` override the MLP's.

``mlp-sizes``: how the MLP's defaults were checked. Each setting (``SIZES``) is fitted on 80% of
each corpus's labelled pool and scored on the other 20% (a stratified, seeded validation split;
no test set is read): validation macro-F1, CPU seconds of the fit, epochs run and to convergence.

``int8``: MiniLM (sentence-transformers, fp32) against the same model with torch dynamic int8
quantisation of its Linear layers. (1) Energy and time per 1,000 texts: the same texts embedded
under the meter, alternating fp32 / int8 for ``--rounds`` rounds, model load and quantisation
outside the span. (2) Cosine of each text's int8 vector to its fp32 vector. (3) Agreement of dedup
decisions: the ``semantic_dedup`` stage on the corpus with 5% planted near-duplicate copies
(``benchmarks/planted.py``), once per precision, at ``eps: auto`` and at the eps fp32 chose: rows
both remove, rows only one removes, the share of rows with the same keep/remove decision, and
each precision's recall of the planted copies. Fresh embedding cache per run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks import labelled_corpora  # noqa: E402
from benchmarks.bench_proxy import load  # noqa: E402
from benchmarks.planted import plant  # noqa: E402

# --- mlp -------------------------------------------------------------------------------------------------------------

def mlp_bench(embedder: str, seeds: int, mlp: dict) -> dict:
    """The ag_news_proxy pipeline with an MLP-headed bake-off; one row per model and arm.

    The guard is off, so the full arm is the whole 10,000-row pool (no validation split set aside);
    ``mlp`` overrides the MLP's settings (hidden, layers).
    """
    import curate

    raw = load(ROOT / "pipelines" / "ag_news_proxy.yaml", ROOT)
    raw["name"] = f"bench_energy_mlp_{embedder}"
    raw["guard"] = {"enabled": False}
    raw["proxy_train"] = {**raw["proxy_train"], "model": "mlp", "models": ["mlp", "tfidf", "svm", "nb"],
                          "seeds": seeds, "min_fit_seconds": 2.0, "embed": {"embedder": embedder}, **mlp}
    record = curate.run(raw).report
    proxy = record.proxy
    rows = []
    for entry in proxy.bakeoff.models:
        for arm_name in ("full", "curated", "random"):
            arm = getattr(entry, arm_name)
            if arm is None:
                continue
            energy = arm.energy
            row = {"model": entry.model, "arm": arm_name, "rows": arm.rows, "fits_per_span": energy.repetitions,
                   "cpu_s_per_fit": round(energy.cpu_seconds_per_fit, 2),
                   "wall_s_per_fit": round(energy.wall_seconds_per_fit, 2),
                   "mwh_per_fit": round(energy.kwh_per_fit * 1e6, 3),
                   "mwh_range": [round((energy.kwh_per_fit_low or energy.kwh_per_fit) * 1e6, 3),
                                 round((energy.kwh_per_fit_high or energy.kwh_per_fit) * 1e6, 3)],
                   "macro_f1": round(arm.macro_f1.mean, 4)}
            if arm.epochs is not None:
                row |= {"epochs_run": arm.epochs.run.per_seed, "epochs_to_convergence": arm.epochs.to_convergence.per_seed,
                        "prediction_error_pct": [p.error_pct for p in arm.epochs.predictions]}
            rows.append(row)
    tfidf_full = next(r for r in rows if r["model"] == "tfidf" and r["arm"] == "full")
    for row in rows:
        row["cpu_vs_tfidf_full"] = round(row["cpu_s_per_fit"] / max(tfidf_full["cpu_s_per_fit"], 1e-9), 1)
    return {"embedder": embedder, "seeds": seeds, "mlp": mlp, "power": record.power.cpu.describe(), "rows": rows,
            "energy_saved_pct": proxy.energy_saved_pct, "energy_saved_pct_range": proxy.energy_saved_pct_range,
            "cpu_seconds_saved_pct": proxy.cpu_seconds_saved_pct, "macro_f1_delta": proxy.macro_f1_delta,
            "bakeoff": proxy.bakeoff.reason}


def print_mlp(result: dict) -> None:
    print(f"embedder: {result['embedder']}, seeds: {result['seeds']}, MLP settings: {result['mlp'] or 'defaults'}; "
          f"power: {result['power']}")
    print("| model | arm | rows | fits per span | CPU s / fit | wall s / fit | CPU vs tfidf full | mWh / fit [range] "
          "| epochs run | epochs to convergence | prediction error % | macro-F1 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in result["rows"]:
        epochs = [", ".join(map(lambda v: f"{v:g}", r.get(k, []))) or "-"
                  for k in ("epochs_run", "epochs_to_convergence", "prediction_error_pct")]
        print(f"| {r['model']} | {r['arm']} | {r['rows']:,} | {', '.join(map(str, r['fits_per_span']))} | "
              f"{r['cpu_s_per_fit']} | {r['wall_s_per_fit']} | {r['cpu_vs_tfidf_full']}x | {r['mwh_per_fit']} "
              f"[{r['mwh_range'][0]}, {r['mwh_range'][1]}] | {' | '.join(epochs)} | {r['macro_f1']} |")
    print(f"MLP headline: energy saved {result['energy_saved_pct']}% {result['energy_saved_pct_range']}, CPU-seconds "
          f"saved {result['cpu_seconds_saved_pct']}%, macro-F1 change {100 * result['macro_f1_delta']:+.2f} pt; "
          f"{result['bakeoff']}")


# --- mlp sizes: the MLP's default, chosen on validation splits ----------------------------------------------------------

SIZES = {"512x2 lr1e-3 b32": {}, "1024x2 lr1e-3 b32": {"hidden": 1024}, "1024x3 lr1e-3 b32": {"hidden": 1024, "layers": 3},
         "512x2 lr3e-4 b32": {"lr": 3e-4}, "512x2 lr1e-3 b128": {"batch_size": 128}}


def mlp_sizes(corpora: list[str], seed: int) -> dict:
    """Each MLP setting of ``SIZES`` (overrides of the proxy's defaults) on each corpus's validation split.

    The labelled pool is split 80/20, stratified and seeded (no test split is read); static
    embeddings (the proxy's default); per setting: validation macro-F1, CPU seconds of the fit,
    epochs run and to convergence.
    """
    from curate.config import ProxyTrainConfig
    from curate.embed import EmbedderConfig, embed_frame
    from curate.energy.meter import cpu_seconds
    from curate.proxy.metrics import scores
    from curate.proxy.models import make_model
    from curate.proxy.split import stratified_split

    out: dict = {}
    for name in corpora:
        frame = labelled_corpora.load(name).select("text", "label").with_row_index("id").with_columns(
            pl.col("id").cast(pl.String), pl.col("label").cast(pl.String))
        train, validation = stratified_split(frame, 0.2, seed)
        vectors = {part: embed_frame(data, EmbedderConfig()) for part, data in (("train", train), ("validation", validation))}
        out[name] = {}
        for label, override in SIZES.items():
            config = ProxyTrainConfig(**override)
            model = make_model("mlp", seed, config.max_iter, config.hidden, config.max_epochs, config.patience,
                               options=config.options("mlp"))
            started = cpu_seconds()
            model.fit(vectors["train"], train["label"].to_numpy())
            cpu = cpu_seconds() - started
            _, macro_f1 = scores(validation["label"].to_numpy(), model.predict(vectors["validation"]))
            out[name][label] = {"rows": train.height, "macro_f1": round(macro_f1, 4), "cpu_s": round(cpu, 2),
                                "epochs": model.epochs_, "best_epoch": model.best_epoch_}
            print(name, label, out[name][label], flush=True)
    return out


# --- int8 ------------------------------------------------------------------------------------------------------------

def _encoders(cache_dir: Path) -> dict:
    from curate.embed import EmbedderConfig, make_encoder

    return {p: make_encoder(EmbedderConfig(embedder="sentence-transformers", precision=p), cache_dir)
            for p in ("fp32", "int8")}


def speed(texts: list[str], rounds: int, cache_dir: Path) -> tuple[dict, dict]:
    """kWh and seconds per 1,000 texts of each precision (mean over rounds) and the vectors."""
    from curate.energy import EnergyConfig, Meter

    encoders = _encoders(cache_dir)
    for encoder in encoders.values():  # load (and quantise) outside the metered spans
        encoder.encode(texts[:32])
    per: dict = {p: [] for p in encoders}
    vectors = {}
    for _ in range(rounds):
        for precision, encoder in encoders.items():
            with Meter(EnergyConfig(measure_power_secs=0.5)) as meter:
                vectors[precision] = encoder.encode(texts)
            per[precision].append(meter.reading_)
    scale = 1000 / len(texts)
    out = {}
    for precision, readings in per.items():
        out[precision] = {
            "seconds_per_1k": round(scale * float(np.mean([r.wall_seconds for r in readings])), 2),
            "cpu_seconds_per_1k": round(scale * float(np.mean([r.cpu_seconds for r in readings])), 2),
            "mwh_per_1k": round(scale * 1e6 * float(np.mean([r.kwh for r in readings])), 3),
            "mwh_range_per_1k": [round(scale * 1e6 * float(np.mean([r.kwh_range[i] for r in readings])), 3)
                                 for i in (0, 1)],
            "method": readings[0].method}
    return out, vectors


def dedup_agreement(data: pl.DataFrame, seed: int, cache_dir: Path) -> dict:
    """semantic_dedup at each precision (eps auto, then fp32's eps for both): removals and their agreement."""
    from curate.stages.base import RunContext
    from curate.stages.semantic_dedup import SemanticDedup

    def removed(precision: str, eps: float | str) -> tuple[set, dict]:
        config = SemanticDedup.Config(embed={"embedder": "sentence-transformers", "precision": precision}, eps=eps)
        result = SemanticDedup(config).apply(data, RunContext(seed=seed, cache_dir=cache_dir))
        return set(result.removed["id"].to_list()), result.stats

    planted = data.filter(pl.col("edit") != "original")
    pairs = dict(zip(planted["id"].to_list(), planted["group"].to_list(), strict=True))
    originals = dict(data.filter(pl.col("edit") == "original").select("group", "id").iter_rows())

    def recall(ids: set) -> float:  # a planted copy counts as found when it or its source was removed
        return round(sum(1 for i, g in pairs.items() if i in ids or originals.get(g) in ids) / max(len(pairs), 1), 3)

    out = {}
    fp32_auto, stats = removed("fp32", "auto")
    eps = float(stats["eps"])  # under eps: auto, the median of the per-row eps
    settings = {"eps auto": ("auto", fp32_auto), f"eps {eps:.4f} (fp32's)": (eps, None)}
    for label, (value, fp32_ids) in settings.items():
        fp32_ids = fp32_ids if fp32_ids is not None else removed("fp32", value)[0]
        int8_ids, int8_stats = removed("int8", value)
        same = data.height - len(fp32_ids ^ int8_ids)
        out[label] = {"rows": data.height, "fp32_removed": len(fp32_ids), "int8_removed": len(int8_ids),
                      "both": len(fp32_ids & int8_ids), "only_fp32": len(fp32_ids - int8_ids),
                      "only_int8": len(int8_ids - fp32_ids),
                      "decisions_agree_pct": round(100 * same / data.height, 2),
                      "removed_jaccard": round(len(fp32_ids & int8_ids) / max(len(fp32_ids | int8_ids), 1), 3),
                      "recall_fp32": recall(fp32_ids), "recall_int8": recall(int8_ids),
                      "eps_fp32": round(eps, 4),
                      "eps_int8": round(float(int8_stats["eps"]), 4)}
    return out


def int8_bench(corpora: list[str], rows: int | None, speed_texts: int, rounds: int, seed: int) -> dict:
    results: dict = {"rounds": rounds, "speed_texts": speed_texts, "corpora": {}}
    for name in corpora:
        frame = labelled_corpora.load(name).select("text")
        frame = frame.head(rows) if rows else frame
        with tempfile.TemporaryDirectory() as cache:
            texts = frame["text"].cast(pl.String).fill_null("").to_list()[:speed_texts]
            timing, vectors = speed(texts, rounds, Path(cache))
            cosine = np.sum(vectors["fp32"] * vectors["int8"], axis=1)
            dedup = dedup_agreement(plant(frame, seed=seed), seed, Path(cache))
        results["corpora"][name] = {"rows": frame.height, "speed": timing,
                                    "cosine_int8_fp32": {"mean": round(float(cosine.mean()), 4),
                                                         "p01": round(float(np.quantile(cosine, 0.01)), 4),
                                                         "min": round(float(cosine.min()), 4)},
                                    "dedup": dedup}
        print_int8(name, results["corpora"][name])
    return results


def print_int8(name: str, entry: dict) -> None:
    fp32, int8 = entry["speed"]["fp32"], entry["speed"]["int8"]
    print(f"\n{name} ({entry['rows']:,} rows)")
    print("| precision | s / 1k texts | CPU s / 1k | mWh / 1k [range] | method |")
    print("|---|---|---|---|---|")
    for label, s in (("fp32", fp32), ("int8", int8)):
        print(f"| {label} | {s['seconds_per_1k']} | {s['cpu_seconds_per_1k']} | {s['mwh_per_1k']} "
              f"[{s['mwh_range_per_1k'][0]}, {s['mwh_range_per_1k'][1]}] | {s['method']} |")
    print(f"int8 / fp32: time {int8['seconds_per_1k'] / fp32['seconds_per_1k']:.2f}, CPU "
          f"{int8['cpu_seconds_per_1k'] / fp32['cpu_seconds_per_1k']:.2f}, energy {int8['mwh_per_1k'] / fp32['mwh_per_1k']:.2f}; "
          f"cosine int8 vs fp32: {entry['cosine_int8_fp32']}")
    print("| eps | rows | fp32 removed | int8 removed | both | only fp32 | only int8 | same decision | "
          "removed Jaccard | planted recall fp32 / int8 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for label, d in entry["dedup"].items():
        print(f"| {label} | {d['rows']:,} | {d['fp32_removed']} | {d['int8_removed']} | {d['both']} | {d['only_fp32']} | "
              f"{d['only_int8']} | {d['decisions_agree_pct']}% | {d['removed_jaccard']} | "
              f"{d['recall_fp32']} / {d['recall_int8']} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    mlp = sub.add_parser("mlp", help="the MLP proxy's metered span on the full NoisyAG-News pool, in a bake-off")
    mlp.add_argument("--embedder", default="static", choices=["static", "sentence-transformers"])
    mlp.add_argument("--seeds", type=int, default=2)
    mlp.add_argument("--hidden", type=int, help="MLP units per layer (default: the proxy's, 512)")
    mlp.add_argument("--layers", type=int, help="MLP hidden layers (default: the proxy's, 2)")
    sizes = sub.add_parser("mlp-sizes", help="MLP settings on validation splits (how the default was chosen)")
    sizes.add_argument("--corpora", nargs="+", default=["noisy_ag_news", "tweets", "sms_spam"],
                       choices=labelled_corpora.CORPORA)
    sizes.add_argument("--seed", type=int, default=0)
    int8 = sub.add_parser("int8", help="int8 vs fp32 MiniLM embeddings: energy, time, agreement of dedup decisions")
    int8.add_argument("--corpora", nargs="+", default=["noisy_ag_news", "sms_spam"], choices=labelled_corpora.CORPORA)
    int8.add_argument("--rows", type=int, help="only the first ROWS texts of each corpus")
    int8.add_argument("--speed-texts", type=int, default=2000, help="texts embedded under the meter per round")
    int8.add_argument("--rounds", type=int, default=2)
    int8.add_argument("--seed", type=int, default=1, help="planting and k-means seed")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.command == "mlp":
        result = mlp_bench(args.embedder, args.seeds,
                           {k: v for k, v in (("hidden", args.hidden), ("layers", args.layers)) if v is not None})
        print_mlp(result)
    elif args.command == "mlp-sizes":
        result = mlp_sizes(args.corpora, args.seed)
    else:
        result = int8_bench(args.corpora, args.rows, args.speed_texts, args.rounds, args.seed)
    print(f"\n{time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
