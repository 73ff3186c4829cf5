"""curate.audit: run views render HTML from the run's files, and sweeps agree with brute force."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from curate import audit
from curate.errors import InputError
from curate.record import read_record


@pytest.fixture(scope="module")
def run(scored_run):
    return audit.load(scored_run)


def test_every_view_renders_html(run):
    expected = {"funnel": (run.funnel(), "<svg"), "removed": (run.removed(), "<table>"),
                "clusters": (run.clusters(), 'class="cluster"'), "scores": (run.scores("q_words"), 'class="threshold"'),
                "energy": (run.energy(), "no proxy training"), "sweep": (run.sweep("q_words"), "<polyline")}
    for name, (view, marker) in expected.items():
        page = view._repr_html_()
        assert page.startswith('<div class="curate-audit">') and marker in page, name
    assert "<svg" in run._repr_html_()


def test_funnel_view_is_the_record_funnel(run):
    data = run.funnel().data
    record = read_record(run.run_dir.root)
    assert run.report == record
    assert data["rows_out"].to_list() == [r.rows_out for r in record.funnel]
    assert data["stage"].to_list() == ["input", "exact_dedup", "test_word_count"]


def test_removed_filters_by_reason_and_joins_texts(run):
    view = run.removed(reason="words", n=500)
    ledger = run.ledger.filter(pl.col("reason") == "words")
    assert view.data.height == ledger.height
    assert set(view.data["reason"]) == {"words"}
    assert (view.data["text"].str.count_matches(r"\S+") < 4).all()
    assert view.data["score"].to_list() == view.data["text"].str.count_matches(r"\S+").cast(pl.Float64).to_list()
    assert run.removed(reason="no_such_reason").data.height == 0


def test_clusters_pair_kept_rows_with_their_removed_copies(run):
    view = run.clusters(stage="exact_dedup", top=3)
    clusters = view.data
    assert clusters.height == 3
    assert clusters["size"].to_list() == sorted(clusters["size"].to_list(), reverse=True)
    dups = run.ledger.filter(pl.col("stage") == "exact_dedup")
    expected = dups.group_by("duplicate_of").len().sort("len", descending=True)["len"].head(3) + 1
    assert clusters["size"].to_list() == expected.to_list()
    input_ids = set(pl.read_parquet(run.run_dir.input)["id"])
    assert set(clusters["kept_id"]) <= input_ids
    assert not set(clusters["kept_id"]) & set(run.ledger.filter(pl.col("stage") == "exact_dedup")["id"])


def test_scores_histogram_covers_every_row_the_stage_saw(run):
    hist = run.scores("q_words").data
    assert sum(hist.kept) + sum(hist.removed) == run.report.stage("test_word_count").rows_in
    assert [(t.value, t.removes) for t in hist.thresholds] == [(4.0, "below")]
    edges = np.array(hist.edges)
    removed_bins = np.flatnonzero(np.array(hist.removed))
    assert edges[removed_bins.max()] < 4.0
    other = run.scores("q_words", threshold=8, side="above").data
    assert [(t.value, t.removes) for t in other.thresholds] == [(8, "above")]
    with pytest.raises(InputError, match="no score column"):
        run.scores("q_nothing")


def test_score_sweep_counts_match_brute_force(run):
    thresholds = [0, 1, 2.5, 4, 7, 13]
    table = run.sweep("q_words", thresholds=thresholds).data
    kept = pl.read_parquet(run.run_dir.stages / "02-test_word_count.parquet")["q_words"].to_numpy()
    removed = run.ledger.filter(pl.col("reason") == "words")["score"].to_numpy()
    values = np.concatenate([kept, removed])
    assert table["removed"].to_list() == [int((values < t).sum()) for t in thresholds]
    at_run = table.filter(pl.col("threshold") == 4)["removed"].item()
    assert at_run == len(removed)


def test_similarity_sweep_from_ledger_only_answers_above_the_run(run):
    table, info = audit.similarity_sweep(run.run_dir.root, "exact_dedup", thresholds=[0.5, 0.99, 1.0])
    assert info["source"] == "ledger"
    dups = run.ledger.filter(pl.col("stage") == "exact_dedup").height
    assert table["removed"].to_list() == [None, None, dups]


def test_similarity_sweep_reads_only_the_artefact_the_stage_declared(tmp_path):
    """SemDeDup declares its neighbours file with its threshold; without that file the sweep falls back to
    the ledger, and a similarity file the stage did not declare is never guessed at."""
    import shutil

    import curate

    vectors = np.random.default_rng(0).normal(size=(40, 8))
    vectors[20:] = vectors[:20] + 0.05 * np.random.default_rng(1).normal(size=(20, 8))
    frame = pl.DataFrame({"id": [f"r{i}" for i in range(40)], "text": [f"t{i}" for i in range(40)],
                          "vec": vectors.tolist()})
    stage = {"type": "semantic_dedup", "embed": {"embedder": "column", "column": "vec"}, "n_clusters": 2, "eps": 0.02}
    result = curate.run({"name": "sem", "stages": [stage], "output": {"dir": str(tmp_path / "runs")}}, data=frame)
    (cut,) = result.report.stage("semantic_dedup").thresholds
    assert (cut.column, cut.artifact, cut.removes) == ("nearest_similarity", "semantic_neighbours.parquet", "at_or_above")
    assert result.report.stage("semantic_dedup").artifacts == ["artifacts/01-semantic_dedup/semantic_neighbours.parquet"]
    table, info = audit.similarity_sweep(result.run_dir, "semantic_dedup", thresholds=[0.5, cut.value])
    assert info["source"] == "artifact" and info["run_threshold"] == cut.value
    assert table["removed"].to_list()[1] == result.removed.height
    copy = tmp_path / "copy"
    shutil.copytree(result.run_dir, copy)
    folder = copy / "artifacts" / "01-semantic_dedup"
    (folder / "semantic_neighbours.parquet").rename(folder / "similarity.parquet")
    table, info = audit.similarity_sweep(copy, "semantic_dedup", thresholds=[0.5, cut.value])
    assert info["source"] == "ledger" and table["removed"].to_list() == [None, result.removed.height]


def test_unknown_stage_and_non_run_folder(run, tmp_path):
    with pytest.raises(InputError, match="not in run"):
        run.sweep("no_stage")
    with pytest.raises(InputError, match="not a finished run directory"):
        audit.load(tmp_path)


def test_sweep_targets_skip_exact_dedup(run):
    assert run.sweep_targets() == ["q_words"]
    assert run.score_columns() == ["q_words"]
