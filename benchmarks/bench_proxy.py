"""Proxy-training benchmark: run a pipeline with `proxy_train` and print the energy/accuracy table.

    python benchmarks/bench_proxy.py pipelines/ag_news_proxy.yaml [--base DIR] [--markdown]

Relative input paths resolve against --base (default: the repository root, where
`../shared/data` is the shared data sets); the run directory goes to benchmarks/runs/.
Prints one row per arm (full, curated, random same-size subset) with the method
(`measured`/`estimated`) of every energy figure, then the headline: energy saved,
macro-F1 change with its confidence interval, whether curated beats random, break-even.
Figures come from a shared, loaded machine: compare arms within one run, not across runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from curate.record import RunRecord

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _resolve(section: dict | None, base: Path) -> None:
    if section and section.get("path") and not Path(section["path"]).is_absolute():
        section["path"] = str((base / section["path"]).resolve())


def load(pipeline: Path, base: Path) -> dict:
    """The pipeline as a dict, input paths made absolute, output under benchmarks/runs/."""
    raw = yaml.safe_load(pipeline.read_text(encoding="utf-8"))
    _resolve(raw.get("input"), base)
    _resolve(((raw.get("proxy_train") or {}).get("test") or {}).get("input"), base)
    raw["output"] = {**raw.get("output", {}), "dir": str(ROOT / "benchmarks" / "runs")}
    return raw


def rows(report: RunRecord) -> list[list[str]]:
    """One table row per arm."""
    out = []
    for name, arm in report.proxy.arms():
        energy = arm.energy
        out.append([name, f"{arm.rows:,}", f"{arm.accuracy.mean:.4f} ± {arm.accuracy.std:.4f}",
                    f"{arm.macro_f1.mean:.4f} ± {arm.macro_f1.std:.4f}",
                    f"{energy.kwh_per_fit * 1000:.4f} ± {energy.kwh_per_fit_std * 1000:.4f}",
                    f"{energy.gco2eq_per_fit:.4f}", f"{energy.wall_seconds_per_fit:.2f}",
                    f"{energy.cpu_seconds_per_fit:.2f}", energy.method, ",".join(str(r) for r in energy.repetitions)])
    return out


HEADER = ["arm", "rows", "accuracy", "macro-F1", "Wh / fit", "gCO2eq / fit", "s / fit", "CPU s / fit", "method",
          "fits per seed"]


def headline(report: RunRecord) -> str:
    """The saving, the accuracy change and the break-even in one line."""
    p = report.proxy
    curation = report.totals.curation_energy
    low, high = p.macro_f1_delta_ci
    return (f"energy saved {p.energy_saved_pct:.1f}% ({p.energy_method}), CPU-seconds saved "
            f"{p.cpu_seconds_saved_pct:.1f}%; macro-F1 delta {100 * p.macro_f1_delta:+.2f} pt "
            f"[{100 * low:+.2f}, {100 * high:+.2f}] ({p.confidence:.0%} CI); beats random: {p.beats_random} "
            f"({100 * p.curated_minus_random_macro_f1:+.2f} pt); curation "
            f"{(curation.kwh if curation else 0.0) * 1000:.4f} Wh ({curation.method if curation else '-'}); "
            f"break-even runs: {p.break_even_runs}; test rows used "
            f"{p.test.rows_used:,} ({p.test.decontaminated:,} decontaminated)")


def main() -> None:
    """Run the pipeline and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pipeline", type=Path)
    parser.add_argument("--base", type=Path, default=ROOT, help="folder relative input paths start from")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    import curate

    result = curate.run(load(args.pipeline, args.base))
    report = result.report
    if report.stopped:
        print(f"stopped early: {report.stopped}")
    table = [HEADER, *rows(report)]
    if args.markdown:
        print("| " + " | ".join(HEADER) + " |")
        print("|" + "---|" * len(HEADER))
        for row in table[1:]:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
        for row in table:
            print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    print(headline(report))


if __name__ == "__main__":
    main()
