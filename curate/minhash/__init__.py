"""MinHash kernels behind the ``minhash_dedup`` stage, as three reusable steps.

1. :func:`minhash_signatures` (a map over batches of texts),
2. :func:`band_frames` + :func:`band_edges` (a group-by on ``(band, band_hash)`` emitting edges),
3. :func:`pair_similarity` + :func:`connected_components` (verification and components on the driver).

Needs the ``minhash`` extra (numba, scipy; datasketch for interop).
"""

from curate.minhash.banding import band_edges, band_frames, band_hashes, candidate_edges, optimal_bands
from curate.minhash.clusters import cluster_candidates, cluster_signatures, connected_components, pair_similarity
from curate.minhash.index import datasketch_lsh, load_index, save_index
from curate.minhash.shingle import shingles
from curate.minhash.signature import SignatureSpec, minhash_signatures, permutations

__all__ = [
    "SignatureSpec", "band_edges", "band_frames", "band_hashes", "candidate_edges", "cluster_candidates", "cluster_signatures",
    "connected_components", "datasketch_lsh", "load_index", "minhash_signatures", "optimal_bands",
    "pair_similarity", "permutations", "save_index", "shingles",
]
