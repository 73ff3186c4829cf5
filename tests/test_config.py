"""Pipeline validation: every error with its YAML path, 'did you mean' for unknown names."""

from __future__ import annotations

import pytest

from curate.config import PipelineConfig, load_config, validate_config
from curate.errors import ConfigError
from curate.stages.exact_dedup import ExactDedupConfig


def test_valid_pipeline_round_trips():
    config = validate_config({"name": "x", "input": {"path": "data.jsonl"}, "stages": [{"type": "exact_dedup", "keep": "longest"}]})
    assert isinstance(config.stages[0], ExactDedupConfig)
    assert config.stages[0].keep == "longest"
    assert validate_config(config.model_dump(mode="json")) == config


def test_every_error_is_reported_with_its_path():
    with pytest.raises(ConfigError) as info:
        validate_config({
            "input": {"path": "d.jsonl", "on_bad_rows": "ignore"},
            "stages": [{"type": "exact_dedup"}, {"type": "exact_dedup", "hash_bits": 32}, {"type": "exact_dedup", "keep": "max"}],
            "seed": -1,
        })
    issues = info.value.issues
    assert any(i.startswith("input.on_bad_rows:") for i in issues)
    assert any(i.startswith("stages[1].hash_bits:") for i in issues)
    assert any(i.startswith("stages[2]:") and "keep_column" in i for i in issues)
    assert any(i.startswith("seed:") and "greater than or equal to 0" in i for i in issues)
    assert len(issues) == 4


def test_unknown_stage_and_key_get_did_you_mean():
    with pytest.raises(ConfigError) as info:
        validate_config({"input": {"path": "d.jsonl", "txt": "body"}, "stages": [{"type": "exact_dedupe"}, {"type": "exact_dedup", "keeep": "first"}]})
    issues = "\n".join(info.value.issues)
    assert "stages[0].type: unknown stage type 'exact_dedupe'; did you mean 'exact_dedup'?" in issues
    assert "stages[1].keeep: unknown key; did you mean 'keep'?" in issues
    assert "input.txt: unknown key; did you mean 'text'?" in issues


def test_stage_without_type_and_missing_input_key():
    with pytest.raises(ConfigError) as info:
        validate_config({"input": {"path": "a", "dataset": "tweets"}, "stages": [{"keep": "first"}]})
    issues = "\n".join(info.value.issues)
    assert "stages[0]: each stage needs a 'type'" in issues
    assert "input: set only one of input.path, input.dataset" in issues


def test_yaml_file_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: {path: x\nstages: [")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(scalar)


def test_python_models_without_yaml():
    config = PipelineConfig(input={"path": "d.csv"}, stages=[ExactDedupConfig(keep="longest"), {"type": "exact_dedup"}])
    assert [s.type for s in config.stages] == ["exact_dedup", "exact_dedup"]
    assert config.run_dir.name == "run"
    assert config.fingerprint() == PipelineConfig(input={"path": "d.csv"}, stages=[ExactDedupConfig(keep="longest"), ExactDedupConfig()]).fingerprint()


def test_unknown_encoding_is_rejected():
    with pytest.raises(ConfigError, match="unknown encoding 'latin-9000'"):
        validate_config({"input": {"path": "a.csv", "encoding": "latin-9000"}})


def test_duplicate_yaml_keys_are_rejected(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: a\nseed: 1\nstages:\n  - type: exact_dedup\n    hash_bits: 64\n    hash_bits: 128\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "at line 6, column 5: duplicate key 'hash_bits' (first given at line 5)" in str(info.value)
    path.write_text("name: a\nseed: 1\nseed: 2\n")
    with pytest.raises(ConfigError, match="duplicate key 'seed'"):
        load_config(path)
    merged = tmp_path / "merged.yaml"  # YAML merge keys are not duplicates: the explicit key wins
    merged.write_text("base: &b {type: exact_dedup, hash_bits: 64}\nstages:\n  - <<: *b\n    hash_bits: 128\n")
    with pytest.raises(ConfigError, match="base: unknown key"):  # validated, not rejected by the loader
        load_config(merged)


def test_unreadable_pipeline_file_is_a_config_error(tmp_path):
    path = tmp_path / "latin.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="cannot be read: not UTF-8 text"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path)  # a folder


def test_yaml_runs_no_code_and_survives_an_anchor_bomb(tmp_path):
    marker = tmp_path / "pwned"
    tagged = tmp_path / "tagged.yaml"
    tagged.write_text(f'name: x\nstages: !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(ConfigError, match="could not determine a constructor"):
        load_config(tagged)
    assert not marker.exists()
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    bomb = tmp_path / "bomb.yaml"  # 9**9 strings if expanded; YAML aliases share them instead
    bomb.write_text("\n".join(levels) + "\nname: bomb\nstages: [{type: filter, expr: *i}]\n")
    with pytest.raises(ConfigError) as info:
        load_config(bomb)
    assert "i: unknown key" in str(info.value) and "stages[0].expr: Input should be a valid string" in str(info.value)


def test_a_pipeline_imports_only_the_stage_modules_it_names():
    """A run of one MinHash stage does not pay for importing the embedding or active-learning stages;
    an unknown name still finds every built-in stage for its 'did you mean'."""
    import subprocess
    import sys

    code = ("import sys; from curate.config import validate_config; "
            "validate_config({'input': {'path': 'd.parquet'}, 'stages': [{'type': 'minhash_dedup'}]}); "
            "print(sorted(m for m in sys.modules if m.startswith('curate.stages.')))\n"
            "try: validate_config({'input': {'path': 'd.parquet'}, 'stages': [{'type': 'semantic_dedupp'}]})\n"
            "except Exception as exc: print(exc.issues)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "['curate.stages.base', 'curate.stages.exact_dedup', 'curate.stages.minhash_dedup']"
    assert "unknown stage type 'semantic_dedupp'; did you mean 'semantic_dedup'?" in out[1]
