"""Does semantic_dedup remove duplicates, or neighbours? Precision and recall on planted copies.

Run from the repository root:

    HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_semantic_precision.py

For each labelled corpus (``benchmarks/labelled_corpora.py``: tweets, noisy_ag_news, sms_spam,
ag_digests), the distinct texts get edited copies of 5% of their rows (at most 600;
``benchmarks/planted.py``: light edits, word swaps, reordered sentences, a sentence dropped),
and the ``semantic_dedup`` stage runs on the result under several settings:

- ``before``: eps 0.07 fixed, whole texts (the stage as it was: the model truncates long texts),
- ``after``: the stage's defaults (eps: auto, long texts embedded in chunks),
- ``eps auto, whole texts`` and ``eps 0.07, chunked``: each change alone.

Per corpus and setting: rows removed, the eps used, recall (planted copies removed as a
duplicate of their own source, or the source of its copy), precision (removed rows whose
``duplicate_of`` is their planted partner; a lower bound on the short corpora, whose real
near-duplicates such as retweets count against it; exact on ag_digests, where no two digests share
an article), how many other removals share at least half their words (word-set Jaccard >= 0.5,
the corpus's own near-duplicates) and the precision that counts those as right, and a seeded
sample of the other removed pairs to read. "eps used" is the median over rows under eps: auto.

The long-document study (ag_digests) compares ways to represent a long text: the whole text
(the model reads its first 512 tokens), the word-weighted mean of 128-word chunk vectors (the
stage's choice), and passage matching (each chunk's best match in the other text, weighted mean,
the lower of both directions): how similar each distinct digest is to its nearest other digest,
against how similar each planted copy is to its source.

eps_ratio (0.2) and eps_max (0.1) were chosen on exploratory runs with planting seed 0 and
digest seed 0; the default here is seed 1 for both (other digests, other copies).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

import numpy as np
import polars as pl

from benchmarks import labelled_corpora
from benchmarks.planted import EDITS, plant
from curate.embed import EmbedderConfig, embed_frame
from curate.embed.chunks import ROW, WORDS, chunk_texts
from curate.stages.base import RunContext
from curate.stages.semantic_dedup import SemanticDedup

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {
    "before": {"eps": 0.07, "chunk_words": None},
    "eps auto, whole texts": {"chunk_words": None},
    "eps 0.07, chunked": {"eps": 0.07},
    "after": {},
}
WORD = re.compile(r"\w+")


def load(name: str, seed: int, rows: int | None = None) -> pl.DataFrame:
    frame = labelled_corpora.ag_digests(seed=seed) if name == "ag_digests" else labelled_corpora.load(name)
    return plant(frame.select("text").head(rows) if rows else frame.select("text"), seed=seed)


def jaccard(a: str, b: str) -> float:
    left, right = set(WORD.findall(a.lower())), set(WORD.findall(b.lower()))
    return len(left & right) / max(len(left | right), 1)


def evaluate(data: pl.DataFrame, removed: pl.DataFrame, samples: int, seed: int) -> dict:
    """Recall and precision against the planted pairs, and a sample of the other removed pairs."""
    info = data.select("id", "text", "group", "edit")
    pairs = (removed.select("id", "duplicate_of", "score")
             .join(info, on="id")
             .join(info.select(pl.col("id").alias("duplicate_of"), pl.col("text").alias("other_text"),
                               pl.col("group").alias("other_group"), pl.col("edit").alias("other_edit")), on="duplicate_of")
             .with_columns(planted=pl.col("group") == pl.col("other_group")))
    planted = data.filter(pl.col("edit") != "original")
    found = pairs.filter("planted").with_columns(edit=pl.when(pl.col("edit") == "original").then("other_edit")
                                                 .otherwise("edit"))
    others = pairs.filter(~pl.col("planted")).with_columns(
        jaccard=pl.struct("text", "other_text").map_elements(lambda r: jaccard(r["text"], r["other_text"]),
                                                            return_dtype=pl.Float64))
    by_edit = {edit: round(found.filter(pl.col("edit") == edit).height
                           / max(planted.filter(pl.col("edit") == edit).height, 1), 3) for edit in EDITS}
    lexical = int((others["jaccard"] >= 0.5).sum()) if others.height else 0
    shown = others.sample(min(samples, others.height), seed=seed) if others.height else others
    originals = data.height - planted.height
    return {
        "rows": data.height, "planted": planted.height, "removed": removed.height,
        "removed_pct_of_originals": round(100 * removed.height / originals, 2),
        "recall": round(found.height / max(planted.height, 1), 3),
        "precision": round(found.height / max(removed.height, 1), 3),
        "other_removed": others.height,
        "other_removed_jaccard_0_5": lexical,
        "precision_with_lexical": round((found.height + lexical) / max(removed.height, 1), 3),
        "recall_by_edit": by_edit,
        "sample": [{"score": round(r["score"], 4), "jaccard": round(r["jaccard"], 2),
                    "removed": r["text"][:160], "duplicate_of": r["other_text"][:160]}
                   for r in shown.iter_rows(named=True)],
    }


def run_setting(data: pl.DataFrame, setting: dict, embed: dict, cache_dir: Path, seed: int) -> tuple[dict, float]:
    stage = SemanticDedup(SemanticDedup.Config(**{"embed": embed, **setting}))
    started = time.perf_counter()
    result = stage.apply(data, RunContext(seed=seed, cache_dir=cache_dir))
    return result, time.perf_counter() - started


def _pooled(chunks: pl.DataFrame, vectors: np.ndarray, n: int) -> np.ndarray:
    weights = chunks[WORDS].to_numpy().astype(np.float32)[:, None]
    out = np.zeros((n, vectors.shape[1]), dtype=np.float32)
    np.add.at(out, chunks[ROW].to_numpy(), vectors * weights)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def _passage_scores(chunks: pl.DataFrame, vectors: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    rows = chunks[ROW].to_numpy()
    weights = chunks[WORDS].to_numpy().astype(np.float64)
    starts = np.searchsorted(rows, np.arange(rows.max() + 2))
    scores = []
    for a, b in pairs:
        sa, sb = slice(starts[a], starts[a + 1]), slice(starts[b], starts[b + 1])
        sim = vectors[sa] @ vectors[sb].T
        scores.append(min((sim.max(1) * weights[sa]).sum() / weights[sa].sum(),
                          (sim.max(0) * weights[sb]).sum() / weights[sb].sum()))
    return np.asarray(scores)


def long_document_study(data: pl.DataFrame, embed: dict, cache_dir: Path, chunk_words: int = 128) -> list[dict]:
    """Nearest distinct digest vs planted copy, for three representations of a long text."""
    config = EmbedderConfig(**embed)
    originals = data.filter(pl.col("edit") == "original")
    copies = data.filter(pl.col("edit") != "original")
    texts = pl.concat([originals["text"], copies["text"]])
    position = {g: i for i, g in enumerate(originals["group"].to_list())}
    true_pairs = np.array([(originals.height + k, position[g]) for k, g in enumerate(copies["group"].to_list())])
    edits = copies["edit"].to_numpy()

    def embed_texts(values: pl.Series) -> np.ndarray:
        return embed_frame(pl.DataFrame({"text": values}), config, cache_dir=cache_dir)

    chunks = chunk_texts(texts, chunk_words, 10_000)
    chunk_vectors = embed_texts(chunks["text"])
    representations = {"whole text (model truncates)": embed_texts(texts),
                        f"mean of {chunk_words}-word chunks (the stage)": _pooled(chunks, chunk_vectors, len(texts))}
    rows = []
    for name, vectors in representations.items():
        own = vectors[: originals.height]
        sim = own @ own.T
        np.fill_diagonal(sim, -np.inf)
        distinct = sim.max(axis=1)
        planted = np.einsum("ij,ij->i", vectors[true_pairs[:, 0]], vectors[true_pairs[:, 1]])
        rows.append(_study_row(name, distinct, planted, edits))
        if name.startswith("mean"):
            nearest = np.stack([np.arange(originals.height), sim.argmax(axis=1)], axis=1)
            rows.append(_study_row(f"passage match, {chunk_words}-word chunks",
                                   _passage_scores(chunks, chunk_vectors, nearest),
                                   _passage_scores(chunks, chunk_vectors, true_pairs), edits))
    return rows


def _study_row(name: str, distinct: np.ndarray, planted: np.ndarray, edits: np.ndarray) -> dict:
    return {"representation": name, "distinct_median": round(float(np.median(distinct)), 4),
            "distinct_p99": round(float(np.quantile(distinct, 0.99)), 4), "distinct_max": round(float(distinct.max()), 4),
            "planted_min": round(float(planted.min()), 4), "planted_p05": round(float(np.quantile(planted, 0.05)), 4),
            "planted_min_by_edit": {e: round(float(planted[edits == e].min()), 4) for e in EDITS if (edits == e).any()},
            "gap": round(float(planted.min() - distinct.max()), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", nargs="+", default=list(labelled_corpora.CORPORA), choices=labelled_corpora.CORPORA)
    parser.add_argument("--embedder", default="static", choices=["static", "sentence-transformers"])
    parser.add_argument("--seed", type=int, default=1, help="planting and digest seed")
    parser.add_argument("--samples", type=int, default=6, help="other removed pairs shown per corpus and setting")
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--rows", type=int, help="only the first ROWS texts of each corpus (MiniLM on a CPU)")
    parser.add_argument("--no-study", action="store_true", help="skip the long-document representation study")
    parser.add_argument("--cache-dir", type=Path, default=Path(os.environ.get("CURATE_CACHE_DIR", ROOT / ".curate-cache")))
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    embed = {"embedder": args.embedder}
    results: dict = {"embedder": args.embedder, "seed": args.seed, "rows": args.rows, "corpora": {}}
    for name in args.corpora:
        try:
            data = load(name, args.seed, args.rows)
        except FileNotFoundError as exc:
            print(f"{name}: skipped ({exc})")
            continue
        entry: dict = {}
        for label in args.settings:
            result, seconds = run_setting(data, SETTINGS[label], embed, args.cache_dir, args.seed)
            entry[label] = {**evaluate(data, result.removed, args.samples, args.seed),
                            "eps": result.stats["eps"], "eps_reason": result.stats["eps_reason"],
                            "chunked_rows": result.stats.get("chunked_rows", 0), "seconds": round(seconds, 2)}
        if name == "ag_digests" and not args.no_study:
            entry["long_document_study"] = long_document_study(data, embed, args.cache_dir)
        results["corpora"][name] = entry
        print_corpus(name, entry)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


def print_corpus(name: str, entry: dict) -> None:
    settings = [k for k in entry if k in SETTINGS]
    first = entry[settings[0]]
    print(f"\n## {name}: {first['rows']:,} rows, {first['planted']} planted copies")
    print("| setting | eps used | rows removed | % of originals | recall | precision (planted) | other removals "
          "(word Jaccard >= 0.5) | precision (planted + Jaccard >= 0.5) | recall by edit |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for label in settings:
        r = entry[label]
        edits = ", ".join(f"{k} {v:.2f}" for k, v in r["recall_by_edit"].items())
        print(f"| {label} | {r['eps']:g} | {r['removed']:,} | {r['removed_pct_of_originals']} | {r['recall']:.3f} | "
              f"{r['precision']:.3f} | {r['other_removed']:,} ({r['other_removed_jaccard_0_5']:,}) | "
              f"{r['precision_with_lexical']:.3f} | {edits} |")
    print(f"\neps reason (after): {entry[settings[-1]]['eps_reason']}")
    for label in (s for s in ("before", "after") if s in entry):
        for pair in entry[label]["sample"]:
            print(f"- [{label}] {pair['score']:.4f}, Jaccard {pair['jaccard']:.2f}: "
                  f"{pair['removed'][:110]!r} ~ {pair['duplicate_of'][:110]!r}")
    for row in entry.get("long_document_study", []):
        print(f"- study: {row}")


if __name__ == "__main__":
    main()
