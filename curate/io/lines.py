"""Physical lines of a text file, and CSV records assembled from them without losing one.

Every physical line of a CSV ends up in exactly one place: the header, a blank line, a row
(a record may span several lines when a quoted field holds line breaks; such records are
counted and reported), or quarantine with its line number and its raw bytes. A record that
fails (a quote never closed within ``max_record_lines``, a stray quote, the wrong number of
fields) is quarantined by its first line, and parsing starts again on the next line, so one
bad quote costs one line, not the rest of the file.
"""

from __future__ import annotations

import base64
import codecs
import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from curate.errors import InputError


@dataclass
class Line:
    """One physical line: its 1-based number, its text (``None`` when undecodable) and raw bytes."""

    number: int
    text: str | None
    raw: bytes | None = None


@dataclass
class LineCount:
    """Where every physical line of the input went; the parts add up to ``lines``."""

    lines: int = 0
    header: int = 0
    blank: int = 0
    rows: int = 0
    row_lines: int = 0
    quarantined: int = 0
    multiline_records: int = 0
    multiline_examples: list[tuple[int, int]] = field(default_factory=list)

    def check(self) -> None:
        """Fail loudly if a line is unaccounted for (a bug, never a user error)."""
        if self.header + self.blank + self.row_lines + self.quarantined != self.lines:
            raise AssertionError(f"line accounting broken: {self.to_dict()}")

    def add(self, other: LineCount) -> None:
        """Add another file's accounting (shards read as one dataset)."""
        for name in ("lines", "header", "blank", "rows", "row_lines", "quarantined", "multiline_records"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.multiline_examples = (self.multiline_examples + other.multiline_examples)[:20]

    def to_dict(self) -> dict:
        """The numbers for report.json."""
        return {"lines": self.lines, "header_lines": self.header, "blank_lines": self.blank, "rows": self.rows,
                "row_lines": self.row_lines, "quarantined_lines": self.quarantined,
                "multiline_records": self.multiline_records,
                "multiline_examples": [list(span) for span in self.multiline_examples]}


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8"


def split_lines(raw: bytes, encoding: str) -> list[Line]:
    """The physical lines of ``raw`` (``\\n`` or ``\\r\\n`` endings; a UTF-8 BOM is dropped).

    When the whole file decodes, lines carry text only; otherwise each line is decoded on
    its own and an undecodable one keeps its raw bytes and ``text=None``.
    """
    if _is_utf8(encoding) and raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        pieces = raw.decode(encoding).split("\n")
        if pieces and pieces[-1] == "":
            pieces.pop()
        return [Line(number, text.removesuffix("\r")) for number, text in enumerate(pieces, start=1)]
    except UnicodeDecodeError:
        pass
    chunks = raw.split(b"\n")
    if chunks and chunks[-1] == b"":
        chunks.pop()
    lines = []
    for number, chunk in enumerate(chunks, start=1):
        chunk = chunk.removesuffix(b"\r")
        try:
            lines.append(Line(number, chunk.decode(encoding)))
        except UnicodeDecodeError:
            lines.append(Line(number, None, chunk))
    return lines


def quarantine_record(path: Path, line: Line, reason: str) -> dict:
    """A quarantine.jsonl row: the file, line number, reason and the line as it was.

    ``raw`` is the line's text; for bytes that are not valid in the encoding it shows them
    escaped (``\\xe9``) and ``raw_base64`` holds the exact bytes.
    """
    row = {"file": str(path), "line": line.number, "reason": reason}
    if line.text is not None:
        row["raw"] = line.text
    else:
        row["raw"] = line.raw.decode("ascii", errors="backslashreplace")
        row["raw_base64"] = base64.b64encode(line.raw).decode("ascii")
    return row


class _Window:
    """Feeds lines to :func:`csv.reader`, at most ``limit`` per record and never past an undecodable line."""

    def __init__(self, lines: list[Line], limit: int) -> None:
        self.lines = lines
        self.limit = limit
        self.pos = 0
        self.start = 0

    def __iter__(self) -> _Window:
        return self

    def __next__(self) -> str:
        if self.pos >= len(self.lines) or self.pos - self.start >= self.limit:
            raise StopIteration
        line = self.lines[self.pos]
        if line.text is None:
            raise StopIteration
        self.pos += 1
        return line.text + "\n"


@dataclass
class CsvRecords:
    """The parsed records: header, rows, where each row's lines went, and the failures."""

    header: list[str] | None
    rows: list[list[str]]
    count: LineCount
    starts: list[int] = field(default_factory=list)


def parse_csv(lines: list[Line], path: Path, *, separator: str, quote_char: str | None, has_header: bool,
              max_record_lines: int, fail: Callable[[Line, str], None]) -> CsvRecords:
    """Assemble CSV records from ``lines``; ``fail(line, reason)`` quarantines (or raises).

    A record is quarantined by its first line when its quote is not closed within
    ``max_record_lines`` lines (or before an undecodable line or the end of the file), when
    the csv module rejects it, or when its number of fields differs from the header's.
    Parsing then resumes on the line after the record's first line. A bad header stops
    the read in both modes: without it no row can be read.
    """
    quoting = csv.QUOTE_NONE if quote_char is None else csv.QUOTE_MINIMAL
    window = _Window(lines, max_record_lines)
    reader = csv.reader(window, delimiter=separator, quotechar=quote_char, quoting=quoting, strict=True)
    count = LineCount(lines=len(lines))
    header: list[str] | None = None
    width: int | None = None
    rows: list[list[str]] = []
    starts: list[int] = []

    def reject(line: Line, reason: str) -> None:
        if has_header and header is None:
            raise InputError(f"{path}, line {line.number}: the header is malformed: {reason}",
                             hint="fix the header line, or set input.has_header: false")
        count.quarantined += 1
        fail(line, reason)

    while window.pos < len(lines):
        first = lines[window.pos]
        if first.text is None:
            window.pos += 1
            reject(first, "bytes that are not valid in the file's encoding")
            continue
        window.start = window.pos
        try:
            row = next(reader)
        except StopIteration:  # pragma: no cover - the loop condition leaves a line to read
            break
        except csv.Error as exc:
            spanned = window.pos - window.start
            window.pos = window.start + 1
            reject(first, _csv_reason(exc, spanned, max_record_lines, lines, window.start))
            continue
        spanned = window.pos - window.start
        if not row:
            count.blank += 1
            continue
        if header is None and has_header:
            if spanned > 1:
                window.pos = window.start + 1
                reject(first, f"a quoted field runs over {spanned} lines")
            header, width = row, len(row)
            count.header += 1
            continue
        if width is None:
            width = len(row)
        if len(row) != width:
            window.pos = window.start + 1
            where = "" if spanned == 1 else f" (a record running to line {first.number + spanned - 1})"
            reject(first, f"expected {width} fields, found {len(row)}{where}")
            continue
        rows.append(row)
        starts.append(first.number)
        count.rows += 1
        count.row_lines += spanned
        if spanned > 1:
            count.multiline_records += 1
            if len(count.multiline_examples) < 20:
                count.multiline_examples.append((first.number, first.number + spanned - 1))
    count.check()
    return CsvRecords(header, rows, count, starts)


def _csv_reason(exc: csv.Error, spanned: int, limit: int, lines: list[Line], start: int) -> str:
    message = str(exc)
    if "unexpected end of data" not in message:
        if spanned > 1:  # the quote opened here was closed by a quote on a later line, in the wrong place
            return (f"a quoted field opened on this line is not closed on it; the record runs to line "
                    f"{lines[start + spanned - 1].number}, where the CSV reader fails ({message})")
        return f"malformed CSV: {message}"
    end = start + spanned
    if spanned >= limit:
        return (f"a quoted field opened on this line is not closed within {limit} lines "
                f"(raise input.max_record_lines if records really are that long)")
    if end < len(lines) and lines[end].text is None:
        return f"a quoted field opened on this line is not closed before line {lines[end].number}, which is not valid text"
    return "a quoted field opened on this line is never closed"
