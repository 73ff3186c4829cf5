"""The shipped pipelines: each validates, the demo is the recommended recipe on the tweets, and the
recipe holds (or says it cannot) on a labelled corpus with only its input changed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import curate
from curate.config import load_config

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"


@pytest.mark.parametrize("path", sorted(PIPELINES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_pipeline_validates(path):
    assert load_config(path).stages


def test_the_demo_runs_the_recipe_on_the_tweets():
    recipe, demo = (load_config(PIPELINES / name) for name in ("text_classification.yaml", "demo.yaml"))
    assert [s.model_dump() for s in demo.stages] == [s.model_dump() for s in recipe.stages]
    assert demo.guard == recipe.guard and demo.proxy_train.model == recipe.proxy_train.model
    assert demo.input.dataset == "tweets"


def test_the_recipe_reads_text_and_label_columns_and_guards_its_budget():
    recipe = load_config(PIPELINES / "text_classification.yaml")
    assert (recipe.input.text, recipe.input.label) == ("text", "label")
    assert recipe.guard.enabled in ("auto", True) and recipe.proxy_train is not None
    assert any(stage.uses_validation() for stage in recipe.stages)


@pytest.mark.slow
def test_the_recipe_with_only_its_input_changed_holds_or_says_so(shared_data, tmp_path):
    """SMS Spam through the recipe: within one point of the full pool and above random, or the
    guard's explicit "no safe reduction found"."""
    import polars as pl

    data = tmp_path / "sms.csv"
    pl.read_csv(shared_data / "sms_spam" / "SMSSpamCollection.tsv", separator="\t", has_header=False,
                new_columns=["label", "text"], quote_char=None).select("text", "label").write_csv(data)
    raw = yaml.safe_load((PIPELINES / "text_classification.yaml").read_text())
    raw["input"]["path"] = str(data)
    raw["output"] = {"dir": str(tmp_path / "runs")}
    record = curate.run(raw).report
    proxy, guard = record.proxy, record.guard
    assert guard is not None and proxy is not None
    if guard.verdict == "no safe reduction found":
        assert proxy.curated.rows == proxy.full.rows
    else:
        assert proxy.macro_f1_delta >= -0.01 and proxy.beats_random
