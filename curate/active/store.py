"""The labelling session's state in SQLite (WAL): pool, labels with who/when, claims, rounds.

Every change is one ``BEGIN IMMEDIATE`` transaction, so a process killed at any point
leaves the database as of its last commit. A partial UNIQUE index allows one active
label per row, so two labellers can never double a label; claims keep them from being
shown the same row.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pool (pos INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS test (pos INTEGER PRIMARY KEY, text TEXT NOT NULL, label INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS labels (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    pos INTEGER NOT NULL REFERENCES pool(pos),
    label INTEGER NOT NULL,
    who TEXT NOT NULL,
    at TEXT NOT NULL,
    round INTEGER,
    active INTEGER NOT NULL DEFAULT 1,
    undone_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS one_active_label ON labels(pos) WHERE active = 1;
CREATE TABLE IF NOT EXISTS claims (pos INTEGER PRIMARY KEY REFERENCES pool(pos), who TEXT NOT NULL, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS rounds (
    round INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    strategy TEXT NOT NULL,
    labels INTEGER NOT NULL,
    query TEXT NOT NULL,
    accuracy REAL,
    changed REAL,
    kwh REAL NOT NULL,
    predictions BLOB
);
"""


def now() -> str:
    """UTC timestamp, ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Store:
    """A session database.

    Parameters
    ----------
    path : Path
        The SQLite file (created with the schema when absent).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on error."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def meta(self) -> dict[str, Any]:
        """The session's settings."""
        return {key: json.loads(value) for key, value in self.db.execute("SELECT key, value FROM meta")}

    def set_meta(self, db: sqlite3.Connection, values: dict[str, Any]) -> None:
        """Store settings inside a write transaction."""
        db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in values.items()])

    def labelled(self) -> list[tuple[int, int]]:
        """(pos, class index) of every active label, oldest first."""
        return self.db.execute("SELECT pos, label FROM labels WHERE active = 1 ORDER BY seq").fetchall()

    def claimed_by_others(self, who: str, ttl: float) -> list[int]:
        """Rows another labeller claimed less than ``ttl`` seconds ago and has not labelled."""
        return [row[0] for row in self.db.execute(
            "SELECT pos FROM claims WHERE who != ? AND at > ?", (who, time.time() - ttl))]

    def own_claims(self, who: str) -> list[int]:
        """Unlabelled rows this labeller claimed and has not answered yet (oldest first)."""
        return [row[0] for row in self.db.execute(
            "SELECT c.pos FROM claims c WHERE c.who = ? AND NOT EXISTS "
            "(SELECT 1 FROM labels l WHERE l.pos = c.pos AND l.active = 1) ORDER BY c.at, c.pos", (who,))]

    def rounds(self) -> list[dict[str, Any]]:
        """Every round's query and metrics."""
        cursor = self.db.execute("SELECT round, at, who, strategy, labels, query, accuracy, changed, kwh FROM rounds ORDER BY round")
        names = [d[0] for d in cursor.description]
        return [{**dict(zip(names, row, strict=True)), "query": json.loads(row[5])} for row in cursor]
