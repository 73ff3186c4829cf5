"""The AG News proxy pipeline on the real data: the crowd-label reference point is reproduced."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import curate

pytest.importorskip("sklearn")
pytest.importorskip("codecarbon")

PIPELINE = Path(__file__).resolve().parents[2] / "pipelines" / "ag_news_proxy.yaml"


@pytest.mark.slow
def test_ag_news_proxy_pipeline(shared_data, tmp_path):
    raw = yaml.safe_load(PIPELINE.read_text())
    raw["input"]["path"] = str(shared_data / "noisy_ag_news" / "samples10000valMed.csv")
    raw["proxy_train"]["test"]["input"]["path"] = str(shared_data / "noisy_ag_news" / "samplesTest.csv")
    raw["proxy_train"] |= {"seeds": 1, "min_fit_seconds": 0.0, "bootstrap": 200}
    raw["output"] = {"dir": str(tmp_path)}
    report = curate.run(raw).report
    proxy = report.proxy
    # the guard's validation split (15%, stratified) comes out of the pool before the first stage
    assert report.splits.validation.rows == 1_500
    assert proxy.full.rows == 10_000 - 1_500
    assert proxy.test.rows_used + proxy.test.decontaminated == 7_600
    # the data README's reference: TF-IDF + logistic regression on (all 10k) crowd labels, 0.798 accuracy
    assert proxy.full.accuracy.mean == pytest.approx(0.798, abs=0.015)
    assert proxy.curated.rows == proxy.random.rows <= 10_000
    assert proxy.energy_method in {"measured", "estimated"}
