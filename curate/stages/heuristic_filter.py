"""Heuristic quality filter: Gopher quality and repetition rules and C4 rules, every row scored.

Scores land in ``q_*`` columns on the kept rows (and, for every row, in the artefact
``heuristic_scores.parquet``); a removed row's ledger entry names the first failing rule in
:data:`curate.quality.rules.RULES` order (``reason``), the value that broke it (``score``) and
the bounds (``detail``).
"""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from curate.quality import scores as sc
from curate.quality.rules import BY_NAME, RULE_NAMES, RULES, Bound, Rule
from curate.registry import register, suggest
from curate.schema import ID, TEXT, make_ledger
from curate.scripts import dominant_script
from curate.stages.base import RunContext, Stage, StageConfig, StageResult, Threshold
from curate.stages.language_filter import LANG

GOPHER_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")
MIN_LANGUAGE_ROWS = 20
FAILED_RULE = "q_failed_rule"
SCORES_ARTIFACT = "heuristic_scores.parquet"


class RuleBounds(BaseModel):
    """New bounds for one rule; a bound left out keeps the preset's, ``null`` opens it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: float | None = None
    max: float | None = None


class HeuristicFilterConfig(StageConfig):
    """Gopher / C4 heuristic rules with the published defaults; each rule switchable and tunable."""

    type: Literal["heuristic_filter"] = "heuristic_filter"
    preset: Literal["web", "short_text"] = Field("web", description="Rule defaults: web pages (Gopher + C4 as published) or short texts (tweets, SMS, titles: no line rules).")
    rules: dict[str, RuleBounds | bool] = Field(default_factory=dict, description="Per-rule overrides: {min:, max:} bounds, false to switch a rule off, true to switch it on with its web default.")
    stop_words: tuple[str, ...] = Field(GOPHER_STOP_WORDS, description="Stop words for gopher_stop_words (Gopher's list by default).")
    stop_words_languages: tuple[str, ...] = Field(("en",), min_length=1, description="Languages the stop words are written in (fastText lid.176 codes); gopher_stop_words judges only rows in them (the `lang` column of an earlier language_filter, else detected).")
    warn_language_share: float | None = Field(0.5, gt=0, le=1, description="Warn, in the run output and the report, when one rule would remove more than this share of one language's rows (the `lang` column of an earlier language_filter, else each row's script; groups of at least 20 rows); null switches the check off.")
    bad_words: tuple[str, ...] = Field((), description="Lower-case words for c4_bad_words; the rule is on only when this list is given.")
    action: Literal["remove", "flag"] = Field("remove", description="remove failing rows, or keep all rows and name the failing rule in q_failed_rule.")
    batch_size: int = Field(20_000, gt=0, description="Rows scored at a time (bounds memory).")

    @model_validator(mode="after")
    def _known_rules(self) -> HeuristicFilterConfig:
        for name, value in self.rules.items():
            if name not in BY_NAME:
                raise ValueError(f"unknown rule '{name}': {suggest(name, list(RULE_NAMES))}")
            rule = BY_NAME[name]
            line_based = rule.short_text is None and (rule.web is not None or rule.name == "c4_kept_lines")
            if self.preset == "short_text" and line_based and value is not False:
                raise ValueError(f"rule '{name}' looks at lines or paragraphs; the short_text preset has none (use preset: web)")
            if value is True and rule.web is None:
                raise ValueError(f"rule '{name}' has no default bounds; give them as {{min: ..., max: ...}}")
        for name, (lo, hi) in self.bounds().items():
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"rule '{name}' has min {lo:g} above max {hi:g}: no row could pass (swap them?)")
        return self

    def bounds(self) -> dict[str, Bound]:
        """The enabled rules and their (min, max), in rule order."""
        out: dict[str, Bound] = {}
        for rule in RULES:
            base = rule.web if self.preset == "web" else rule.short_text
            override = self.rules.get(rule.name)
            if override is False:
                continue
            if override is True:
                base = base or rule.web
            elif isinstance(override, RuleBounds):
                lo, hi = base or (None, None)
                given = override.model_fields_set
                base = (override.min if "min" in given else lo, override.max if "max" in given else hi)
            if rule.name == "c4_bad_words" and not self.bad_words:
                continue
            if base is not None:
                out[rule.name] = base
        return out


def _options(config: HeuristicFilterConfig, bounds: dict[str, Bound]) -> sc.ScoreOptions:
    def on(name: str) -> bool:
        return name in bounds

    return sc.ScoreOptions(
        stop_words=config.stop_words,
        bad_words=tuple(w.lower() for w in config.bad_words) if on("c4_bad_words") else (),
        top_ns=tuple(n for n in (2, 3, 4) if on(f"gopher_top_{n}gram")),
        dup_ns=tuple(n for n in range(5, 11) if on(f"gopher_dup_{n}gram")),
        top_repeated_only=config.preset == "short_text",
        line_rules=config.preset == "web",
        c4_max_word_length=bounds["c4_word_length"][1] if on("c4_word_length") else None,
        c4_min_words_per_line=bounds["c4_words_per_line"][0] if on("c4_words_per_line") else None,
        c4_terminal_punct=on("c4_terminal_punct"),
        c4_javascript=on("c4_javascript"),
        c4_policy=on("c4_policy"),
    )


def score_frame(texts: pl.Series, config: HeuristicFilterConfig, languages: pl.Series | None = None) -> pl.DataFrame:
    """The ``q_*`` score columns of ``texts`` for the rules ``config`` enables (one row per text).

    ``languages`` (one code per text) limits gopher_stop_words to rows in
    ``config.stop_words_languages``; without it the languages are detected when that rule is on.
    """
    bounds = config.bounds()
    options = _options(config, bounds)
    families = {BY_NAME[name].family for name in bounds if BY_NAME[name].kind == "row"}
    parts = []
    for start in range(0, max(len(texts), 1), config.batch_size):
        frame = pl.DataFrame({sc.TEXT: texts.slice(start, config.batch_size).fill_null("")}).with_row_index(sc.DOC)
        toks = sc.token_frame(frame) if families & {"gopher_quality", "gopher_repetition"} or options.bad_words else None
        part = frame.select(sc.DOC)
        if "gopher_quality" in families:
            part = part.join(sc.gopher_quality(frame, toks, options), on=sc.DOC, maintain_order="left")
        if "gopher_repetition" in families and options.line_rules:
            part = part.join(sc.gopher_repetition_lines(frame), on=sc.DOC, maintain_order="left")
        if options.top_ns or options.dup_ns:
            part = part.join(sc.gopher_ngrams(frame, toks, options), on=sc.DOC, maintain_order="left")
        if "c4" in families:
            part = part.join(sc.c4(frame, toks, options), on=sc.DOC, maintain_order="left")
        parts.append(part.drop(sc.DOC))
    scores = pl.concat(parts, how="diagonal_relaxed").head(len(texts))
    if "gopher_stop_words" in bounds and "q_stop_words" in scores.columns:
        scores = scores.with_columns(_stop_words_in_language(texts, scores["q_stop_words"], config, bounds, languages))
    return scores


def _stop_words_in_language(texts: pl.Series, counts: pl.Series, config: HeuristicFilterConfig,
                            bounds: dict[str, Bound], languages: pl.Series | None) -> pl.Series:
    """``q_stop_words``, null (the rule does not apply) for rows not written in ``config.stop_words_languages``.

    Without ``languages``, only the rows the rule would fail are looked at (fastText lid.176):
    an English text rich in stop words needs no language id.
    """
    lo, hi = bounds["gopher_stop_words"]
    failing = pl.repeat(False, len(counts), eager=True)
    if lo is not None:
        failing = failing | (counts < lo).fill_null(False)
    if hi is not None:
        failing = failing | (counts > hi).fill_null(False)
    wanted = list(config.stop_words_languages)
    if languages is not None:
        in_language = languages.is_in(wanted).fill_null(False)
    else:
        positions = failing.arg_true()
        in_language = pl.repeat(True, len(counts), eager=True)
        if len(positions):
            found = detect_languages(texts.gather(positions)).is_in(wanted).fill_null(False)
            in_language = in_language.scatter(positions, found)
    return counts.to_frame().select(pl.when(in_language).then(pl.col(counts.name))).to_series().alias("q_stop_words")


def detect_languages(texts: pl.Series) -> pl.Series:
    """Each text's language (fastText lid.176, offline; null for an empty text)."""
    from curate.stages.language_filter import detect

    return detect(texts, 1000)[LANG]


def group_counts(groups: pl.Series, failing: pl.DataFrame) -> tuple[dict[str, int], dict[str, int]]:
    """Rows per language (or script), and rows per ``rule|group`` that break the rule.

    ``groups`` is each row's language or script (null for rows without letters, which are
    not a language and are not counted); ``failing`` has one boolean column per rule. Both
    results are plain counts, so counts of blocks of rows add up to the counts of all rows.
    """
    frame = failing.with_columns(_group=groups).drop_nulls("_group")
    counts = frame.group_by("_group").agg(pl.len().alias("_rows"), *(pl.col(name).sum() for name in failing.columns))
    rows = {row["_group"]: row["_rows"] for row in counts.iter_rows(named=True)}
    broken = {f"{name}|{row['_group']}": row[name] for row in counts.iter_rows(named=True)
              for name in failing.columns if row[name]}
    return rows, broken


def language_warnings(rows: dict[str, int], broken: dict[str, int], share: float,
                      min_rows: int = MIN_LANGUAGE_ROWS) -> list[dict]:
    """Rules that would remove more than ``share`` of one language's rows (languages with ``min_rows`` or more)."""
    warnings = []
    for key, count in sorted(broken.items(), key=lambda item: item[0].split("|", 1)[::-1]):
        rule, group = key.split("|", 1)
        total = rows.get(group, 0)
        if total >= min_rows and count > share * total:
            warnings.append({"rule": rule, "lang": group, "rows": total, "would_remove": count,
                             "share": round(count / total, 4)})
    return warnings


def _describe(column: str, lo: float | None, hi: float | None) -> str:
    """The bound a rule checks, as text: ``needs 50 <= q_words <= 100000``."""
    left = f"{lo:g} <= " if lo is not None else ""
    right = f" <= {hi:g}" if hi is not None else ""
    return f"needs {left}{column}{right}"


def _breaks(rule: Rule, lo: float | None, hi: float | None) -> pl.Expr:
    """True where a row's score is outside ``[lo, hi]`` (a null score passes)."""
    value = pl.col(rule.column).cast(pl.Float64)
    fail = pl.lit(False)
    if lo is not None:
        fail = fail | (value < lo)
    if hi is not None:
        fail = fail | (value > hi)
    return fail.fill_null(False)


def _failing(rules: list[tuple[Rule, Bound]]) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Expressions for the first failing rule's name, its score, and its bounds."""
    names, values, details = [], [], []
    for rule, (lo, hi) in rules:
        value = pl.col(rule.column).cast(pl.Float64)
        fail = _breaks(rule, lo, hi)
        names.append(pl.when(fail).then(pl.lit(rule.name)))
        values.append(pl.when(fail).then(value))
        details.append(pl.when(fail).then(pl.lit(_describe(rule.column, lo, hi))))
    if not rules:
        return pl.lit(None, pl.String), pl.lit(None, pl.Float64), pl.lit(None, pl.String)
    return pl.coalesce(names), pl.coalesce(values), pl.coalesce(details)


@register("heuristic_filter")
class HeuristicFilter(Stage):
    """Score every row on the enabled Gopher / C4 rules; drop (or flag) rows outside the bounds."""

    kind = "map"
    Config = HeuristicFilterConfig
    examples = ({"preset": "short_text"}, {"rules": {"gopher_word_count": {"min": 12}}, "action": "flag"},
                {"bad_words": ["market"], "warn_language_share": None})
    artifacts = (SCORES_ARTIFACT,)

    def thresholds(self, stats: dict | None = None) -> list[Threshold]:
        """Each enabled row rule's bounds on its score column (none with ``action: flag``)."""
        if self.config.action == "flag":
            return []
        out = []
        for name, (low, high) in self.config.bounds().items():
            rule = BY_NAME[name]
            if rule.kind != "row" or not rule.column:
                continue
            out += [Threshold(column=rule.column, value=float(bound), removes=side, reason=name, artifact=SCORES_ARTIFACT)
                    for bound, side in ((low, "below"), (high, "above")) if bound is not None]
        return out

    def finish_stats(self, stats: dict) -> dict:
        """Add the rules that would remove most of one language (``warnings``) from the per-group counts."""
        share = self.config.warn_language_share
        if share is None or "rows_by_group" not in stats:
            return stats
        warnings = language_warnings(stats["rows_by_group"], stats["failing_by_group"], share)
        if not warnings:
            return stats
        grouping = stats.get("grouped_by", "language")
        return {**stats, "language_warnings": warnings,
                "warnings": [f"rule {w['rule']} would remove {w['share']:.0%} of the {w['rows']:,} rows in {grouping} "
                             f"'{w['lang']}': check that the rule suits it (rules: {{{w['rule']}: false}} switches it off)"
                             for w in warnings]}

    def apply(self, df: pl.DataFrame, ctx: RunContext) -> StageResult:
        """Score, then keep rows within every enabled rule's bounds."""
        cfg = self.config
        bounds = cfg.bounds()
        languages = df[LANG] if LANG in df.columns else None
        scores = score_frame(df[TEXT], cfg, languages)
        ctx.progress(df.height, df.height)
        checked = [(BY_NAME[name], bound) for name, bound in bounds.items() if BY_NAME[name].kind == "row"]
        reason, value, detail = _failing(checked)
        verdict = scores.select(_reason=reason, _score=value, _detail=detail)
        failed = verdict["_reason"].is_not_null()
        path = ctx.artifact_path(SCORES_ARTIFACT)
        if path is not None:
            df.select(ID).hstack(scores).with_columns(verdict["_reason"].alias(FAILED_RULE)).write_parquet(path)
        stats = {"preset": cfg.preset, "rules": list(bounds),
                 "removed_by": {k: v for k, v in verdict["_reason"].drop_nulls().value_counts(sort=True).iter_rows()}}
        if cfg.warn_language_share is not None:
            # by language when an earlier stage detected it, else by script (Han, Arabic, Hangul, ...)
            groups = languages if languages is not None else df.select(dominant_script(pl.col(TEXT))).to_series()
            failing = scores.select(*(_breaks(rule, lo, hi).alias(rule.name) for rule, (lo, hi) in checked))
            rows, broken = group_counts(groups, failing)
            stats |= {"grouped_by": "language" if languages is not None else "script",
                      "rows_by_group": rows, "failing_by_group": broken}
        stats = self.finish_stats(stats)
        if cfg.action == "flag":
            kept = df.with_columns(scores).with_columns(verdict["_reason"].alias(FAILED_RULE))
            return StageResult(kept=kept, removed=make_ledger([], self.label, "heuristic"), stats={**stats, "flagged": int(failed.sum())})
        bad = verdict.filter(failed)
        removed = make_ledger(df[ID].filter(failed), self.label, bad["_reason"], bad["_score"], detail=bad["_detail"])
        return StageResult(kept=df.with_columns(scores).filter(~failed), removed=removed, stats=stats)
