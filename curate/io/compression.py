"""Compressed input files: tell the format under a compression suffix, and read the bytes.

One function per job so a reader of shard folders can call them per file: :func:`strip_compression`
says which format hides under ``data.jsonl.gz``, :func:`read_bytes` returns a file's
decompressed bytes (Arrow's codecs: gzip, bz2, zstd, lz4) or an :class:`InputError` that says
what is wrong with it, and :func:`source_of` what a reader that maps files can take.
"""

from __future__ import annotations

import errno
import io
from pathlib import Path

import pyarrow as pa

from curate.errors import InputError

COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd", ".lz4": "lz4"}


def strip_compression(path: Path) -> tuple[str, str | None]:
    """The suffix that names the format (``.jsonl`` of ``a.jsonl.gz``) and the codec, if any."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSIONS:
        return (suffixes[-2] if len(suffixes) > 1 else ""), COMPRESSIONS[suffixes[-1]]
    return (suffixes[-1] if suffixes else ""), None


def read_bytes(path: Path, limit: int = -1) -> bytes:
    """The bytes of ``path`` (the first ``limit`` of them, when given), decompressed when its name
    ends in a compression suffix.

    Raises
    ------
    InputError
        The file cannot be read (permissions, a folder, a broken compressed stream).
    """
    _, codec = strip_compression(path)
    try:
        if codec is None and limit < 0:
            return path.read_bytes()
        if codec is None:
            with path.open("rb") as handle:
                return handle.read(limit)
        with pa.input_stream(str(path), compression=codec) as stream:
            return stream.read(None if limit < 0 else limit)
    except IsADirectoryError:
        raise InputError(f"input path {path} is a folder, but input.format names a file format",
                         hint="set input.format: auto (a folder of .txt files or a datasets folder), or point input.path at a file") from None
    except PermissionError:
        raise InputError(f"input file {path} cannot be read: permission denied",
                         hint=f"give your user read access (chmod +r {path}) or copy the file somewhere readable") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"input path {path} is a symbolic link loop", hint="point input.path at a real file") from None
        reason = exc.strerror or str(exc).splitlines()[0]
        raise InputError(f"input file {path} cannot be read: {reason}",
                         hint=f"check the file; a {codec} file must be a complete {codec} stream" if codec else "check the file") from None
    except pa.ArrowException as exc:
        raise InputError(f"input file {path} is not a valid {codec} stream: {str(exc).splitlines()[0]}",
                         hint="check the file is complete, or rename it if it is not compressed") from None


def source_of(path: Path) -> Path | io.BytesIO:
    """``path`` itself when it is not compressed (a reader maps it: the file is not copied into
    memory first), else its decompressed bytes; errors as :func:`read_bytes`."""
    if strip_compression(path)[1] is not None:
        return io.BytesIO(read_bytes(path))
    read_bytes(path, limit=0)  # readable: a file, not a folder, with permission
    return path
