"""Jupyter data audits: ``audit.load(run_dir)`` for a finished run, ``audit.profile(data)`` before one."""

from curate.audit.minhash import minhash_sweep
from curate.audit.neardup import near_duplicate_rate
from curate.audit.profile import Profile, profile
from curate.audit.run import RunAudit, load
from curate.audit.sweep import score_sweep, similarity_sweep
from curate.audit.view import View

__all__ = ["Profile", "RunAudit", "View", "load", "minhash_sweep", "near_duplicate_rate", "profile", "score_sweep",
           "similarity_sweep"]
