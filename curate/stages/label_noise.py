"""Label noise: flag (or remove) rows whose label is likely wrong, with cleanlab.

Out-of-fold predicted probabilities come from a linear classifier (log-loss SGD by default,
or logistic regression; seeded stratified k-fold, sklearn's ``cross_val_predict``) over TF-IDF features of the text or over the run's
embeddings (``ctx.embeddings``). With ``select: cleanlab`` its ``find_label_issues`` picks the
rows whose given label disagrees with them (confident learning, Northcutt et al., 2021); with
``select: quality_rank`` the ``rank_fraction`` of rows with the lowest label quality are
flagged (for noise that the classifier partly learns, where confident learning flags too few).
Every analysed row gets ``label_issue``, ``label_quality`` (cleanlab's label quality score,
``quality_method``; self-confidence is the out-of-fold probability of the given label) and
``label_suggested`` (the most likely label).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from pydantic import Field

from curate.embed import EmbedderConfig
from curate.errors import StageError, require
from curate.registry import register
from curate.schema import ID, LABEL, TEXT, make_ledger
from curate.stages.base import RunContext, Stage, StageConfig, StageResult
from curate.tfidf import tfidf_vectorizer

ISSUE = "label_issue"
QUALITY = "label_quality"
SUGGESTED = "label_suggested"


class LabelNoiseConfig(StageConfig):
    """Find likely mislabelled rows from out-of-fold predictions (cleanlab)."""

    type: Literal["label_noise"] = "label_noise"
    label: str = Field(LABEL, description="Column with the given labels (any type; nulls are not analysed).")
    features: Literal["tfidf", "embeddings"] = Field("tfidf", description="Classifier input: TF-IDF of the text (no torch needed) or the run's embeddings.")
    embed: EmbedderConfig = Field(default_factory=EmbedderConfig, description="Embedding back-end when features is embeddings.")
    folds: int = Field(5, ge=2, description="Cross-validation folds for the out-of-fold probabilities.")
    classifier: Literal["sgd", "logistic", "knn"] = Field("sgd", description="Classifier: log-loss SGD (fast on large sparse TF-IDF), lbfgs logistic regression, or cosine k-nearest neighbours (for embeddings).")
    neighbors: int = Field(50, gt=0, description="Neighbours of the knn classifier (capped by the training fold's size).")
    alpha: float = Field(1e-4, gt=0, description="L2 penalty of the SGD classifier.")
    C: float = Field(1.0, gt=0, description="Inverse regularisation of the logistic regression.")
    filter_by: Literal["prune_by_noise_rate", "prune_by_class", "both", "confident_learning", "predicted_neq_given"] = Field(
        "prune_by_noise_rate", description="cleanlab's find_label_issues method (select: cleanlab).")
    select: Literal["cleanlab", "quality_rank"] = Field(
        "cleanlab", description="How rows are flagged: cleanlab's find_label_issues (filter_by), or the rank_fraction of rows with the lowest label quality.")
    rank_fraction: float = Field(0.1, gt=0, le=1, description="With select quality_rank: fraction of the analysed rows flagged, lowest label quality first (set it to the expected noise rate).")
    quality_method: Literal["self_confidence", "normalized_margin", "confidence_weighted_entropy"] = Field(
        "self_confidence", description="cleanlab's label quality score, written to label_quality and used by select quality_rank.")
    action: Literal["remove", "flag"] = Field("remove", description="remove flagged rows, or keep every row and only add the label_issue column.")


def tfidf_features(texts: pl.Series):
    """Sublinear TF-IDF of word uni- and bigrams (sparse; :mod:`curate.tfidf`)."""
    vectorizer = tfidf_vectorizer(2, max_features=200_000, min_df=2 if len(texts) >= 100 else 1, extra="quality")
    return vectorizer.fit_transform(texts.fill_null("").to_list())


def out_of_fold_probabilities(features, labels: np.ndarray, folds: int, config: LabelNoiseConfig, seed: int) -> np.ndarray:
    """Out-of-fold class probabilities of a linear classifier (stratified folds, shuffled with ``seed``)."""
    require("sklearn", "quality", "scikit-learn")
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    if config.classifier == "sgd":
        model = SGDClassifier(loss="log_loss", alpha=config.alpha, random_state=seed)
    elif config.classifier == "knn":
        smallest_fold = len(labels) - -(-len(labels) // folds)
        model = KNeighborsClassifier(min(config.neighbors, smallest_fold), metric="cosine", weights="distance")
    else:
        model = LogisticRegression(C=config.C, max_iter=1000)
    return cross_val_predict(model, features, labels, cv=splitter, method="predict_proba")


@register("label_noise")
class LabelNoise(Stage):
    """Flag rows whose label disagrees with confident out-of-fold predictions; remove or keep them."""

    kind = "global"
    Config = LabelNoiseConfig
    examples = ({"select": "quality_rank", "rank_fraction": 0.2, "folds": 3}, {"classifier": "logistic", "action": "flag"},
                {"features": "embeddings", "classifier": "knn", "neighbors": 5})
    requires = {"id", "text"}

    def _skip(self, df: pl.DataFrame, why: str, rows: int) -> StageResult:
        kept = df.with_columns(pl.lit(False).alias(ISSUE), pl.lit(None, pl.Float64).alias(QUALITY),
                               pl.lit(None, df[self.config.label].dtype if self.config.label in df.columns else pl.String).alias(SUGGESTED))
        return StageResult(kept=kept, removed=make_ledger([], self.label, ISSUE),
                           stats={"flagged": 0, "analysed_rows": rows, "skipped": why})

    def apply(self, df: pl.DataFrame, ctx: RunContext) -> StageResult:
        """Cross-validate, run cleanlab, then flag or remove the label issues."""
        cfg = self.config
        if cfg.label not in df.columns:
            raise StageError(f"label column '{cfg.label}' not found; columns are: {', '.join(df.columns)}",
                             hint="set the stage's label, or input.label")
        labels = df[cfg.label]
        counts = labels.drop_nulls().value_counts()
        usable_classes = counts.filter(pl.col("count") >= 2)[cfg.label]
        usable = labels.is_in(usable_classes.implode()).fill_null(False)
        if usable_classes.len() < 2:
            return self._skip(df, f"needs two classes with at least 2 labelled rows each; found {usable_classes.len()}", 0)
        rows = usable.arg_true().to_numpy()
        classes = usable_classes.sort()
        encoded = labels.gather(rows).to_frame("v").join(
            classes.to_frame("v").with_row_index("code"), on="v", how="left", maintain_order="left")["code"].to_numpy()
        folds = int(min(cfg.folds, usable_classes.len() and counts.filter(pl.col("count") >= 2)["count"].min()))
        subset = df[rows]
        if cfg.features == "embeddings":
            features = ctx.embeddings(subset, cfg.embed)
        else:
            try:
                features = tfidf_features(subset[TEXT])
            except ValueError:  # sklearn: empty vocabulary
                return self._skip(df, "the texts have no words to build TF-IDF features from", 0)
        ctx.progress(0, df.height)
        probs = out_of_fold_probabilities(features, encoded, folds, cfg, ctx.seed)
        cleanlab = require("cleanlab.filter", "quality", "cleanlab")
        rank = require("cleanlab.rank", "quality", "cleanlab")
        quality = rank.get_label_quality_scores(encoded, probs, method=cfg.quality_method)
        if cfg.select == "quality_rank":
            issues = np.zeros(len(rows), dtype=bool)
            issues[np.argsort(quality, kind="stable")[:round(cfg.rank_fraction * len(rows))]] = True
        else:
            issues = cleanlab.find_label_issues(encoded, probs, filter_by=cfg.filter_by, n_jobs=1)
        ctx.progress(df.height, df.height)
        n = df.height
        flag = np.zeros(n, dtype=bool)
        flag[rows] = issues
        scores = np.full(n, np.nan)
        scores[rows] = quality
        suggested = pl.Series(SUGGESTED, [None] * n, dtype=labels.dtype)
        suggested = suggested.scatter(rows, classes.gather(probs.argmax(axis=1)))
        scored = df.with_columns(pl.Series(ISSUE, flag), pl.Series(QUALITY, scores).fill_nan(None), suggested)
        stats = {"flagged": int(flag.sum()), "analysed_rows": int(len(rows)), "folds": folds, "features": cfg.features,
                 "select": cfg.select}
        if cfg.action == "flag":
            return StageResult(kept=scored, removed=make_ledger([], self.label, ISSUE), stats=stats)
        bad = scored.filter(pl.col(ISSUE))
        detail = bad.select(pl.concat_str(pl.lit("given "), pl.col(cfg.label).cast(pl.String),
                                          pl.lit("; model suggests "), pl.col(SUGGESTED).cast(pl.String))).to_series()
        removed = make_ledger(bad[ID], self.label, ISSUE, bad[QUALITY], detail=detail)
        return StageResult(kept=scored.filter(~pl.col(ISSUE)), removed=removed, stats=stats)
