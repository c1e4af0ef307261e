"""The correction store: SQLite in WAL mode, the single source of truth (the FAISS index is derived).

Durability: WAL with `synchronous=FULL` fsyncs the WAL at every commit, so a correction whose `add`
returned survives kill -9 and power loss (NORMAL would survive kill -9 too, since the WAL is written
before the commit returns, but could lose the last commits on power loss; corrections are rare, so the
extra fsync costs nothing that matters). Every write is one transaction. Ids come from AUTOINCREMENT and
are never reused, so a deleted id never comes back meaning something else. `generation` (in `meta`)
grows with every write in the same transaction: the index compares it to know if it is stale. A record the
operator switched off keeps its row (`disabled` = 1): listed, exported, never retrieved.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from hardware.resources import data_dir
from planners.corrections.memory.record import CorrectionRecord, RecordError

DB_FILE = "corrections.db"
#: 2: the `disabled` column (a version-1 file gains it when opened)
SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS corrections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    skill TEXT,
    task TEXT,
    task_id TEXT,
    record TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0
);
"""


#: record fields the table's columns hold, not the JSON document (a disabled record's text stays as it was)
_COLUMNS_ONLY = ("id", "disabled")
#: the columns a record is read from (CorrectionStore._record's arguments)
_ROW = "id, record, disabled"


class StoreError(RuntimeError):
    """The database cannot be opened or has a schema this code does not know."""


#: what a broken memory (a locked or corrupt database, a full disk) can raise; anything else is a bug
MEMORY_ERRORS = (StoreError, sqlite3.Error, OSError, RuntimeError)


def default_db_path() -> Path:
    return data_dir() / DB_FILE


class CorrectionStore:
    """Durable corrections. Thread-safe (one connection behind a lock); several processes may share a file."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per write
            self._db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=10000")
            self._init_schema()
        except sqlite3.DatabaseError as err:
            raise StoreError(f"cannot open correction store {self.path}: {err}") from err

    def _init_schema(self) -> None:
        with self._write() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            row = db.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
                # identifies this database: an index built from another file with the same generation is stale
                db.execute("INSERT INTO meta VALUES ('db_uid', ?)", (uuid.uuid4().hex,))
                db.execute("INSERT INTO meta VALUES ('generation', '0')")
            elif row[0] == 1:  # every version-1 record was enabled
                db.execute("ALTER TABLE corrections ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0")
                db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise StoreError(f"{self.path} has schema version {row[0]}; this code reads {SCHEMA_VERSION}")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction (takes the write lock up front: no upgrade deadlocks between processes)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _bump(self, db: sqlite3.Connection) -> None:
        db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    # ----- writes -----------------------------------------------------------------------------------
    def add(self, record: CorrectionRecord) -> CorrectionRecord:
        """Store a record; returns it with its durable id. Committed (and fsynced) when this returns."""
        return self.add_many([record])[0]

    def add_many(self, records: Iterable[CorrectionRecord], *, replacing: Iterable[int] = ()
                 ) -> list[CorrectionRecord]:
        """All or nothing, in one transaction, with the records `replacing` (ids) deleted in the same one
        (a narrowed record replaces the original: never both, never neither). A record whose uid is
        already stored is returned as stored (import is idempotent)."""
        stored = []
        with self._write() as db:
            for record_id in replacing:
                db.execute("DELETE FROM corrections WHERE id = ?", (record_id,))
            for record in records:
                row = db.execute(f"SELECT {_ROW} FROM corrections WHERE uid = ?", (record.uid,)).fetchone()
                if row is None:
                    payload = {k: v for k, v in record.to_dict().items() if k not in _COLUMNS_ONLY}
                    cur = db.execute(
                        "INSERT INTO corrections (uid, created_at, source, kind, skill, task, task_id, record, "
                        "disabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (record.uid, record.created_at, record.source, record.kind, record.skill, record.task,
                         record.task_id, json.dumps(payload, ensure_ascii=False), int(record.disabled)))
                    stored.append(record.with_id(int(cur.lastrowid or 0)))
                else:
                    stored.append(self._record(*row))
            self._bump(db)
        return stored

    def set_disabled(self, record_id: int, disabled: bool = True) -> bool:
        """Switch a record off (never retrieved) or on again; False if there is no such record."""
        with self._write() as db:
            found = db.execute("UPDATE corrections SET disabled = ? WHERE id = ?",
                               (int(disabled), record_id)).rowcount > 0
            if found:
                self._bump(db)
        return found

    def delete(self, record_id: int) -> bool:
        with self._write() as db:
            deleted = db.execute("DELETE FROM corrections WHERE id = ?", (record_id,)).rowcount > 0
            if deleted:
                self._bump(db)
        return deleted

    # ----- reads ------------------------------------------------------------------------------------
    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    @staticmethod
    def _record(row_id: int, payload: str, disabled: int) -> CorrectionRecord:
        try:
            return replace(CorrectionRecord.from_dict(json.loads(payload)), id=row_id, disabled=bool(disabled))
        except (ValueError, RecordError) as err:
            raise StoreError(f"correction {row_id} is unreadable ({err})") from err

    def get(self, record_id: int) -> CorrectionRecord | None:
        rows = self._read(f"SELECT {_ROW} FROM corrections WHERE id = ?", (record_id,))
        return self._record(*rows[0]) if rows else None

    def all(self, kind: str | None = None) -> list[CorrectionRecord]:
        """Every record in id order (optionally one kind), disabled ones included."""
        if kind is None:
            rows = self._read(f"SELECT {_ROW} FROM corrections ORDER BY id")
        else:
            rows = self._read(f"SELECT {_ROW} FROM corrections WHERE kind = ? ORDER BY id", (kind,))
        return [self._record(*row) for row in rows]

    def get_many(self, record_ids: Iterable[int]) -> list[CorrectionRecord]:
        """The records with these ids that exist, in id order."""
        wanted, rows = sorted(set(record_ids)), []
        for start in range(0, len(wanted), 500):  # SQLite limits the number of bound parameters
            chunk = wanted[start:start + 500]
            rows += self._read(f"SELECT {_ROW} FROM corrections WHERE id IN ({','.join('?' * len(chunk))})",
                               tuple(chunk))
        return [self._record(*row) for row in sorted(rows)]

    def ids(self, *, enabled_only: bool = False) -> list[int]:
        """Record ids in order; `enabled_only`: without the disabled ones (what retrieval may use)."""
        where = " WHERE disabled = 0" if enabled_only else ""
        return [r[0] for r in self._read(f"SELECT id FROM corrections{where} ORDER BY id")]

    def __len__(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM corrections")[0][0])

    def fingerprint(self) -> dict[str, str | int]:
        """Identifies the store's content: (database uid, write generation). The index keys on it."""
        meta = dict(self._read("SELECT key, value FROM meta"))
        return {"db_uid": meta["db_uid"], "generation": int(meta["generation"])}

    def integrity_ok(self) -> bool:
        return self._read("PRAGMA integrity_check")[0][0] == "ok"

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> CorrectionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
