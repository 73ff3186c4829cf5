"""The commands on runs: run, validate, stages, explain, report (and the run's terminal summary)."""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from curate.cli.label import label_app
from curate.cli.output import console, err_console, fail, settings
from curate.engine.observer import RunObserver

if TYPE_CHECKING:
    from curate.record.models import Arm, ProxyOutcome, RunRecord

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Shrink a training set, then prove the energy it saves.")
app.add_typer(label_app, name="label")


@app.callback()
def main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors.")) -> None:
    """curate: data-centric Green AI."""
    settings["debug"] = debug


class ProgressObserver(RunObserver):
    """Draws one rich progress bar per stage."""

    def __init__(self, progress: Progress) -> None:
        self.bars = progress
        self.task = None

    def stage_started(self, index: int, label: str, rows: int, resumed: bool) -> None:
        suffix = " (checkpoint)" if resumed else ""
        self.task = self.bars.add_task(f"{index:>2}. {label}{suffix}", total=rows or 1)

    def progress(self, advance: int, total: int | None = None) -> None:
        if self.task is not None:
            self.bars.update(self.task, advance=advance, **({"total": total} if total else {}))

    def stage_finished(self, index: int, label: str, stats: dict[str, Any]) -> None:
        if self.task is not None:
            task = self.bars.tasks[self.task]
            self.bars.update(self.task, completed=task.total)

    def message(self, text: str) -> None:
        self.bars.console.print(f"[yellow]{text}[/]")


def funnel_table(record: RunRecord) -> Table:
    """The funnel: rows and % kept per stage, and time; the caption has the curation energy."""
    from curate.audit import units

    table = Table(title=f"curate funnel: {record.name}")
    table.add_column("stage", no_wrap=True)
    for column in ("rows in", "rows out", "removed", "% kept", "s", "cpu s"):
        table.add_column(column, justify="right", no_wrap=True)
    for row in record.funnel:
        resumed = "*" if row.resumed else ""
        table.add_row(row.stage + resumed, f"{row.rows_in:,}", f"{row.rows_out:,}", f"{row.removed:,}",
                      f"{row.kept_pct:.1f}", f"{row.seconds or 0:.2f}", f"{row.cpu_seconds or 0:.2f}")
    totals = record.totals
    pool = totals.rows_in - totals.rows_test - totals.rows_validation
    table.caption = f"kept {totals.rows_kept:,} of {pool:,} rows ({totals.kept_pct:.1f}%) in {totals.seconds:.1f} s"
    if any(row.resumed for row in record.funnel):
        table.caption += "; * loaded from its checkpoint"
    if totals.rows_test:
        table.caption += f"; {totals.rows_test:,} rows set aside as the proxy's test set"
    if totals.rows_validation:
        table.caption += f"; {totals.rows_validation:,} as the guard's validation split"
    energy = totals.curation_energy
    if energy is not None:
        table.caption += f"; curation used {units.wh(energy.kwh)}, {energy.gco2eq:.3g} gCO2eq ({energy.method})"
    return table


def proxy_table(proxy: ProxyOutcome) -> Table:
    """The proxy outcome: metrics and energy per arm (fits in 80 columns), then the headline figures."""
    from curate.audit import units

    table = Table(title=f"proxy training ({proxy.model}, {proxy.seeds} seeds, test {proxy.test.rows_used:,} rows, "
                        f"{proxy.test.decontaminated:,} decontaminated)")
    arms = proxy.arms()
    table.add_column("")
    for name, _ in arms:
        table.add_column(name, justify="right", no_wrap=True)
    mwh = units.SCALE["mWh"]
    rows: list[tuple[str, Callable[[Arm], str]]] = [
        ("rows", lambda a: f"{a.rows:,}"),
        ("accuracy ± sd", lambda a: f"{a.accuracy.mean:.4f} ± {a.accuracy.std:.4f}"),
        ("macro-F1 ± sd", lambda a: f"{a.macro_f1.mean:.4f} ± {a.macro_f1.std:.4f}"),
        ("mWh / fit ± sd", lambda a: f"{a.energy.kwh_per_fit * mwh:.3g} ± {a.energy.kwh_per_fit_std * mwh:.2g}"),
        ("gCO2eq / fit", lambda a: f"{a.energy.gco2eq_per_fit:.3g}"),
        ("seconds / fit", lambda a: f"{a.energy.wall_seconds_per_fit:.2f}"),
        ("cpu seconds / fit", lambda a: f"{a.energy.cpu_seconds_per_fit:.2f}"),
        ("energy method", lambda a: a.energy.method),
        ("fits per seed", lambda a: ", ".join(str(r) for r in a.energy.repetitions)),
    ]
    for label, cell in rows:
        table.add_row(label, *(cell(arm) for _, arm in arms))
    table.caption_justify = "left"
    if proxy.energy_saved_pct is not None:
        low, high = proxy.macro_f1_delta_ci
        break_even = proxy.break_even_runs
        saved_range = proxy.energy_saved_pct_range
        span = f" [{saved_range[0]:.1f}%, {saved_range[1]:.1f}%]" if saved_range else ""
        table.caption = (
            f"energy saved {proxy.energy_saved_pct:.1f}%{span} ({proxy.energy_method}), "
            f"cpu-seconds saved {proxy.cpu_seconds_saved_pct:.1f}%; "
            f"macro-F1 change {units.points(proxy.macro_f1_delta)} "
            f"[{units.points(low)}, {units.points(high)}] ({proxy.confidence:.0%} CI); "
            f"beats random: {'yes' if proxy.beats_random else 'no'} "
            f"({units.points(proxy.curated_minus_random_macro_f1)}); "
            f"break-even after {'never' if break_even is None else f'{break_even:.3g}'} training runs")
    return table


def power_line(record: RunRecord) -> str | None:
    """Where the CPU's power figure came from, and its range."""
    if record.power is None:
        return None
    cpu = record.power.cpu
    return f"power: CPU {cpu.describe()}; GPU: {record.power.gpu.note}"


def bakeoff_table(proxy: ProxyOutcome) -> Table | None:
    """The bake-off: each family's macro-F1 and energy per fit on the full and the curated data."""
    from curate.audit import units

    bakeoff = proxy.bakeoff
    if bakeoff is None:
        return None
    table = Table(title="architecture bake-off (same arms, same seeds)")
    for column in ("model", "data", "macro-F1", "mWh / fit", "Pareto"):
        table.add_column(column, justify="left" if column in ("model", "data") else "right", no_wrap=True)
    for point in bakeoff.points:
        table.add_row(point.model, point.data, f"{point.macro_f1:.4f}", f"{point.kwh_per_fit * units.SCALE['mWh']:.3g}",
                      "front" if point.on_front else "")
    table.caption_justify = "left"
    table.caption = (f"cheapest within {100 * bakeoff.tolerance:.2g} pt of the best: {bakeoff.cheapest_full} (full), "
                     f"{bakeoff.cheapest_curated} (curated)")
    return table


def savings_table(proxy: ProxyOutcome) -> Table | None:
    """Hours and money saved per training run, for the proxy and at the forecast's scale."""
    found = proxy.savings
    if found is None:
        return None
    table = Table(title=f"hours and money saved per training run ({found.currency})")
    table.add_column("")
    runs = [(label, money) for label, money in (("proxy run", found.per_proxy_run), ("target run", found.per_target_run))
            if money is not None]
    for label, _ in runs:
        table.add_column(label, justify="right", no_wrap=True)

    def text(value: float | None, fmt: str = ".3g") -> str:
        return "–" if value is None else format(value, fmt)

    for label, cell in (("kWh saved", lambda m: text(m.kwh_saved)),
                        ("kWh range", lambda m: f"{m.kwh_saved_range[0]:.2g}–{m.kwh_saved_range[1]:.2g}"
                         if m.kwh_saved_range else "–"),
                        ("CPU-hours", lambda m: text(m.cpu_hours_saved)), ("GPU-hours", lambda m: text(m.gpu_hours_saved)),
                        ("hours", lambda m: text(m.wall_hours_saved)), ("energy cost", lambda m: text(m.energy_cost_saved)),
                        ("compute cost", lambda m: text(m.compute_cost_saved)), ("total", lambda m: text(m.total_saved))):
        table.add_row(label, *(cell(money) for _, money in runs))
    table.caption_justify = "left"
    prices = found.prices
    table.caption = (f"prices: {prices['per_kwh']:g}/kWh, {prices['per_cpu_hour']:g}/CPU-hour, "
                     f"{prices['per_gpu_hour']:g}/GPU-hour" + (" (defaults: set energy.prices)" if found.default_prices else ""))
    if proxy.forecast is not None and proxy.forecast.description:
        table.caption += f"; target: {proxy.forecast.description}"
    return table


def regions_table(proxy: ProxyOutcome) -> Table | None:
    """gCO2eq of the same kWh on other grids (per target run when forecast, else per proxy fit)."""
    if not proxy.regions:
        return None
    target = proxy.forecast is not None and proxy.forecast.full_kwh is not None
    table = Table(title="the same kWh on other grids (CodeCarbon's offline data)")
    for column in ("grid", "g/kWh", "year", "gCO2eq / run", "saved / run"):
        table.add_column(column, justify="left" if column == "grid" else "right", no_wrap=column != "grid")
    for row in proxy.regions:
        run = row.gco2eq_per_target_run if target else row.gco2eq_per_proxy_fit
        saved = row.gco2eq_saved_per_target_run if target else row.gco2eq_saved_per_proxy_fit
        table.add_row(row.key + (" *" if row.this_run else ""), f"{row.gco2eq_per_kwh:.0f}", str(row.year or "–"),
                      f"{run:.3g}", f"{saved:.3g}")
    table.caption_justify = "left"
    table.caption = f"per {'target' if target else 'proxy'} training run; * this run's grid"
    return table


def print_summary(record: RunRecord, run_dir: Path) -> None:
    """The funnel, where the run is, the guard's verdict and the proof, from the run record."""
    console.print(funnel_table(record))
    console.print(f"run directory: [bold]{run_dir}[/]")
    if record.stopped:
        console.print(f"[bold yellow]stopped early:[/] {record.stopped} (outputs so far are in the run directory)")
    guard = record.guard
    if guard is not None:
        colour = {"holds": "green", "backed off": "yellow"}.get(guard.verdict, "bold yellow")
        console.print(f"[{colour}]guard: {guard.verdict}[/]: {guard.reason}", highlight=False)
        for restored in guard.restored:
            console.print(f"  restored {restored.rows:,} rows of '{restored.stage}': {restored.reason}", highlight=False)
    if record.proxy is not None and record.proxy.arms():
        line = power_line(record)
        if line:
            console.print(line, highlight=False)
        console.print(proxy_table(record.proxy))
        for table in (bakeoff_table(record.proxy), savings_table(record.proxy), regions_table(record.proxy)):
            if table is not None:
                console.print(table)


@app.command()
def run(pipeline: Path = typer.Argument(..., help="Pipeline YAML file."),
        open_report: bool = typer.Option(False, "--open", help="Open report.html when done.")) -> None:
    """Run a pipeline and write its run directory."""
    from curate.api import run as run_pipeline

    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console, transient=False) as progress:
            result = run_pipeline(pipeline, observer=ProgressObserver(progress))
    except Exception as exc:  # noqa: BLE001 - fail decides how to show it
        fail(exc)
    print_summary(result.report, result.run_dir)
    if open_report:
        import webbrowser

        webbrowser.open((result.run_dir / "report.html").resolve().as_uri())


@app.command()
def validate(pipeline: Path = typer.Argument(..., help="Pipeline YAML file.")) -> None:
    """Check a pipeline file and report every problem with its YAML path."""
    from curate.config import load_config
    from curate.io.readers import input_format

    try:
        config = load_config(pipeline)
        inputs = [config.input, *([config.proxy_train.test.input] if config.proxy_train is not None else [])]
        for given in inputs:
            if given is not None and given.path is not None:
                input_format(given)
    except Exception as exc:  # noqa: BLE001
        fail(exc)
    console.print(f"[green]ok[/]: {pipeline} ({len(config.stages)} stages: {', '.join(s.type for s in config.stages)})")


@app.command()
def stages() -> None:
    """List the registered stages with their parameters, defaults and descriptions."""
    from curate.docs import stage_parameters
    from curate.registry import get_stage, stage_names

    for name in stage_names():
        stage = get_stage(name)
        summary = " ".join((stage.Config.__doc__ or "").split())
        console.print(f"\n[bold]{name}[/] ({stage.kind}): {summary}", highlight=False)
        for parameter, kind, default, description in stage_parameters(stage.Config):
            default = "{...}" if default == "see below" else default
            console.print(f"  [cyan]{parameter}[/] = {default}  [dim]{kind}[/]", highlight=False, markup=True)
            if description:
                console.print(f"      {description}", highlight=False, markup=False)
    console.print("\nEvery parameter in full: docs/pipeline.md")


@app.command()
def explain(run_dir: Path = typer.Argument(..., help="A run directory."),
            row_id: str = typer.Argument(..., help="The id of a row.")) -> None:
    """Say why a row was removed, and show the row it duplicated."""
    from curate.explain import explain_row

    try:
        info = explain_row(run_dir, row_id)
    except Exception as exc:  # noqa: BLE001
        fail(exc)
    console.print_json(json.dumps(info, default=str, ensure_ascii=False))


@app.command()
def report(run_dir: Path = typer.Argument(..., help="A run directory."),  # noqa: B008 - typer idiom
           open_report: bool = typer.Option(False, "--open", help="Open report.html when written.")) -> None:
    """Rebuild report.html from a run directory's report.json alone, and print the run's summary."""
    from curate.audit.html import write_page
    from curate.record import read_record

    try:
        record = read_record(run_dir)
        page = write_page(record, run_dir)
    except Exception as exc:  # noqa: BLE001
        fail(exc)
    print_summary(record, run_dir)
    console.print(f"wrote [bold]{page}[/]")
    if open_report:
        import webbrowser

        webbrowser.open(page.resolve().as_uri())


@app.command("docs", hidden=True)
def docs() -> None:
    """Regenerate docs/pipeline.md and docs/report.schema.json from the pydantic models (for developers)."""
    from curate.docs import write_docs

    console.print(f"wrote {' and '.join(str(path) for path in write_docs())}", highlight=False)


def entrypoint(args: list[str] | None = None) -> None:
    """Console-script entry point; ``args`` default to the command line. The process exits after it."""
    try:
        app(args)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    finally:
        # The interpreter's final collections would walk every object left (hundreds of thousands after
        # a MinHash run, numba's compiler state among them): 0.3 s of a 2.5 s run, for memory the exit frees.
        gc.freeze()

