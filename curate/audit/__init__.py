"""Notebook-facing audits of a run directory."""

from curate.audit.minhash import minhash_sweep

__all__ = ["minhash_sweep"]
