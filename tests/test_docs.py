"""docs/pipeline.md is generated from the models and must be up to date."""

from curate.docs import DOC_PATH, render


def test_pipeline_reference_is_up_to_date():
    assert DOC_PATH.exists(), "run `python -m curate.docs`"
    assert DOC_PATH.read_text(encoding="utf-8") == render(), "docs/pipeline.md is stale: run `python -m curate.docs`"
