"""MinHash near-dedup benchmark: datasketch vs rensa vs curate's minhash_dedup, in one process.

    PYTHONPATH=. python benchmarks/bench_minhash.py                 # 100k docs, the table
    PYTHONPATH=. python benchmarks/bench_minhash.py --scaling       # + 25k / 100k / 400k
    PYTHONPATH=. python benchmarks/bench_minhash.py --rss-1m        # + peak RSS at 1M short docs

Everything runs on one core (NUMBA_NUM_THREADS=1, POLARS_MAX_THREADS=1). The corpus is
synthetic: Zipf-distributed words, 50-500 words per document, plus 10% edited copies of
earlier documents at exact word-5-gram Jaccard levels 0.5 .. 1.0 (the truth). A removal is
correct when the removed row's exact Jaccard to the row it was attributed to is >= 0.7
(threshold 0.8 minus 3 estimator standard errors); recall counts planted pairs with
Jaccard >= 0.9 whose two rows end with the same kept row.
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("POLARS_MAX_THREADS", "1")

import argparse  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import psutil  # noqa: E402

from curate.minhash.shingle import shingles  # noqa: E402
from curate.minhash.signature import SignatureSpec, minhash_signatures  # noqa: E402
from curate.stages.base import RunContext  # noqa: E402
from curate.stages.minhash_dedup import MinHashDedup  # noqa: E402

THRESHOLD, NUM_PERM, NGRAM, SEED = 0.8, 128, 5, 1


def make_corpus(n: int, min_words: int, max_words: int, seed: int = 0, copies: float = 0.1):
    """``n`` documents: random Zipf texts plus edited copies; returns (texts, truth frame)."""
    rng = np.random.default_rng(seed)
    vocab = np.array([f"w{i}" for i in range(100_000)])
    n_copies = int(n * copies)
    originals = n - n_copies
    lengths = rng.integers(min_words, max_words + 1, originals)
    words = np.minimum(rng.zipf(1.2, lengths.sum()), len(vocab)) - 1
    docs = np.split(vocab[words], np.cumsum(lengths)[:-1])
    levels = np.array([0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0])
    sources = rng.integers(0, originals, n_copies)
    truth = []
    for p, source in enumerate(sources):
        words = docs[source].copy()
        target = levels[p % len(levels)]
        edits = int(round((len(words) - NGRAM + 1) * (1 - target) / (NGRAM * (1 + target))))
        positions = rng.choice(len(words), size=edits, replace=False)
        words[positions] = [f"e{p}x{k}" for k in range(edits)]
        docs.append(words)
        truth.append((int(source), originals + p))
    texts = [" ".join(d) for d in docs]
    exact = [jaccard(texts[a], texts[b]) for a, b in truth]
    return texts, pl.DataFrame({"original": [a for a, _ in truth], "copy": [b for _, b in truth], "jaccard": exact})


def jaccard(a: str, b: str) -> float:
    x, y = set(shingles(a, NGRAM)), set(shingles(b, NGRAM))
    return len(x & y) / len(x | y)


class PeakRSS:
    """Samples this process's RSS every 5 ms while a block runs."""

    def __enter__(self):
        self.proc, self.peak, self.done = psutil.Process(), 0, False
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self.done:
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.done = True
        self.thread.join()


def measure(fn: Callable[[], dict[int, int]]) -> tuple[dict[int, int], float, float]:
    """Run ``fn``; return its result, seconds, and the process's peak RSS (MB) while it ran."""
    with PeakRSS() as rss:
        start = time.perf_counter()
        removed = fn()
        seconds = time.perf_counter() - start
    return removed, seconds, rss.peak / 2**20


def quality(texts: list[str], truth: pl.DataFrame, removed: dict[int, int]) -> tuple[float, float]:
    """Precision of removals and recall of planted pairs with Jaccard >= 0.9."""
    if removed:
        rng = np.random.default_rng(0)
        items = list(removed.items())
        sample = [items[i] for i in rng.choice(len(items), size=min(5000, len(items)), replace=False)]
        precision = float(np.mean([jaccard(texts[r], texts[k]) >= 0.7 for r, k in sample]))
    else:
        precision = float("nan")
    pairs = truth.filter(pl.col("jaccard") >= 0.9)
    found = [removed.get(o, o) == removed.get(c, c) for o, c in pairs.select("original", "copy").iter_rows()]
    return precision, float(np.mean(found))


def python_shingles(text: str) -> list[bytes]:
    return shingles(" ".join(text.lower().split()), NGRAM)


def datasketch_signatures(texts: list[str]) -> None:
    from datasketch import MinHash

    for text in texts:
        m = MinHash(num_perm=NUM_PERM, seed=SEED)
        m.update_batch(python_shingles(text))


def datasketch_dedup(texts: list[str], per_shingle: bool = False) -> dict[int, int]:
    """datasketch's dedup, query-then-insert; ``per_shingle`` feeds ``MinHash.update`` one shingle at
    a time (the loop of datasketch's README) instead of ``update_batch``."""
    from datasketch import MinHash, MinHashLSH

    lsh, removed = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM), {}
    for i, text in enumerate(texts):
        m = MinHash(num_perm=NUM_PERM, seed=SEED)
        if per_shingle:
            for shingle in python_shingles(text):
                m.update(shingle)
        else:
            m.update_batch(python_shingles(text))
        found = lsh.query(m)
        if found:
            removed[i] = min(found)
        else:
            lsh.insert(i, m, check_duplication=False)
    return removed


def rensa_signatures(texts: list[str]) -> None:
    from rensa import RMinHash

    RMinHash.digest_matrix_from_token_sets([python_shingles(t) for t in texts], NUM_PERM, SEED)


def rensa_dedup(texts: list[str]) -> dict[int, int]:
    """rensa's LSH needs bands dividing num_perm: 16 bands of 8, candidates verified by ``jaccard``."""
    from rensa import RMinHash, RMinHashLSH

    lsh, removed, kept = RMinHashLSH(THRESHOLD, NUM_PERM, 16), {}, {}
    for i, text in enumerate(texts):
        m = RMinHash(NUM_PERM, SEED)
        m.update(python_shingles(text))
        found = [k for k in lsh.query(m) if kept[k].jaccard(m) >= THRESHOLD]
        if found:
            removed[i] = min(found)
        else:
            lsh.insert(i, m)
            kept[i] = m
    return removed


def curate_signatures(series: pl.Series, hash_: str) -> None:
    minhash_signatures(series, SignatureSpec(num_perm=NUM_PERM, seed=SEED, ngram=NGRAM, hash=hash_))


def curate_dedup(frame: pl.DataFrame, hash_: str) -> dict[int, int]:
    stage = MinHashDedup(MinHashDedup.Config(num_perm=NUM_PERM, seed=SEED, ngram=NGRAM, hash=hash_,
                                             threshold=THRESHOLD, keep_signatures=False))
    ledger = stage.apply(frame, RunContext()).removed
    return dict(zip(ledger["id"].cast(pl.Int64).to_list(), ledger["duplicate_of"].cast(pl.Int64).to_list(), strict=True))


def warm_up() -> None:
    frame = pl.DataFrame({"id": ["0", "1"], "text": ["a b c d e f", "a b c d e g"]})
    for hash_ in ("xxh32", "sha1"):
        curate_dedup(frame, hash_)


def rss_now() -> float:
    return psutil.Process().memory_info().rss / 2**20


def row(name: str, n: int, nbytes: int, seconds: float, rss: float, before: float, pr=None) -> dict:
    out = {"method": name, "docs": n, "seconds": round(seconds, 3), "docs_per_s": round(n / seconds),
           "MB_per_s": round(nbytes / 2**20 / seconds, 2), "rss_before_MB": round(before), "peak_rss_MB": round(rss)}
    if pr is not None:
        out |= {"precision": round(pr[0], 4), "recall_j90": round(pr[1], 4)}
    return out


def end_to_end(n: int, datasketch_limit: int) -> pl.DataFrame:
    texts, truth = make_corpus(n, 50, 500)
    frame = pl.DataFrame({"id": [str(i) for i in range(n)], "text": texts})
    nbytes = sum(len(t) for t in texts)
    rows = []
    for name, fn in [("curate minhash_dedup (xxh32)", lambda: curate_dedup(frame, "xxh32")),
                     ("curate minhash_dedup (sha1)", lambda: curate_dedup(frame, "sha1")),
                     ("rensa RMinHash + RMinHashLSH", lambda: rensa_dedup(texts)),
                     ("datasketch MinHash + MinHashLSH", lambda: datasketch_dedup(texts[:datasketch_limit]))]:
        before = rss_now()
        removed, seconds, rss = measure(fn)
        count = datasketch_limit if name.startswith("datasketch") else n
        sub_bytes = nbytes if count == n else sum(len(t) for t in texts[:count])
        sub_truth = truth.filter(pl.col("copy") < count)
        rows.append(row(name, count, sub_bytes, seconds, rss, before, quality(texts, sub_truth, removed)))
    return pl.DataFrame(rows)


def signatures_only(n: int, datasketch_limit: int) -> pl.DataFrame:
    texts, _ = make_corpus(n, 100, 100, copies=0.0)
    series = pl.Series(texts)
    nbytes = sum(len(t) for t in texts)
    rows = []
    for name, fn, count in [("curate signatures (xxh32)", lambda: curate_signatures(series, "xxh32"), n),
                            ("curate signatures (sha1)", lambda: curate_signatures(series, "sha1"), n),
                            ("rensa digest_matrix_from_token_sets", lambda: rensa_signatures(texts), n),
                            ("datasketch MinHash.update_batch", lambda: datasketch_signatures(texts[:datasketch_limit]), datasketch_limit)]:
        before = rss_now()
        _, seconds, rss = measure(fn)
        rows.append(row(name, count, nbytes * count // n, seconds, rss, before))
    return pl.DataFrame(rows)


def scaling(sizes: list[int]) -> pl.DataFrame:
    rows = []
    for n in sizes:
        texts, _ = make_corpus(n, 50, 500)
        frame = pl.DataFrame({"id": [str(i) for i in range(n)], "text": texts})
        del texts
        before = rss_now()
        _, seconds, rss = measure(lambda frame=frame: curate_dedup(frame, "xxh32"))
        rows.append({"docs": n, "MB_text": round(frame["text"].str.len_bytes().sum() / 2**20), "seconds": round(seconds, 2),
                     "docs_per_s": round(n / seconds), "us_per_doc": round(seconds / n * 1e6, 1),
                     "rss_before_MB": round(before), "peak_rss_MB": round(rss)})
    return pl.DataFrame(rows)


def rss_one_million() -> None:
    """Child process: 1,000,000 short documents (5-40 words) through the stage; prints peak RSS."""
    warm_up()
    texts, _ = make_corpus(1_000_000, 5, 40)
    frame = pl.DataFrame({"id": pl.int_range(1_000_000, eager=True).cast(pl.String), "text": texts})
    del texts
    before = rss_now()
    removed, seconds, peak = measure(lambda: curate_dedup(frame, "xxh32"))
    print(f"1M short docs (5-40 words, {frame['text'].str.len_bytes().sum() / 2**20:.0f} MB of text): "
          f"stage {seconds:.1f} s, {len(removed):,} removed; RSS before the stage {before:.0f} MB, "
          f"peak RSS during the stage {peak:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--datasketch-docs", type=int, default=None,
                        help="run datasketch on the first N docs only (default: all); its docs/s is what counts")
    parser.add_argument("--scaling", action="store_true", help="also time the stage at 25k, 100k, 400k docs")
    parser.add_argument("--rss-1m", action="store_true", help="also measure peak RSS for 1M short docs (child process)")
    parser.add_argument("--child-rss-1m", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_rss_1m:
        rss_one_million()
        return
    pl.Config.set_tbl_rows(20)
    pl.Config.set_tbl_width_chars(400)
    pl.Config.set_tbl_cols(-1)
    pl.Config.set_fmt_str_lengths(60)
    pl.Config.set_tbl_hide_dataframe_shape(True)
    pl.Config.set_tbl_hide_column_data_types(True)
    limit = args.datasketch_docs or args.docs
    warm_up()
    print(f"## Signatures only: {args.docs:,} documents of 100 words, num_perm={NUM_PERM}, one core")
    sig = signatures_only(args.docs, limit)
    print(sig)
    rate = dict(zip(sig["method"], sig["docs_per_s"], strict=True))
    print(f"curate(xxh32) / datasketch: {rate['curate signatures (xxh32)'] / rate['datasketch MinHash.update_batch']:.1f}x, "
          f"curate(xxh32) / rensa: {rate['curate signatures (xxh32)'] / rate['rensa digest_matrix_from_token_sets']:.2f}x, "
          f"curate(sha1) / datasketch: {rate['curate signatures (sha1)'] / rate['datasketch MinHash.update_batch']:.1f}x")
    print(f"\n## End to end: {args.docs:,} documents of 50-500 words (10% planted near-duplicates), threshold {THRESHOLD}")
    e2e = end_to_end(args.docs, limit)
    print(e2e)
    rate = dict(zip(e2e["method"], e2e["docs_per_s"], strict=True))
    ds = rate["datasketch MinHash + MinHashLSH"]
    print(f"curate(xxh32) / datasketch: {rate['curate minhash_dedup (xxh32)'] / ds:.1f}x, "
          f"curate(sha1) / datasketch: {rate['curate minhash_dedup (sha1)'] / ds:.1f}x, "
          f"curate(xxh32) / rensa: {rate['curate minhash_dedup (xxh32)'] / rate['rensa RMinHash + RMinHashLSH']:.2f}x")
    if args.scaling:
        print("\n## Scaling of the stage (xxh32), 50-500 words per document")
        print(scaling([25_000, 100_000, 400_000]))
    if args.rss_1m:
        print("\n## Memory")
        sys.stdout.flush()
        subprocess.run([sys.executable, __file__, "--child-rss-1m"], check=True)


if __name__ == "__main__":
    main()
