"""Step 2, split: before the first stage, set the proxy's test set aside, then the guard's validation split.

Test rows never enter curation (they are split off the input, or read from their own file, and
marked where they duplicate a training row); the validation split is carved from what is left
(stratified, seeded), and the rest is the pool every stage and every proxy arm works on.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from curate.engine.steps import Run
from curate.engine.steps.read import Source, read_rows
from curate.errors import ConfigError, InputError
from curate.io.writers import write_parquet
from curate.schema import LABEL


@dataclass(frozen=True)
class Splits:
    """The pool the stages curate, the proxy's test set and the guard's validation split (either may be
    absent); ``test_from_input`` says whether the test rows were split off the input (so they count
    in the no-loss check) or read from a separate file."""

    pool: pl.DataFrame
    test: pl.DataFrame | None
    validation: pl.DataFrame | None
    test_from_input: bool

    @property
    def split_off(self) -> pl.DataFrame | None:
        """The test rows taken from the input (``None`` when there are none, or they came from a file)."""
        return self.test if self.test_from_input else None


def split(run: Run, source: Source) -> Splits:
    """The test set, then the validation split, both written to the run directory."""
    rows, test = split_test(run, source.rows)
    pool, validation = split_validation(run, rows)
    proxy = run.config.proxy_train
    return Splits(pool, test, validation, test is not None and proxy.test.input is None)


def split_test(run: Run, df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Set the proxy's test set aside (split off, or read) and write test.parquet."""
    proxy = run.config.proxy_train
    if proxy is None:
        run.run_dir.test.unlink(missing_ok=True)
        return df, None
    from curate.proxy import annotate_test, check_labels, stratified_split

    if proxy.test.input is None:
        df, test = stratified_split(df, proxy.test.split, run.config.seed)
    else:
        test = read_rows(run.config, proxy.test.input)
    check_labels(df, test)
    test = annotate_test(df, test, proxy.test)
    write_parquet(test, run.run_dir.test)
    run.observer.message(f"proxy test set: {test.height:,} rows set aside "
                         f"({test['contamination'].is_not_null().sum():,} duplicates of training rows)")
    return df, test


def split_validation(run: Run, df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """Carve the guard's validation split (stratified, seeded) from the pool and write validation.parquet."""
    if not validation_wanted(run.config, df):
        run.run_dir.validation.unlink(missing_ok=True)
        return df, None
    from curate.proxy import stratified_split

    guard = run.config.guard
    labelled = df[LABEL].is_not_null().sum()
    fraction = min(guard.validation, guard.max_validation_rows / max(labelled, 1))
    pool, validation = stratified_split(df, fraction, run.config.seed + 1)
    write_parquet(validation, run.run_dir.validation)
    run.observer.message(f"validation split: {validation.height:,} rows set aside to judge the curation")
    return pool, validation


def validation_wanted(config, df: pl.DataFrame) -> bool:
    """Whether this run needs a validation split (the guard is on, or a stage judges prefixes)."""
    needs = [s.type for s in config.stages if s.uses_validation()]
    labelled = LABEL in df.columns and df[LABEL].drop_nulls().n_unique() >= 2
    if config.guard.enabled is False:
        if needs:
            raise ConfigError(f"stage '{needs[0]}' uses budget: auto, which needs the guard's validation split, "
                              "and guard.enabled is false", hint="set guard.enabled: auto, or give the stage a fixed budget")
        return False
    if not labelled:
        if config.guard.enabled is True or needs:
            what = "guard.enabled: true" if config.guard.enabled is True else f"stage '{needs[0]}' (budget: auto)"
            raise InputError(f"{what} needs labels (at least two classes) to judge the curation on a validation split",
                             hint="set input.label to the label column, or turn the guard off / give a fixed budget")
        return False
    return config.guard.enabled is True or config.proxy_train is not None or bool(needs)
