"""How `budget: auto` accepts a prefix: acceptance rules compared on two validation splits.

The rule must pick, on the run's validation split, a prefix that still holds on data it has
not seen. This benchmark measures that without touching any test split: per corpus, the
test split a real run would make (20%, stratified, the run's seed) is cut off and discarded;
from the rest, two disjoint validation splits A and B are carved (several partitions); active
selection (curate's default strategy) ranks the rest once; every grid prefix and random
subsets of the same size are judged on A and on B. Then each rule chooses a prefix on A and
is checked on B (and the other way round): does B agree the prefix is within one point of
the pool and above random?

    HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/bench_guard_rules.py --corpora sms_spam ag_digests
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np
import polars as pl

from curate.active.curves import encode_labels
from curate.active.features import FeatureConfig, build_features
from curate.active.loop import run_loop
from curate.active.strategies import default_estimator
from curate.guard import JudgeSettings, ValidationJudge
from curate.guard.prefix import FRACTIONS
from curate.proxy import stratified_split
from curate.stages.active_select import ActiveSelectConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from labelled_corpora import CORPORA, load  # noqa: E402

TOLERANCE = 0.01


@dataclass
class Point:
    """One prefix judged on one validation split."""

    fraction: float
    delta_pool: float
    se_pool: float
    delta_random: float
    se_random: float


def curve(pool: pl.DataFrame, validation: pl.DataFrame, order: np.ndarray, seeds: int) -> list[Point]:
    """Every grid prefix of ``order`` judged on ``validation`` against the pool and random subsets."""
    judge = ValidationJudge(pool, validation, JudgeSettings(model="tfidf", random_seeds=seeds), seed=0)
    points = []
    for fraction in FRACTIONS:
        rows = int(np.ceil(fraction * pool.height))
        fit = judge.score(pool.gather(order[:rows]))
        vs_pool = judge.compare(fit, [judge.reference_])
        vs_random = judge.compare(fit, judge.random_fits(pool, rows))
        points.append(Point(fraction, vs_pool.delta, vs_pool.se, vs_random.delta, vs_random.se))
    return points


RULES = {
    "point": lambda p, z: p.delta_pool >= -TOLERANCE and p.delta_random >= 0,
    "bound z": lambda p, z: p.delta_pool - z * p.se_pool >= -TOLERANCE and p.delta_random - z * p.se_random >= 0,
    "predictive z": lambda p, z: (p.delta_pool - z * np.sqrt(2) * p.se_pool >= -TOLERANCE
                                  and p.delta_random - z * np.sqrt(2) * p.se_random > 0),
    "bound z, random > 0": lambda p, z: (p.delta_pool - z * p.se_pool >= -TOLERANCE
                                         and p.delta_random - z * p.se_random > 0),
    "curate: bound z, random > 0 corrected for looks": None,
}


def curate_rule(points: list[Point], z: float) -> Point | None:
    """curate's rule: bound vs the pool at ``z``; bound vs random > 0, Bonferroni-corrected for the
    random comparisons made so far (made only where the pool bound holds)."""
    confidence = NormalDist().cdf(z)
    looks = 0
    for p in points:
        if p.delta_pool - z * p.se_pool < -TOLERANCE:
            continue
        looks += 1
        if p.delta_random - NormalDist().inv_cdf(1 - (1 - confidence) / looks) * p.se_random > 0:
            return p
    return None


def choose(points: list[Point], rule, z: float, consecutive: int = 1) -> Point | None:
    """The first prefix the rule accepts (with ``consecutive`` 2: and the next grid prefix too)."""
    if rule is None:
        return curate_rule(points, z)
    passed = [rule(p, z) for p in points] + [False]
    return next((p for i, p in enumerate(points) if all(passed[i:i + consecutive])), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", nargs="+", default=list(CORPORA), choices=CORPORA)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=3, help="random subsets per prefix")
    parser.add_argument("--out", type=Path, default=Path("runs/guard_rules.jsonl"))
    parser.add_argument("--shuffled", action="store_true", help="shuffle the labels: no prefix should be accepted")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    defaults = ActiveSelectConfig()
    for corpus in args.corpora:
        frame = load(corpus).with_row_index("n").with_columns(pl.format("r{}", "n").alias("id"), pl.col("label").cast(pl.String))
        if args.shuffled:
            frame = frame.with_columns(pl.col("label").shuffle(seed=0))
            corpus = f"{corpus} (labels shuffled)"
        rest, _ = stratified_split(frame, 0.2, 0)  # the real run's test split: discarded, never read
        for partition in range(args.partitions):
            rest_a, val_a = stratified_split(rest, 0.15, 100 + partition)
            pool, val_b = stratified_split(rest_a, 0.15 / 0.85, 200 + partition)
            y, _ = encode_labels(pool["label"])
            X, _ = build_features(pool, FeatureConfig(source="tfidf"))
            batch = max(20, pool.height // 100)
            loop = run_loop(X, y, defaults.strategy, estimator=default_estimator(), seed=partition, seed_size=max(40, batch),
                            batch_size=batch, budget=int(np.ceil(max(FRACTIONS) * pool.height)))
            curves = {"A": curve(pool, val_a, loop.order, args.seeds), "B": curve(pool, val_b, loop.order, args.seeds)}
            record = {"corpus": corpus, "partition": partition, "pool": pool.height,
                      "validation": [val_a.height, val_b.height], "strategy": defaults.strategy,
                      "curves": {k: [vars(p) for p in v] for k, v in curves.items()}}
            with args.out.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            print(json.dumps({k: record[k] for k in ("corpus", "partition", "pool", "validation")}), flush=True)
    summarise(args.out)


def summarise(path: Path) -> None:
    """Per rule and z: how often the prefix chosen on one split holds on the other, and the mean fraction kept."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    corpora = sorted({r["corpus"] for r in records})
    print("| rule | z | consecutive | " + " | ".join(f"{c}: holds / accepted, mean kept" for c in corpora) + " |")
    print("|---|---:|---:|" + "---|" * len(corpora))
    for name, rule in RULES.items():
        for z in (0.0, 0.84, 1.28, 1.64) if name != "point" else (0.0,):
            for consecutive in (1, 2) if rule is not None else (1,):
                cells = []
                for corpus in corpora:
                    holds, fractions, trials = 0, [], 0
                    for record in (r for r in records if r["corpus"] == corpus):
                        for pick, check in (("A", "B"), ("B", "A")):
                            trials += 1
                            chosen = choose([Point(**p) for p in record["curves"][pick]], rule, z, consecutive)
                            if chosen is None:
                                continue
                            other = next(Point(**p) for p in record["curves"][check] if p["fraction"] == chosen.fraction)
                            holds += other.delta_pool >= -TOLERANCE and other.delta_random > 0
                            fractions.append(chosen.fraction)
                    kept = f"{np.mean(fractions):.2f}" if fractions else "–"
                    cells.append(f"{holds}/{len(fractions)} of {trials}, {kept}")
                print(f"| {name} | {z} | {consecutive} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--summarise":
        summarise(Path(sys.argv[2]))
    else:
        main()
