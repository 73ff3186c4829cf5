"""Signatures equal datasketch's MinHash; band parameters equal datasketch's optimiser."""

from __future__ import annotations

import random
import subprocess
import sys

import numpy as np
import polars as pl
import pytest

datasketch = pytest.importorskip("datasketch")
xxhash = pytest.importorskip("xxhash")

from curate.minhash.banding import band_edges, band_frames, optimal_bands  # noqa: E402
from curate.minhash.shingle import shingles  # noqa: E402
from curate.minhash.signature import SignatureSpec, minhash_signatures, permutations  # noqa: E402
from curate.normalize import NormalizeConfig, normalize  # noqa: E402

ALPHABET = ["alpha", "Beta", "GAMMA", "délta", "ｅｐｓｉｌｏｎ", "東京", "x", "the", "a", "naïve", "ß", "😀", "don't"]
SPACES = [" ", "  ", "\t", "\n", "\u00a0", "\u3000", " \r\n "]


def random_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = ["", " ", "one", "two words", "a b c d", "a b c d e", "\u00a0lead and trail\u3000"]
    for _ in range(count):
        n = rng.choice([0, 1, 3, 4, 5, 6, 20, 80, 300])
        texts.append("".join(rng.choice(ALPHABET) + rng.choice(SPACES) for _ in range(n)))
    return texts


def datasketch_signature(text: str, spec: SignatureSpec) -> np.ndarray:
    hashfunc = xxhash.xxh32_intdigest if spec.hash == "xxh32" else None
    minhash = datasketch.MinHash(num_perm=spec.num_perm, seed=spec.seed, hashfunc=hashfunc)
    minhash.update_batch(shingles(text, spec.ngram, spec.unit))
    return minhash.hashvalues


@pytest.mark.parametrize(("hash_", "unit", "ngram", "num_perm", "seed"), [
    ("sha1", "word", 5, 128, 1),
    ("xxh32", "word", 5, 128, 0),
    ("xxh32", "word", 2, 64, 42),
    ("sha1", "char", 5, 32, 7),
    ("xxh32", "char", 3, 256, 123),
])
def test_signatures_equal_datasketch(hash_, unit, ngram, num_perm, seed):
    texts = pl.Series(random_texts(150, seed))
    spec = SignatureSpec(num_perm=num_perm, seed=seed, ngram=ngram, unit=unit, hash=hash_)
    ours = minhash_signatures(texts, spec, batch_size=37)
    normalized = normalize(texts, NormalizeConfig(**spec.normalize))
    expected = np.stack([datasketch_signature(t, spec) for t in normalized])
    assert ours.dtype == np.uint32 and ours.shape == (len(texts), num_perm)
    np.testing.assert_array_equal(ours, expected)


def test_signatures_without_whitespace_collapse_equal_datasketch():
    texts = pl.Series(random_texts(60, 3))
    config = NormalizeConfig(collapse_whitespace=False, lowercase=False, nfkc=False)
    spec = SignatureSpec(num_perm=64, seed=5, hash="sha1", normalize=config.model_dump())
    expected = np.stack([datasketch_signature(t, spec) for t in texts])
    np.testing.assert_array_equal(minhash_signatures(texts, spec), expected)


def test_permutations_are_datasketchs():
    minhash = datasketch.MinHash(num_perm=100, seed=9)
    a, b = permutations(100, 9)
    assert minhash.scheme == "affine32"
    np.testing.assert_array_equal(minhash.permutations[0], a)
    np.testing.assert_array_equal(minhash.permutations[1], b)


def test_short_documents_get_one_whole_text_shingle():
    assert shingles("just three words", 5) == [b"just three words"]
    assert shingles("", 5) == [b""]
    assert shingles("abc", 5, "char") == [b"abc"]
    spec = SignatureSpec()
    sig = minhash_signatures(pl.Series(["just three words", "just  three words", "just three"]), spec)
    np.testing.assert_array_equal(sig[0], sig[1])
    assert not np.array_equal(sig[0], sig[2])
    assert (sig < np.uint32(0xFFFFFFFF)).all()


def test_signatures_are_usable_by_datasketch_lsh():
    texts = random_texts(40, 11)
    texts = [t for t in texts if len(t.split()) > 30][:10]
    spec = SignatureSpec(num_perm=128, seed=1, hash="sha1")
    sig = minhash_signatures(pl.Series(texts), spec)
    lsh = datasketch.MinHashLSH(threshold=0.8, num_perm=128)
    for i, values in enumerate(sig):
        lsh.insert(i, datasketch.LeanMinHash(seed=1, hashvalues=values, scheme="affine32"))
    query = datasketch.MinHash(num_perm=128, seed=1)
    query.update_batch(shingles(normalize(pl.Series(texts[3:4]), NormalizeConfig())[0]))
    assert 3 in lsh.query(query)


THRESHOLDS = [round(0.05 * k, 2) for k in range(1, 21)] + [0.001, 0.123, 0.777, 0.999]
WEIGHTS = [(0.5, 0.5), (0.3, 0.7), (0.7, 0.3), (0.01, 0.99), (0.999, 0.001), (0.0, 1.0), (1.0, 0.0)]


@pytest.mark.parametrize("num_perm", [2, 3, 17, 64, 128, pytest.param(256, marks=pytest.mark.slow)])
def test_optimal_bands_match_datasketch_over_a_grid(num_perm):
    from datasketch.lsh import _optimal_param

    optimal_bands.cache_clear()
    picks = {(t, w): optimal_bands(t, num_perm, w) for t in THRESHOLDS for w in WEIGHTS}
    assert picks == {(t, w): _optimal_param(t, num_perm, *w) for t in THRESHOLDS for w in WEIGHTS}


def test_optimal_bands_needs_no_scipy_with_two_nonzero_weights():
    code = ("import sys; from curate.minhash.banding import optimal_bands; "
            "print(optimal_bands(0.8, 128), optimal_bands(0.5, 256, (0.3, 0.7)), 'scipy.integrate' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["(9,", "13)", "(45,", "5)", "False"]


def test_band_edges_star_on_first_doc_of_each_bucket():
    signatures = np.array([[1, 2, 3, 4], [1, 2, 9, 9], [5, 5, 3, 4], [1, 2, 3, 4]], dtype=np.uint32)
    frames = list(band_frames(signatures, bands=2, rows=2))
    edges = pl.concat([band_edges(f) for f in frames]).unique().sort("left", "right")
    assert edges.rows() == [(1, 0), (2, 0), (3, 0)]


def test_chinese_and_japanese_characters_are_words_and_still_equal_datasketch():
    from tests.multilingual import SENTENCES

    assert shingles("今天天气好", 2) == [b"\xe4\xbb\x8a \xe5\xa4\xa9", b"\xe5\xa4\xa9 \xe5\xa4\xa9",
                                         b"\xe5\xa4\xa9 \xe6\xb0\x94", b"\xe6\xb0\x94 \xe5\xa5\xbd"]
    assert shingles("ok 今天 fine", 2) == [b"ok \xe4\xbb\x8a", "今 天".encode(), "天 fine".encode()]
    texts = pl.Series([*SENTENCES["zh"], *SENTENCES["ja"], *SENTENCES["ko"], "mixed 中文 and English", "ｶﾀｶﾅ"])
    for config in (NormalizeConfig(), NormalizeConfig(collapse_whitespace=False, lowercase=False, nfkc=False)):
        spec = SignatureSpec(num_perm=64, seed=5, ngram=3, normalize=config.model_dump())
        expected = np.stack([datasketch_signature(t, spec) for t in normalize(texts, config)])
        np.testing.assert_array_equal(minhash_signatures(texts, spec), expected)
