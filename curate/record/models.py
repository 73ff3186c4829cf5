"""The run record: report.json as pydantic models, written once by the engine and read back by every reader.

The engine and the proxy produce these models; the HTML page, the CLI tables, ``curate explain``
and the audit kit read report.json back into them (:func:`curate.record.read_record`). A
reader never looks a key up by guessing: a figure is where its model says it is. The JSON
Schema generated from :class:`RunRecord` is docs/report.schema.json.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, PrivateAttr

from curate.energy import EnergyReading, EnergySource
from curate.energy.power import CpuPower, GpuPower
from curate.stages.base import Threshold

SCHEMA_VERSION = 2
"""Version 1 is report.json as curate wrote it before the typed record (no ``schema_version`` key)."""

Method = Literal["measured", "estimated"]
Verdict = Literal["holds", "backed off", "no safe reduction found"]


class Model(BaseModel):
    """Base of every record model: unknown keys are an error, values are not changed after reading."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the guard and `budget: auto` ---------------------------------------------------------------


class Fit(Model):
    """One judged training set: its size, validation scores and the cost of the fit.

    The fit's validation predictions ride along in memory (for paired comparisons) and are
    not part of the record.
    """

    rows: int
    macro_f1: float
    accuracy: float
    seconds: float
    cpu_seconds: float
    kwh: float | None
    _predictions: Any = PrivateAttr(None)

    @property
    def predictions(self) -> Any:
        """The fit's predictions on the validation split (in memory only; ``None`` once read back)."""
        return self._predictions

    def with_predictions(self, predictions: Any) -> Fit:
        """This fit, carrying its validation predictions."""
        self._predictions = predictions
        return self


class StageVerdict(Model):
    """The guard's judgement of one stage (``restored`` when its removals were undone)."""

    stage: str
    removed: int
    removed_share: float
    macro_f1_before: float
    macro_f1_after: float
    delta: float
    random_macro_f1: float | None
    restored: bool
    reason: str | None
    energy: EnergyReading | None = Field(None, description="What judging the stage cost (curation energy).")


class FinalCheck(Model):
    """One judgement of the compound: the curated rows against the pool and a random subset."""

    rows: int
    macro_f1: float
    random_macro_f1: float
    holds: bool
    restored_stage: str | None = None


class Restored(Model):
    """Removals of one stage the guard gave back (the rows are in restored.parquet)."""

    stage: str
    rows: int
    reason: str
    at: Literal["stage", "final"]


class GuardRecord(Model):
    """What the guard did: verdict, reference score, each stage's effect, final checks and restorations."""

    verdict: Verdict
    reason: str
    tolerance: float
    model: str
    validation_rows: int
    reference: Fit
    stages: list[StageVerdict]
    final_checks: list[FinalCheck]
    restored: list[Restored]
    energy: EnergyReading | None


class CurvePoint(Model):
    """One judged prefix: its size, validation macro-F1, cost, and the random comparison when made."""

    fraction: float
    rows: int
    macro_f1: float
    accuracy: float
    kwh_per_fit: float | None
    seconds_per_fit: float
    lower_vs_pool: float = Field(description="One-sided lower confidence bound of (prefix - whole pool) validation macro-F1.")
    random_macro_f1: float | None
    lower_vs_random: float | None = Field(description="One-sided lower confidence bound of (prefix - random) validation macro-F1, when compared.")
    accepted: bool


class AutoBudget(Model):
    """A ``budget: auto`` stage's choice, why, and its learning curve on the validation split."""

    chosen_rows: int
    chosen_fraction: float
    reason: str
    reference_macro_f1: float
    tolerance: float
    confidence: float
    validation_rows: int
    model: str
    curve: list[CurvePoint]


# --- the funnel ---------------------------------------------------------------------------------


class LineAccount(Model):
    """Where every physical line of a text input went; the parts add up to ``lines``."""

    lines: int
    header_lines: int
    blank_lines: int
    rows: int
    row_lines: int
    quarantined_lines: int
    multiline_records: int
    multiline_examples: list[list[int]] = Field(description="(first line, last line) of some records that span lines.")


class InputSummary(Model):
    """What was read."""

    source: str
    text: str = Field("text", description="The text column every stage curated, or the template (over columns) that rendered it.")
    rows: int
    quarantined: int
    empty_text: int
    lines: LineAccount | None = Field(None, description="Line accounting of a CSV/JSONL input (absent for Parquet and frames).")


class FunnelRow(Model):
    """One step of the funnel: the input, or a stage with its time, energy and declarations.

    ``kept_pct`` is of the pool (the rows curation could keep). ``stats`` holds the stage's own
    numbers (each stage's keys); the guard's verdict and an auto budget have typed fields.
    """

    stage: str
    type: str
    index: int = Field(description="0 for the input, then the stage's position (1-based).")
    rows_in: int
    rows_out: int
    removed: int
    kept_pct: float
    test_rows: int | None = None
    validation_rows: int | None = None
    restored_by_guard: int | None = None
    seconds: float | None = None
    cpu_seconds: float | None = None
    resumed: bool | None = None
    energy: EnergyReading | None = None
    guard: StageVerdict | None = None
    auto_budget: AutoBudget | None = None
    thresholds: list[Threshold] = Field(default_factory=list)
    artifacts: list[str] = Field(default_factory=list, description="Files the stage cached, relative to the run directory.")
    stats: dict[str, JsonValue] = Field(default_factory=dict)


class ReasonCount(Model):
    """Rows the ledger holds for one (stage, reason)."""

    stage: str
    reason: str
    rows: int


class Totals(Model):
    """The run in numbers; kept + removed + test + validation == input."""

    rows_in: int
    rows_kept: int
    rows_removed: int
    rows_test: int
    rows_validation: int
    kept_pct: float
    seconds: float
    curation_energy: EnergyReading | None = Field(description="Every stage's energy (checkpointed ones included) plus the guard's.")


class Split(Model):
    """One split of the input: its rows and what it was used for."""

    rows: int
    used_for: str | None = None
    source: str | None = None


class Splits(Model):
    """The three-way protocol: the pool curation sees, the test set and the validation split."""

    input: Split
    pool: Split
    test: Split | None = None
    validation: Split | None = None


# --- the proof: proxy training ------------------------------------------------------------------


class Spread(Model):
    """A figure over seeds: mean, sample standard deviation and each seed's value."""

    mean: float
    std: float
    per_seed: list[float]


class ArmEnergy(Model):
    """Energy of one fit of an arm (mean over seeds; each seed's fit repeated ``repetitions`` times)."""

    kwh_per_fit: float
    kwh_per_fit_std: float
    cpu_kwh_per_fit: float
    ram_kwh_per_fit: float
    gpu_kwh_per_fit: float
    gco2eq_per_fit: float
    wall_seconds_per_fit: float
    cpu_seconds_per_fit: float
    method: Method
    sources: dict[str, EnergySource]
    repetitions: list[int] = Field(description="Fits in the metered span of each seed.")
    kwh_per_fit_low: float | None = Field(None, description="kWh per fit with every estimated power figure at its low bound.")
    kwh_per_fit_high: float | None = Field(None, description="kWh per fit with every estimated power figure at its high bound.")


class EpochPrediction(Model):
    """Carbontracker-style: the energy of a fit's first epochs, times its epochs, against what the whole fit used."""

    seed: int
    from_epochs: int
    epochs: int
    predicted_kwh: float
    actual_kwh: float
    error_pct: float | None


class Epochs(Model):
    """How a model that trains in epochs trained on one arm: epochs run and to convergence, energy per epoch."""

    run: Spread = Field(description="Epochs run per seed (early stopping included).")
    to_convergence: Spread = Field(description="The best validation epoch per seed (its weights are kept).")
    kwh_per_epoch: float
    seconds_per_epoch: float
    predictions: list[EpochPrediction] = Field(default_factory=list)


class Arm(Model):
    """One arm of the proxy comparison: full, curated or random."""

    rows: int
    seeds: list[int]
    accuracy: Spread
    macro_f1: Spread
    energy: ArmEnergy
    training: list[dict[str, JsonValue]] | None = None
    epochs: Epochs | None = None


class ProxyTest(Model):
    """The test set the arms were scored on."""

    rows_used: int
    decontaminated: int
    removed_by_reason: dict[str, int]


class Forecast(Model):
    """The saving forecast for a full-scale training run (``proxy_train.target``)."""

    assumption: str
    samples_ratio: float
    preset: str | None = None
    description: str | None = None
    assumptions: list[str] = Field(default_factory=list, description="Every figure the forecast assumes, in words.")
    tokens_full: int | None = None
    tokens_curated: int | None = None
    full_flops: float | None = None
    curated_flops: float | None = None
    flops_saved: float | None = None
    gpu_hours_full: float | None = None
    gpu_hours_curated: float | None = None
    gpu_hours_saved: float | None = None
    hours_full: float | None = Field(None, description="Wall-clock hours of the target run on the full set.")
    hours_saved: float | None = Field(None, description="Wall-clock hours the curated set saves per target run.")
    full_kwh: float | None = None
    curated_kwh: float | None = None
    kwh_saved: float | None = None
    gco2eq_saved: float | None = None
    break_even_runs: float | None = None
    epochs_ratio: float | None = Field(None, description="The proxy's epochs to convergence, curated over full (mean over seeds): a cleaner set may converge sooner.")
    curated_kwh_with_epochs: float | None = Field(None, description="curated_kwh scaled by epochs_ratio: the saving if the target converges as the proxy did.")


class Money(Model):
    """Hours, energy and money one training run saves, at given prices."""

    kwh_saved: float
    kwh_saved_range: list[float] | None = None
    cpu_hours_saved: float | None = None
    gpu_hours_saved: float | None = None
    wall_hours_saved: float | None = None
    energy_cost_saved: float = Field(description="kwh_saved x the price per kWh (what you pay for electricity on premises).")
    energy_cost_saved_range: list[float] | None = None
    compute_cost_saved: float = Field(description="CPU- and GPU-hours saved x their prices (what you pay to rent them).")
    total_saved: float


class Savings(Model):
    """What curation saves per training run: for the proxy, and at the forecast's scale."""

    currency: str
    prices: dict[str, float]
    default_prices: bool = Field(description="Whether the prices are curate's defaults (set energy.prices to your own).")
    per_proxy_run: Money | None = None
    per_target_run: Money | None = None


class RegionRow(Model):
    """gCO2eq of the same kWh on another grid."""

    key: str
    name: str
    kind: str
    gco2eq_per_kwh: float
    year: int | None
    source: str
    this_run: bool = Field(False, description="The grid this run's figures used.")
    gco2eq_per_proxy_fit: float | None = None
    gco2eq_saved_per_proxy_fit: float | None = None
    gco2eq_per_target_run: float | None = None
    gco2eq_saved_per_target_run: float | None = None


class ParetoPoint(Model):
    """One (model, data) of the bake-off: energy per fit against test macro-F1."""

    model: str
    data: Literal["full", "curated"]
    kwh_per_fit: float
    macro_f1: float
    on_front: bool = Field(description="No other point is at least as cheap and at least as accurate (one of them strictly).")


class BakeoffModel(Model):
    """One model family of the bake-off, trained on the same arms."""

    model: str
    family: str
    full: Arm | None = None
    curated: Arm | None = None
    random: Arm | None = None


class Bakeoff(Model):
    """The architecture bake-off: every family on the same arms, the Pareto front, the cheapest good-enough model."""

    tolerance: float
    models: list[BakeoffModel]
    points: list[ParetoPoint]
    best_full: str | None = None
    best_curated: str | None = None
    cheapest_full: str | None = Field(None, description="The cheapest model (energy per fit) on the full data within `tolerance` macro-F1 of the best there.")
    cheapest_curated: str | None = Field(None, description="The same on the curated data.")
    reason: str = ""


class ProxyOutcome(Model):
    """The proof: the arms, the energy saved, the accuracy change with its interval, break-even.

    Headline figures are ``None`` when an arm has no fit (the budget stopped the run).
    """

    model: str
    seeds: int
    min_fit_seconds: float
    test: ProxyTest
    unlabelled_training_rows: int
    features_energy: EnergyReading | None
    curation_energy: EnergyReading | None
    stopped: str | None
    full: Arm | None = None
    curated: Arm | None = None
    random: Arm | None = None
    energy_saved_pct: float | None = None
    cpu_seconds_saved_pct: float | None = None
    macro_f1_delta: float | None = None
    macro_f1_delta_ci: list[float] | None = None
    accuracy_delta: float | None = None
    accuracy_delta_ci: list[float] | None = None
    beats_random: bool | None = None
    curated_minus_random_macro_f1: float | None = None
    curated_minus_random_ci: list[float] | None = None
    break_even_runs: float | None = None
    energy_method: Method | None = None
    confidence: float | None = None
    forecast: Forecast | None = None
    energy_saved_pct_range: list[float] | None = Field(None, description="energy_saved_pct with every estimated power figure at its low and at its high bound (min, max).")
    kwh_saved_per_fit: float | None = None
    kwh_saved_per_fit_range: list[float] | None = None
    savings: Savings | None = None
    regions: list[RegionRow] | None = None
    bakeoff: Bakeoff | None = None

    def arms(self) -> list[tuple[str, Arm]]:
        """``(name, arm)`` of the arms that have fits, in the order full, curated, random."""
        return [(name, arm) for name in ("full", "curated", "random") if (arm := getattr(self, name)) is not None]


class PowerRecord(Model):
    """The power figures the run's energy rests on: the CPU's (source and range), the GPU's, RAM's, and the grid."""

    cpu: CpuPower
    gpu: GpuPower
    ram: str
    grid: str


class BudgetUse(Model):
    """The carbon budget, what the run used of it, and why it stopped if it did."""

    kwh: float | None
    gco2eq: float | None
    used_kwh: float
    used_gco2eq: float
    method: Method
    exceeded: str | None


# --- the audit views ----------------------------------------------------------------------------


class Example(Model):
    """One removed row shown as an example of its (stage, reason)."""

    id: str
    text: str | None
    score: float | None
    duplicate_of: str | None
    detail: str | None


class SampleGroup(Model):
    """Examples of the rows one stage removed for one reason."""

    stage: str
    reason: str
    rows: int
    examples: list[Example]


class ClusterRow(Model):
    """A row of a duplicate cluster (the kept one has no similarity). A removed row names the row it
    matched (``duplicate_of``), which may be another removed row of the cluster."""

    id: str
    text: str | None
    similarity: float | None = None
    duplicate_of: str | None = None


class Cluster(Model):
    """A duplicate cluster: the kept row beside the rows removed as its copies."""

    stage: str
    cluster_id: int | None
    size: int
    max_similarity: float | None
    min_similarity: float | None
    kept: ClusterRow
    removed: list[ClusterRow]


class Histogram(Model):
    """A score column's values in equal-width bins, kept vs removed, with the stage's thresholds on it."""

    column: str
    stage: str | None
    edges: list[float]
    kept: list[int]
    removed: list[int]
    rows: int
    thresholds: list[Threshold] = Field(default_factory=list)


class Views(Model):
    """What the page shows of the rows themselves: removed examples, clusters, score histograms."""

    samples: list[SampleGroup] = Field(default_factory=list)
    clusters: list[Cluster] = Field(default_factory=list)
    scores: list[Histogram] = Field(default_factory=list)


# --- the run ------------------------------------------------------------------------------------


class RunRecord(Model):
    """Everything a run reports (report.json): funnel, totals, splits, guard, proxy, budget and views."""

    schema_version: Literal[2] = SCHEMA_VERSION
    name: str
    input: InputSummary
    funnel: list[FunnelRow]
    removed_by_reason: list[ReasonCount]
    totals: Totals
    splits: Splits | None = None
    guard: GuardRecord | None = None
    proxy: ProxyOutcome | None = None
    power: PowerRecord | None = None
    budget: BudgetUse | None = None
    stopped: str | None = None
    warnings: list[str] = Field(default_factory=list, description="What a stage warned about (e.g. a rule that would remove most of one language).")
    views: Views = Field(default_factory=Views)

    @property
    def stages(self) -> list[FunnelRow]:
        """The funnel's stage rows (the input row left out)."""
        return [row for row in self.funnel if row.index > 0]

    def stage(self, label: str) -> FunnelRow | None:
        """The funnel row of the stage named ``label``, or ``None``."""
        return next((row for row in self.stages if row.stage == label), None)
