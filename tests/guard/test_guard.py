"""The three-way protocol and the guard, on real pipeline runs over topic corpora."""

from __future__ import annotations

import hashlib

import polars as pl
import pytest

import curate
from curate.errors import ConfigError, InputError

from .conftest import topic_frame

pytest.importorskip("sklearn")

PROXY = {"model": "tfidf", "seeds": 1, "min_fit_seconds": 0.0, "bootstrap": 200}


def _config(tmp_path, stages, name="g", **extra) -> dict:
    return {"name": name, "input": {"label": "label", "id": "id"}, "stages": stages, "proxy_train": PROXY,
            "output": {"dir": str(tmp_path)}, **extra}


def _ids(frame: pl.DataFrame) -> list[str]:
    return frame["id"].to_list()


def _partition_holds(result, frame: pl.DataFrame) -> None:
    run_dir = result.run_dir
    set_aside = [pl.read_parquet(run_dir / name) for name in ("test.parquet", "validation.parquet")]
    out = _ids(result.curated) + _ids(result.removed) + [i for f in set_aside for i in _ids(f)]
    assert sorted(out) == sorted(_ids(frame))


def test_splits_are_made_before_curation_and_reported(tmp_path):
    frame = topic_frame(500, seed=1)
    result = curate.run(_config(tmp_path, [{"type": "exact_dedup"}]), data=frame)
    _partition_holds(result, frame)
    splits = result.report.splits
    test = pl.read_parquet(result.run_dir / "test.parquet")
    validation = pl.read_parquet(result.run_dir / "validation.parquet")
    assert splits.test.rows == test.height and splits.validation.rows == validation.height
    assert splits.pool.rows + test.height + validation.height == frame.height
    assert set(_ids(validation)).isdisjoint(_ids(test))
    # stratified: every class is in the validation split in about its share of the pool
    shares = validation["label"].value_counts(normalize=True).sort("label")["proportion"].to_list()
    assert all(abs(share - 1 / 3) < 0.08 for share in shares)
    # the proxy's arms all train on the same pool, which excludes both splits
    assert result.report.proxy.full.rows == splits.pool.rows
    assert splits.validation.used_for in (result.run_dir / "report.html").read_text()
    guard = result.report.guard
    assert guard.verdict == "holds" and guard.stages == []  # exact_dedup removed nothing: nothing to judge


def test_guard_restores_a_stage_that_costs_accuracy(tmp_path):
    frame = topic_frame(600, seed=2)
    stages = [{"type": "exact_dedup"}, {"type": "filter", "name": "drop_sport", "expr": "label != 'sport'"}]
    result = curate.run(_config(tmp_path, stages), data=frame)
    _partition_holds(result, frame)
    guard = result.report.guard
    verdict = next(s for s in guard.stages if s.stage == "drop_sport")
    assert verdict.restored and "below the whole pool's" in verdict.reason
    assert verdict.macro_f1_after < guard.reference.macro_f1 - guard.tolerance
    assert guard.verdict == "no safe reduction found"
    # every sport row of the pool is back in the curated set; the ledger has none of them
    pool_sport = (set(_ids(frame.filter(pl.col("label") == "sport")))
                  - set(_ids(pl.read_parquet(result.run_dir / "test.parquet")))
                  - set(_ids(pl.read_parquet(result.run_dir / "validation.parquet"))))
    assert pool_sport <= set(_ids(result.curated))
    assert not set(_ids(result.removed)) & pool_sport
    restored = pl.read_parquet(result.run_dir / "restored.parquet")
    assert set(_ids(restored)) == pool_sport
    assert restored["stage"].unique().to_list() == ["drop_sport"]
    assert restored["guard_reason"].str.contains("below the whole pool's").all()
    funnel = {row.stage: row for row in result.report.funnel}
    assert funnel["drop_sport"].removed == 0 and funnel["drop_sport"].restored_by_guard == len(pool_sport)
    assert funnel["drop_sport"].guard == verdict
    assert "restored: validation macro-F1" in (result.run_dir / "report.html").read_text()


def test_guard_restores_a_stage_that_does_worse_than_random(tmp_path):
    # ambiguous rows carry no signal about their label: keeping only them is worse than a random subset
    frame = topic_frame(800, ambiguous=0.5, seed=3)
    stages = [{"type": "filter", "name": "keep_ambiguous", "expr": "clear == False"}]
    config = _config(tmp_path, stages, guard={"tolerance": 0.9})  # only the random comparison can fail
    result = curate.run(config, data=frame)
    _partition_holds(result, frame)
    verdict = result.report.guard.stages[0]
    assert verdict.restored and "below a random subset" in verdict.reason
    assert verdict.random_macro_f1 > verdict.macro_f1_after


def test_final_check_backs_off_when_the_compound_is_below_random(tmp_path):
    # no per-stage check can fail (tolerance 1, random comparison off): the compound check must catch it
    frame = topic_frame(600, seed=4)
    stages = [{"type": "filter", "name": "drop_sport", "expr": "label != 'sport'"}, {"type": "exact_dedup"}]
    config = _config(tmp_path, stages, guard={"tolerance": 0.99, "random_check_share": 1.0})
    result = curate.run(config, data=frame)
    _partition_holds(result, frame)
    guard = result.report.guard
    assert not any(stage.restored for stage in guard.stages)
    first, last = guard.final_checks[0], guard.final_checks[-1]
    assert not first.holds and first.restored_stage == "drop_sport" and last.holds
    assert first.macro_f1 < first.random_macro_f1
    assert [r.at for r in guard.restored] == ["final"]
    assert guard.verdict in {"backed off", "no safe reduction found"}
    assert set(result.curated["label"].unique()) == {"sport", "tech", "money"}


def test_budget_auto_keeps_less_of_an_easy_corpus_than_of_a_hard_one(tmp_path):
    # the shipped selection defaults; both corpora have the same label noise (10%), which keeps the easy
    # one off its ceiling, where a random subset ties with any prefix and so nothing could be shown to
    # beat it (at 5% noise a random half already reaches the ceiling on the validation split)
    stage = {"type": "active_select", "budget": "auto", "features": {"source": "tfidf"}}
    chosen = {}
    for name, frame in (("easy", topic_frame(800, classes=3, own=4, other=2, noise=0.1, seed=5)),
                        ("hard", topic_frame(800, classes=5, own=3, other=2, noise=0.1, seed=5))):
        result = curate.run({"name": name, "input": {"label": "label", "id": "id"}, "stages": [stage],
                             "guard": {"enabled": True}, "output": {"dir": str(tmp_path)}}, data=frame)
        auto = result.report.funnel[1].auto_budget
        chosen[name] = auto.chosen_fraction
        accepted = [p for p in auto.curve if p.accepted]
        assert len(accepted) == 1 and accepted[0].rows == result.curated.height == auto.chosen_rows
        # accepted on confidence bounds, not point estimates
        assert accepted[0].lower_vs_pool >= -auto.tolerance and accepted[0].lower_vs_random > 0
        assert accepted[0].lower_vs_pool <= accepted[0].macro_f1 - auto.reference_macro_f1
        assert accepted[0].macro_f1 >= accepted[0].random_macro_f1
        # every smaller prefix was judged and rejected: the choice is the smallest
        assert all(not p.accepted for p in auto.curve[:-1]) and auto.curve[-1].accepted
        assert result.report.splits.validation.rows > 0 and result.report.splits.test is None
        html = (result.run_dir / "report.html").read_text()
        assert 'id="curve-1"' in html and "budget: auto in active_select" in html
    assert chosen["easy"] < chosen["hard"] < 1.0


def test_prototype_prune_auto_records_its_learning_curve(tmp_path):
    frame = topic_frame(500, seed=6)
    stages = [{"type": "prototype_prune", "keep_fraction": "auto", "embed": {"embedder": "static"}}]
    result = curate.run(_config(tmp_path, stages), data=frame)
    _partition_holds(result, frame)
    row = result.report.funnel[1]
    auto = row.auto_budget
    assert auto.curve and row.stats["keep_fraction"] == pytest.approx(auto.chosen_fraction, abs=1e-3)
    assert all(p.seconds_per_fit >= 0 and p.kwh_per_fit > 0 for p in auto.curve)  # metered: proxy_train
    assert result.curated.height == auto.chosen_rows


def test_budget_auto_needs_labels_and_the_guard(tmp_path):
    frame = topic_frame(200, seed=7)
    stage = {"type": "active_select", "budget": "auto", "oracle": "label", "features": {"source": "tfidf"}}
    with pytest.raises(ConfigError, match="guard.enabled is false"):
        curate.run({"stages": [stage], "guard": {"enabled": False}, "input": {"label": "label"},
                    "output": {"dir": str(tmp_path)}}, data=frame)
    with pytest.raises(InputError, match="needs labels"):
        curate.run({"stages": [stage], "output": {"dir": str(tmp_path)}}, data=frame.drop("label").rename({"clear": "x"}))
    # too few labelled rows to judge: said before any stage runs, not after the first stages' work
    small = topic_frame(60, seed=7).with_columns(label=pl.when(pl.col("id").str.ends_with("0")).then(None)
                                                 .otherwise(pl.col("label")))
    with pytest.raises(InputError, match=r"validation split has \d+ labelled rows, fewer than the 50"):
        curate.run({"name": "small", "stages": [{"type": "exact_dedup"}, stage], "input": {"label": "label"},
                    "output": {"dir": str(tmp_path)}}, data=small)
    assert not list((tmp_path / "small").glob("stages/01-*"))


def test_a_guarded_run_resumes_byte_identical(tmp_path):
    frame = topic_frame(600, seed=2)
    stages = [{"type": "exact_dedup"}, {"type": "filter", "name": "drop_sport", "expr": "label != 'sport'"},
              {"type": "active_select", "budget": "auto", "features": {"source": "tfidf"}, "seed_size": 20,
               "batch_size": 20}]
    config = _config(tmp_path, stages)
    first = curate.run(config, data=frame)
    digests = {name: hashlib.sha256((first.run_dir / name).read_bytes()).hexdigest()
               for name in ("curated.parquet", "removed.parquet", "restored.parquet", "validation.parquet")}
    again = curate.run(config, data=frame)
    assert all(row.resumed for row in again.report.stages)
    assert again.report.guard.stages == first.report.guard.stages
    for name, digest in digests.items():
        assert hashlib.sha256((again.run_dir / name).read_bytes()).hexdigest() == digest, name


def test_no_safe_reduction_when_no_prefix_beats_random(tmp_path):
    # labels carry no signal: no prefix is, with confidence, better than a random subset, so the
    # stage keeps every row and the run says so (exit 0, the pool kept)
    frame = topic_frame(1500, noise=2 / 3, seed=8)
    stages = [{"type": "active_select", "budget": "auto", "features": {"source": "tfidf"}, "seed_size": 20,
               "batch_size": 30}]
    result = curate.run(_config(tmp_path, stages), data=frame)
    _partition_holds(result, frame)
    auto = result.report.funnel[1].auto_budget
    assert auto.chosen_fraction == 1.0 and not any(p.accepted for p in auto.curve)
    assert result.report.guard.verdict == "no safe reduction found"
    assert result.report.proxy.curated.rows == result.report.proxy.full.rows
