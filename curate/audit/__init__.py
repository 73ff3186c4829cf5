"""Every way to look at a run: report.html, Jupyter views, threshold sweeps, and raw-data profiles.

``audit.load(run_dir)`` opens a finished run (its typed record and files, :mod:`curate.record`) for
Jupyter; ``audit.profile(data)`` looks at raw data before any pipeline. Modules by object:
``html`` (the page, with ``svg`` charts and ``units``), ``views`` (removed samples, clusters,
score histograms), ``run`` (the Jupyter audit), ``sweep`` and ``minhash`` (threshold sweeps),
``profile`` and ``neardup`` (raw data). Nothing here imports an engine.
"""

from curate.audit.minhash import minhash_sweep
from curate.audit.neardup import near_duplicate_rate
from curate.audit.profile import Profile, profile
from curate.audit.run import RunAudit, load
from curate.audit.sweep import score_sweep, similarity_sweep
from curate.audit.view import View

__all__ = ["Profile", "RunAudit", "View", "load", "minhash_sweep", "near_duplicate_rate", "profile", "score_sweep",
           "similarity_sweep"]
