"""MinHash near-duplicate removal: signatures, LSH bands, verified edges, components, keep policy."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from curate.errors import StageError, require
from curate.normalize import NormalizeConfig
from curate.registry import register
from curate.schema import ID, TEXT, make_ledger
from curate.stages.base import KEY, POSITION, KeyedStage, RunContext, StageConfig, StageResult, Threshold, run_in_blocks
from curate.stages.exact_dedup import CHARS, check_keep_column, keeper_order

if TYPE_CHECKING:
    from curate.minhash.clusters import Clustering

ARTIFACT = "minhash_signatures"
SIGNATURE = "__curate_signature"
BAND = "__curate_band"


class MinHashIndexConfig(BaseModel):
    """Persist this run's kept signatures, and/or dedup against an index saved earlier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    save: Path | None = Field(None, description="Folder to write the kept rows' signatures to (a MinHash index).")
    against: Path | None = Field(None, description="Folder of an earlier index: rows near-duplicating it are removed.")


class MinHashDedupConfig(StageConfig):
    """Remove near-duplicates: rows whose estimated Jaccard similarity reaches ``threshold``."""

    type: Literal["minhash_dedup"] = "minhash_dedup"
    normalize: NormalizeConfig = Field(default_factory=NormalizeConfig, description="Normalisation applied before shingling.")
    unit: Literal["word", "char"] = Field("word", description="Shingle on word n-grams or character n-grams.")
    ngram: int = Field(5, ge=1, le=64, description="Shingle size in words or characters.")
    num_perm: int = Field(128, ge=2, le=1024, description="Number of MinHash permutations (signature length).")
    seed: int | None = Field(None, ge=0, lt=2**32, description="Permutation seed (datasketch's MinHash seed); defaults to the run's seed.")
    hash: Literal["xxh32", "sha1"] = Field("xxh32", description="32-bit shingle hash: xxh32 (fast; datasketch with hashfunc=xxhash.xxh32_intdigest) or sha1 (datasketch's default hashfunc).")
    threshold: float = Field(0.8, gt=0.0, le=1.0, description="Jaccard similarity at which rows count as near-duplicates.")
    weights: tuple[float, float] = Field((0.5, 0.5), description="False-positive and false-negative weights of the band/row optimiser (sum to 1).")
    bands: int | None = Field(None, ge=1, description="LSH bands; set with rows to bypass the optimiser.")
    rows: int | None = Field(None, ge=1, description="Signature values per band; set with bands.")
    verify: bool = Field(True, description="Keep only candidate pairs whose estimated Jaccard reaches the threshold.")
    keep: Literal["first", "longest", "max"] = Field("first", description="Which row of a cluster stays: the first, the longest text, or the max of `keep_column`.")
    keep_column: str | None = Field(None, description="Column whose maximum picks the kept row when keep is `max`.")
    batch_size: int = Field(8192, ge=1, description="Documents per signature batch.")
    keep_signatures: bool = Field(True, description="Keep the signatures as a run artefact, for curate.audit.minhash_sweep.")
    index: MinHashIndexConfig = Field(default_factory=MinHashIndexConfig, description="Save or reuse a MinHash index across runs.")

    @model_validator(mode="after")
    def _check(self) -> MinHashDedupConfig:
        if (self.keep == "max") != (self.keep_column is not None):
            raise ValueError("keep: max needs keep_column, and keep_column is only used with keep: max")
        if (self.bands is None) != (self.rows is None):
            raise ValueError("set both bands and rows, or neither (then they are chosen from threshold)")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands * rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        if abs(sum(self.weights) - 1.0) > 1e-9 or min(self.weights) < 0:
            raise ValueError("weights must be two non-negative numbers summing to 1")
        return self


@register("minhash_dedup")
class MinHashDedup(KeyedStage):
    """Near-duplicate removal with MinHash LSH (signatures identical to datasketch's ``MinHash``).

    Phases: ``prepare`` computes each row's signature, ``keys`` emits one keyed row per row and
    LSH band (the key is the band's hash), ``group`` links each row of a band bucket to the
    bucket's first row (candidate edges), ``finish`` verifies the candidates by estimated Jaccard,
    joins rows into components and keeps one row per component.
    """

    kind = "shuffle"
    Config = MinHashDedupConfig
    artifacts = (ARTIFACT,)
    examples = ({"threshold": 0.5, "ngram": 3}, {"unit": "char", "ngram": 4, "hash": "sha1", "verify": False},
                {"bands": 16, "rows": 4, "keep": "longest"}, {"keep": "max", "keep_column": "confidence", "num_perm": 64})

    def thresholds(self, stats: dict | None = None) -> list[Threshold]:
        """The Jaccard similarity at which rows are near-duplicates (signatures in the artefact)."""
        return [Threshold(column="jaccard", value=self.config.threshold, removes="at_or_above",
                          reason="near_duplicate", artifact=ARTIFACT)]

    def spec(self, seed: int):
        """The :class:`~curate.minhash.signature.SignatureSpec` of this stage in a run seeded ``seed``."""
        from curate.minhash.signature import SignatureSpec

        cfg = self.config
        return SignatureSpec(num_perm=cfg.num_perm, seed=seed if cfg.seed is None else cfg.seed,
                             ngram=cfg.ngram, unit=cfg.unit, hash=cfg.hash, normalize=cfg.normalize.model_dump())

    def banding(self) -> tuple[int, int]:
        """LSH (bands, rows per band): the config's, or datasketch's optimum for the threshold."""
        from curate.minhash.banding import optimal_bands

        cfg = self.config
        return (cfg.bands, cfg.rows) if cfg.bands else optimal_bands(cfg.threshold, cfg.num_perm, cfg.weights)

    def fit(self, frame: pl.DataFrame, ctx: RunContext) -> pl.DataFrame:
        """Check the extra and the keep policy's column."""
        require("numba", "minhash")
        check_keep_column(self.config, frame)
        return frame

    def prepare(self, batch: pl.DataFrame, ctx: RunContext) -> pl.DataFrame:
        """Each row's MinHash signature."""
        from curate.minhash.signature import minhash_signatures

        cfg = self.config
        signatures = minhash_signatures(batch[TEXT], self.spec(ctx.seed), cfg.batch_size,
                                        progress=lambda k: ctx.progress(k, None))
        return batch.with_columns(pl.Series(SIGNATURE, signatures, dtype=pl.Array(pl.UInt32, cfg.num_perm)))

    def keys(self, batch: pl.DataFrame, ctx: RunContext) -> pl.DataFrame:
        """One (position, band, band hash) row per row and band; the band hash is the key."""
        from curate.minhash.banding import band_hashes

        bands, rows = self.banding()
        hashes = band_hashes(signature_matrix(batch, self.config.num_perm), bands, rows)
        return pl.DataFrame({POSITION: np.repeat(batch[POSITION].to_numpy(), bands),
                             BAND: np.tile(np.arange(bands, dtype=np.int32), batch.height),
                             KEY: hashes.ravel()}, schema={POSITION: pl.Int64, BAND: pl.Int32, KEY: pl.UInt64})

    def group(self, keyed: pl.DataFrame) -> pl.DataFrame:
        """Candidate edges (``left``, ``right`` positions): each row of a band bucket to the bucket's first row."""
        from curate.minhash.banding import BAND as BAND_COLUMN
        from curate.minhash.banding import BAND_HASH, DOC, band_edges

        return band_edges(keyed.select(pl.col(POSITION).alias(DOC), pl.col(BAND).alias(BAND_COLUMN),
                                       pl.col(KEY).alias(BAND_HASH)))

    def streams_text(self) -> bool:
        """Yes, without an index to save or dedup against (then every signature is held in memory)."""
        return self.config.index.save is None and self.config.index.against is None

    def apply(self, df: pl.DataFrame, ctx: RunContext) -> StageResult:
        """The stage in this process, holding band hashes and the signatures of rows that share a bucket
        only: signatures are made a batch at a time, streamed to the artefact and to a temporary file,
        and read back for the candidates. With an index to save or dedup against, the phases run (every
        signature in memory)."""
        from curate.minhash.banding import band_hashes, bucket_edges
        from curate.minhash.clusters import cluster_edges, pair_similarity
        from curate.minhash.index import index_writer
        from curate.minhash.signature import minhash_signatures
        from curate.minhash.spill import SignatureSpill

        cfg = self.config
        if not self.streams_text():
            return run_in_blocks(self, df, ctx)
        frame = self.fit(df, ctx)
        spec, (bands, rows) = self.spec(ctx.seed), self.banding()
        hashes = np.empty((frame.height, bands), dtype=np.uint64)
        artifact = ctx.artifact_path(ARTIFACT) if cfg.keep_signatures else None
        chars, start = [], 0
        with SignatureSpill(cfg.num_perm, ctx.artifacts_dir) as spill, \
                index_writer(artifact, spec, **self.index_params()) if artifact else nullcontext() as write:
            for texts in ctx.text_batches(frame, cfg.batch_size):
                signatures = minhash_signatures(texts, spec, cfg.batch_size)
                hashes[start:start + len(texts)] = band_hashes(signatures, bands, rows)
                spill.append(signatures)
                if write is not None:
                    write(frame[ID].slice(start, len(texts)), signatures)
                if cfg.keep == "longest":
                    chars.append(texts.str.len_chars())
                start += len(texts)
                ctx.progress(len(texts), None)
            candidates = bucket_edges(hashes)
            del hashes
            members = np.unique(np.concatenate([candidates["left"].to_numpy(), candidates["right"].to_numpy()]))
            signatures = spill.rows_of(members)

        def similarity(left: np.ndarray, right: np.ndarray) -> np.ndarray:
            return pair_similarity(signatures, np.searchsorted(members, left), np.searchsorted(members, right))

        clustering = cluster_edges(frame.height, candidates,
                                   similarity(candidates["left"].to_numpy(), candidates["right"].to_numpy()),
                                   cfg.threshold, cfg.verify)
        result, _ = self.outcome(frame, clustering, frame[ID].cast(pl.String), similarity, ctx.text_bytes(frame),
                                 pl.concat(chars) if chars else None)
        return result

    def finish(self, frame: pl.DataFrame, decisions: pl.DataFrame, ctx: RunContext) -> StageResult:
        """Verify candidates, join components, keep one row per component; the others go to the ledger."""
        from curate.minhash.clusters import cluster_candidates, cluster_signatures, pair_similarity
        from curate.minhash.index import load_index, save_index

        cfg = self.config
        spec = self.spec(ctx.seed)
        bands, rows = self.banding()
        signatures = signature_matrix(frame, cfg.num_perm)
        frame = frame.drop(SIGNATURE)
        if cfg.keep_signatures and (artifact := ctx.artifact_path(ARTIFACT)) is not None:
            save_index(artifact, frame[ID], signatures, spec, **self.index_params())
        old_ids, old = pl.Series(ID, [], dtype=pl.String), np.zeros((0, cfg.num_perm), np.uint32)
        if cfg.index.against is not None:
            old_ids, old, old_spec, _ = load_index(cfg.index.against)
            if old_spec != spec:
                raise StageError(f"index {cfg.index.against} was built with {old_spec.to_dict()}, this stage uses {spec.to_dict()}",
                                 hint="use the same num_perm, seed, unit, ngram, hash and normalize as the run that saved it")
        if len(old):  # the saved rows take part in the banding: band everything here, on the driver
            everything = np.concatenate([signatures, old])
            clustering = cluster_signatures(everything, bands, rows, cfg.threshold, cfg.verify)
        else:
            everything = signatures
            candidates = decisions.select("left", "right").unique().sort("left", "right")
            clustering = cluster_candidates(signatures, candidates, cfg.threshold, cfg.verify)
        all_ids = pl.concat([frame[ID].cast(pl.String), old_ids.cast(pl.String)])
        result, kept = self.outcome(frame, clustering, all_ids, lambda rows, keepers: pair_similarity(everything, rows, keepers),
                                    ctx.text_bytes(frame), frame[TEXT].str.len_chars() if cfg.keep == "longest" else None)
        if cfg.index.save is not None:
            kept_rows = np.flatnonzero(kept)
            save_index(cfg.index.save, pl.concat([result.kept[ID].cast(pl.String), old_ids.cast(pl.String)]),
                       np.concatenate([signatures[kept_rows], old]), spec, **self.index_params())
        return result

    def index_params(self) -> dict:
        """The banding settings an index records beside its spec."""
        cfg = self.config
        bands, rows = self.banding()
        return {"threshold": cfg.threshold, "bands": bands, "rows": rows, "verify": cfg.verify, "weights": list(cfg.weights)}

    def outcome(self, frame: pl.DataFrame, clustering: Clustering, all_ids: pl.Series,
                similarity: Callable[[np.ndarray, np.ndarray], np.ndarray], text_bytes: int,
                chars: pl.Series | None) -> tuple[StageResult, np.ndarray]:
        """Keep one row of each component (``clustering.labels``: one per row of ``frame``, then one per
        row of an ``against`` index, whose ids follow ``frame``'s in ``all_ids``); the others go to the
        ledger with their keeper and ``similarity(rows, keepers)``. ``chars``: each row's text length,
        for the ``longest`` policy. Returns the result and the mask of kept rows."""
        n, labels = frame.height, clustering.labels
        keeper = self.keepers(frame, labels, n, chars)
        is_dup = keeper != np.arange(n)
        dup_rows = np.flatnonzero(is_dup)
        dup_keepers = keeper[dup_rows]
        components, first_rows = np.unique(labels[:n], return_index=True)
        cluster_start = np.zeros(int(labels.max(initial=-1)) + 1, dtype=np.int64)
        cluster_start[components] = first_rows
        removed = make_ledger(
            frame[ID].gather(dup_rows), self.label, "near_duplicate",
            score=pl.Series(similarity(dup_rows, dup_keepers), dtype=pl.Float64),
            duplicate_of=all_ids.gather(dup_keepers),
            cluster_id=pl.Series(cluster_start[labels[dup_rows]]),
        )
        bands, rows = self.banding()
        return StageResult(kept=frame.filter(pl.Series(~is_dup)), removed=removed, stats={
            "bands": bands, "rows": rows, "candidate_pairs": clustering.candidates,
            "verified_pairs": clustering.edges.height, "clusters": int(len(np.unique(dup_keepers))), "bytes": text_bytes,
        }), ~is_dup

    def keepers(self, df: pl.DataFrame, labels: np.ndarray, n: int, chars: pl.Series | None = None) -> np.ndarray:
        """Row (in ``labels`` numbering) kept for each of the first ``n`` rows' components.

        A component reaching a row of the ``against`` index (rows ``n`` and on) keeps that
        row; otherwise the keep policy picks among this frame's rows (``chars``: each row's text
        length, needed by ``longest``).
        """
        cfg = self.config
        work = df.select(ID, *([cfg.keep_column] if cfg.keep_column in df.columns else [])).with_columns(
            _pos=pl.int_range(pl.len(), dtype=pl.Int64), _label=pl.Series(labels[:n]),
            **({CHARS: chars} if chars is not None else {}))
        order = keeper_order(cfg.keep, cfg.keep_column, "_pos", work.height)
        keeper = work.select(pl.col("_pos").sort_by(order).first().over("_label"))["_pos"].to_numpy().copy()
        if len(labels) > n:
            old = pl.DataFrame({"_label": labels[n:], "_old": np.arange(n, len(labels), dtype=np.int64)})
            first_old = old.group_by("_label").agg(pl.col("_old").min())
            joined = work.select("_label").join(first_old, on="_label", how="left", maintain_order="left")["_old"]
            keeper = np.where(joined.is_not_null().to_numpy(), joined.fill_null(-1).to_numpy(), keeper)
        return keeper


def signature_matrix(frame: pl.DataFrame, num_perm: int) -> np.ndarray:
    """The signatures ``prepare`` put in ``frame``, as a C-contiguous ``(rows, num_perm)`` uint32 matrix."""
    if frame.height == 0:
        return np.zeros((0, num_perm), dtype=np.uint32)
    return np.ascontiguousarray(frame[SIGNATURE].to_numpy(), dtype=np.uint32)
