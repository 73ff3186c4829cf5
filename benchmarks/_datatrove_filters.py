"""Run datatrove's Gopher quality, Gopher repetition and C4 quality filters on a JSONL corpus.

Executed by bench_quality.py inside benchmarks/.venv-datatrove (datatrove 0.10.1 needs
xxhash<4). Writes one JSON line per document: id and the first failing filter's reason
(null when kept), then a last line with the timing.
"""

import json
import sys
import time

from datatrove.data import Document
from datatrove.pipeline.filters import C4QualityFilter, GopherQualityFilter, GopherRepetitionFilter


def main(corpus: str, out: str) -> None:
    docs = []
    with open(corpus, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            docs.append(Document(text=row["text"], id=row["id"]))
    filters = [("gopher_quality", GopherQualityFilter()), ("gopher_repetition", GopherRepetitionFilter()),
               ("c4", C4QualityFilter())]
    filters[0][1].filter(Document(text="warm up the tokenizer " * 20, id="warm"))
    reasons = []
    start = time.perf_counter()
    for doc in docs:
        reason = None
        for family, f in filters:
            verdict = f.filter(doc)
            if verdict is not True and verdict is not None and not (isinstance(verdict, tuple) and verdict[0]):
                reason = f"{family}:{verdict[1] if isinstance(verdict, tuple) else 'drop'}"
                break
        reasons.append(reason)
    seconds = time.perf_counter() - start
    with open(out, "w", encoding="utf-8") as handle:
        for doc, reason in zip(docs, reasons, strict=True):
            handle.write(json.dumps({"id": doc.id, "reason": reason}) + "\n")
        handle.write(json.dumps({"seconds": seconds}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
