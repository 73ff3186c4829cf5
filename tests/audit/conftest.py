"""Small real runs (one with a quality score column, one with proxy training via the CLI) and headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
import pytest
from pydantic import Field

from curate import registry
from curate.schema import ID, TEXT, make_ledger
from curate.stages.base import RunContext, Stage, StageConfig, StageResult, Threshold

VOCAB = [f"w{i}" for i in range(60)]


class WordCountConfig(StageConfig):
    """Test stage: drop texts with fewer than ``min_words`` words."""

    type: Literal["test_word_count"] = "test_word_count"
    min_words: int = Field(4, ge=0)


class WordCount(Stage):
    """Scores each row with ``q_words`` (its word count); the ledger reason is ``words``."""

    kind = "map"
    Config = WordCountConfig
    name = "test_word_count"

    def thresholds(self, stats: dict | None = None) -> list[Threshold]:
        return [Threshold(column="q_words", value=self.config.min_words, removes="below", reason="words")]

    def apply(self, df: pl.DataFrame, ctx: RunContext) -> StageResult:
        scored = df.with_columns(q_words=pl.col(TEXT).str.count_matches(r"\S+").cast(pl.Float64))
        short = scored["q_words"] < self.config.min_words
        gone = scored.filter(short)
        return StageResult(kept=scored.filter(~short), stats={"min_words": self.config.min_words},
                           removed=make_ledger(gone[ID], self.label, "words", gone["q_words"]))


def corpus(rows: int = 240, seed: int = 0) -> pl.DataFrame:
    """Texts of 1-12 words, with exact (and case-changed) copies, and a 3-class label."""
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(VOCAB, rng.integers(1, 13))) for _ in range(rows)]
    for i in range(0, 60, 3):
        texts[rows - 1 - i] = texts[i] if i % 2 else texts[i].upper()
    texts[rows - 70:rows - 64] = [texts[5]] * 6
    return pl.DataFrame({"id": [f"r{i:04d}" for i in range(rows)], "text": texts,
                         "label": rng.integers(0, 3, rows)})


def scored_pipeline(out: Path, name: str = "scored") -> dict:
    return {"name": name, "seed": 0, "input": {"text": "text", "id": "id", "label": "label"},
            "stages": [{"type": "exact_dedup", "normalize": {"lowercase": True}},
                       {"type": "test_word_count", "min_words": 4}],
            "output": {"dir": str(out)}}


@pytest.fixture(scope="session")
def scored_run(tmp_path_factory) -> Path:
    """A finished run: exact_dedup, then a word-count quality stage with a q_words column."""
    import curate

    out = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        registry._discover()
        patch.setitem(registry._STAGES, "test_word_count", WordCount)
        result = curate.run(scored_pipeline(out), data=corpus())
    return result.run_dir


TOPICS = {
    "sport": "match goal team score league coach player season win cup referee stadium".split(),
    "tech": "software chip phone internet computer data code startup cloud robot laptop app".split(),
    "money": "market stock bank price profit shares trade economy rates oil investor fund".split(),
}
FILLER = "the a of today new report says after big first this week".split()


def labelled_corpus(rows: int = 600, seed: int = 0) -> pl.DataFrame:
    """Topic texts with a label (learnable), exact copies, and short texts a word-count rule removes."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(list(TOPICS), rows)
    texts = []
    for i, label in enumerate(labels):
        short = 2 if i % 24 == 0 else 3 if i % 12 == 0 else 0  # heuristic_filter removes 2 words, word_count 3
        words = list(rng.choice(TOPICS[label], short)) if short else \
            [*rng.choice(TOPICS[label], int(rng.integers(5, 10))), *rng.choice(FILLER, 3), str(rng.integers(1_000_000))]
        rng.shuffle(words)
        texts.append(" ".join(words))
    for i in range(0, 60, 2):
        texts[rows - 1 - i], labels[rows - 1 - i] = texts[i], labels[i]
    return pl.DataFrame({"id": [f"r{i:04d}" for i in range(rows)], "text": texts, "label": labels})


PROXY_PIPELINE = """
name: proof
seed: 0
input: {{path: {data}, text: text, id: id, label: label}}
stages:
  - {{type: exact_dedup}}
  - {{type: heuristic_filter, preset: short_text}}
  - {{type: test_word_count, min_words: 4}}
  - {{type: active_select, budget: auto, features: {{source: tfidf}}, seed_size: 20, batch_size: 20}}
energy: {{measure_power_secs: 0.1, country_iso_code: DEU, regions: [FRA, POL, "gcp:europe-north1"]}}
proxy_train: {{models: [tfidf, svm, nb], seeds: 2, min_fit_seconds: 0.3, bootstrap: 200, target: encoder-110m-3ep-1gpu}}
output: {{dir: {out}}}
"""


@pytest.fixture(scope="session")
def proxy_run(tmp_path_factory) -> tuple[Path, str]:
    """A finished run with proxy training, the guard and an auto budget, run by `curate run`: (run_dir, terminal output)."""
    from typer.testing import CliRunner

    from curate.cli import app

    pytest.importorskip("sklearn")
    pytest.importorskip("codecarbon")
    folder = tmp_path_factory.mktemp("proof")
    labelled_corpus().write_ndjson(folder / "rows.jsonl")
    (folder / "proof.yaml").write_text(PROXY_PIPELINE.format(data=folder / "rows.jsonl", out=folder / "runs"))
    with pytest.MonkeyPatch.context() as patch:
        registry._discover()
        patch.setitem(registry._STAGES, "test_word_count", WordCount)
        result = CliRunner().invoke(app, ["run", str(folder / "proof.yaml")], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    return folder / "runs" / "proof", result.output


def chromium_path() -> str | None:
    """Debian's Chromium (scripts/install-chromium.sh installs it), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]


@pytest.fixture
def render():
    """``render(page, screenshot)``: load a page in headless Chromium, return its console messages."""
    binary = chromium_path()
    if binary is None:
        pytest.skip("chromium not installed (scripts/install-chromium.sh installs Debian's package)")
    return lambda page, screenshot, size="1200,1400": _render(binary, page, screenshot, size)


def _render(binary: str, page: Path, screenshot: Path, size: str = "1200,1400") -> list[str]:
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
                               f"--screenshot={screenshot}", page.resolve().as_uri()],
                              capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": profile})
    assert screenshot.exists(), proc.stderr[-2000:]
    return [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
