"""The SQLite correction store (WAL mode): the default, and a robot's own memory in a fleet.

Durability: WAL with `synchronous=FULL` fsyncs the WAL at every commit, so a correction whose `add`
returned survives kill -9 and power loss (NORMAL would survive kill -9 too, since the WAL is written
before the commit returns, but could lose the last commits on power loss; corrections are rare, so the
extra fsync costs nothing that matters). Every write is one transaction. Ids come from AUTOINCREMENT and
are never reused, so a deleted id never comes back meaning something else. `generation` (in `meta`)
grows with every write in the same transaction: the index compares it to know if it is stale. A record the
operator switched off keeps its row (`disabled` = 1): listed, exported, never retrieved.

The change feed (`changes_since`) is the `changes` table, which triggers keep in the writing transaction
(migrations.py, version 4): one row per record id, renumbered at its every insert, switch and deletion. SQLite
has one writer at a time and readers see whole transactions, so sequence order is commit order and a cursor
never skips a change; a killed writer's transaction leaves neither its rows nor their changes.

Fleet sync (sync.py) works through `outbox`, `mark_pushed`, `fleet_cursor` and `apply_pulled`: a fleet
record written here has `pushed` = 0 until the server holds it as it is here; a deleted one leaves a
tombstone until the server has it; what other robots wrote arrives with `pushed` = 1. A record changed by
the fleet (narrowed, say) gets a new row id, so the index and retrieval, which key on ids, see a new record.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from planners.corrections.memory import migrations
from planners.corrections.memory.record import CorrectionRecord, RecordError, utc_now
from planners.corrections.memory.store import MEMORY_ENV, Change, CorrectionStore, StoreError, default_db_path, \
    is_server_url

#: record fields the table's columns hold, not the JSON document (a disabled record's text stays as it was)
_COLUMNS_ONLY = ("id", "disabled")
#: the columns a record is read from (SqliteStore._record's arguments)
_ROW = "id, record, disabled"


def payload(record: CorrectionRecord) -> dict:
    """The record as its JSON document (what is the same in every store: no row id, no switch)."""
    return {k: v for k, v in record.to_dict().items() if k not in _COLUMNS_ONLY}


def _same(document: str, record: CorrectionRecord) -> bool:
    """A stored document says what the record says (read as a record: a document from before a field
    existed has its default)."""
    try:
        return payload(CorrectionRecord.from_dict(json.loads(document))) == payload(record)
    except (ValueError, RecordError):
        return False


@dataclass(frozen=True)
class PulledChange:
    """A record as the fleet store holds it now (sync.py pulls these)."""

    record: CorrectionRecord
    disabled: bool
    deleted: bool


def _local_path(location: str | Path | None) -> Path:
    if location is None:
        env = os.environ.get(MEMORY_ENV)
        return Path(env) if env and not is_server_url(env) else default_db_path()
    text = str(location)
    return Path(text[len("sqlite:///") - 1:] if text.startswith("sqlite:///") else text)


class SqliteStore(CorrectionStore):
    """Durable corrections in one file. Thread-safe (one connection behind a lock); several processes may
    share a file."""

    def __init__(self, location: str | Path | None = None) -> None:
        self.path = _local_path(location)
        self.location = str(self.path)
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
            if migrations.migrate(db.execute, migrations.SQLITE, str(self.path), "?"):
                # identifies this database: an index built from another file with the same generation is stale
                db.execute("INSERT INTO meta VALUES ('db_uid', ?)", (uuid.uuid4().hex,))
                db.execute("INSERT INTO meta VALUES ('generation', '0')")

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

    @staticmethod
    def _bump(db: sqlite3.Connection) -> None:
        db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")

    @staticmethod
    def _insert(db: sqlite3.Connection, record: CorrectionRecord, *, disabled: bool, pushed: bool) -> int:
        cur = db.execute(
            "INSERT INTO corrections (uid, created_at, source, kind, skill, task, task_id, record, disabled, share, "
            "pushed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.uid, record.created_at, record.source, record.kind, record.skill, record.task, record.task_id,
             json.dumps(payload(record), ensure_ascii=False), int(disabled), record.share, int(pushed)))
        return int(cur.lastrowid or 0)

    @staticmethod
    def _remove(db: sqlite3.Connection, record_id: int, *, tombstone: bool) -> bool:
        """Delete a row; a fleet record leaves a tombstone (the deletion is pushed) unless `tombstone` is False."""
        row = db.execute("SELECT uid, share FROM corrections WHERE id = ?", (record_id,)).fetchone()
        if row is None:
            return False
        db.execute("DELETE FROM corrections WHERE id = ?", (record_id,))
        if tombstone and row[1] == "fleet":
            db.execute("INSERT OR REPLACE INTO tombstones VALUES (?, ?)", (row[0], utc_now()))
        return True

    # ----- writes -----------------------------------------------------------------------------------
    def _add_many(self, records: list[CorrectionRecord], replacing: list[int]) -> list[CorrectionRecord]:
        stored = []
        with self._write() as db:
            for record_id in replacing:
                self._remove(db, record_id, tombstone=True)
            for record in records:
                row = db.execute(f"SELECT {_ROW} FROM corrections WHERE uid = ?", (record.uid,)).fetchone()
                if row is None:
                    # a narrowed record keeps its uid: it is the same record, changed (not a deletion)
                    db.execute("DELETE FROM tombstones WHERE uid = ?", (record.uid,))
                    record_id = self._insert(db, record, disabled=record.disabled, pushed=False)
                    stored.append(replace(record, id=record_id))
                else:
                    stored.append(self._record(*row))
            self._bump(db)
        return stored

    def set_disabled(self, record_id: int, disabled: bool = True) -> bool:
        with self._write() as db:
            found = db.execute("UPDATE corrections SET disabled = ?, pushed = 0 WHERE id = ?",
                               (int(disabled), record_id)).rowcount > 0
            if found:
                self._bump(db)
        return found

    def delete(self, record_id: int) -> bool:
        with self._write() as db:
            deleted = self._remove(db, record_id, tombstone=True)
            if deleted:
                self._bump(db)
        return deleted

    # ----- fleet sync -------------------------------------------------------------------------------
    def outbox(self, limit: int = 1000) -> tuple[list[CorrectionRecord], list[str]]:
        """(fleet records the server does not hold as they are here, deleted uids it has not been told of)."""
        rows = self._read(f"SELECT {_ROW} FROM corrections WHERE pushed = 0 AND share = 'fleet' ORDER BY id LIMIT ?",
                          (limit,))
        deleted = [r[0] for r in self._read("SELECT uid FROM tombstones ORDER BY uid LIMIT ?", (limit,))]
        return [self._record(*row) for row in rows], deleted

    def mark_pushed(self, records: Iterable[CorrectionRecord], deleted: Iterable[str]) -> None:
        """The server holds these as given: a record changed here meanwhile stays in the outbox."""
        with self._write() as db:
            for record in records:
                row = db.execute("SELECT id, record, disabled FROM corrections WHERE uid = ?", (record.uid,)).fetchone()
                if row is not None and bool(row[2]) == record.disabled and _same(row[1], record):
                    db.execute("UPDATE corrections SET pushed = 1 WHERE id = ?", (row[0],))
            for uid in deleted:
                db.execute("DELETE FROM tombstones WHERE uid = ?", (uid,))

    def fleet_cursor(self, server_uid: str) -> int:
        """The last change of that fleet store this file has (0: none)."""
        rows = self._read("SELECT value FROM meta WHERE key = ?", (f"fleet_cursor:{server_uid}",))
        return int(rows[0][0]) if rows else 0

    def apply_pulled(self, changes: Iterable[PulledChange], server_uid: str, cursor: int) -> int:
        """Take the fleet's changes in one transaction and move the cursor; returns how many changed this
        file. A change here not pushed yet wins over the fleet's (it is pushed next, and then is the
        fleet's); a deletion wins over everything."""
        changed = 0
        with self._write() as db:
            for change in changes:
                record = change.record
                row = db.execute("SELECT id, record, disabled, pushed FROM corrections WHERE uid = ?",
                                 (record.uid,)).fetchone()
                if change.deleted:
                    if row is not None:
                        changed += self._remove(db, int(row[0]), tombstone=False)
                    continue
                if row is None:
                    if db.execute("SELECT 1 FROM tombstones WHERE uid = ?", (record.uid,)).fetchone() is None:
                        self._insert(db, record, disabled=change.disabled, pushed=True)
                        changed += 1
                    continue
                if not row[3]:
                    continue
                if not _same(row[1], record):
                    self._remove(db, int(row[0]), tombstone=False)
                    self._insert(db, record, disabled=change.disabled, pushed=True)
                    changed += 1
                elif bool(row[2]) != change.disabled:
                    db.execute("UPDATE corrections SET disabled = ? WHERE id = ?", (int(change.disabled), row[0]))
                    changed += 1
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"fleet_cursor:{server_uid}", str(cursor)))
            if changed:
                self._bump(db)
        return changed

    # ----- reads ------------------------------------------------------------------------------------
    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    @staticmethod
    def _record(row_id: int, document: str, disabled: int) -> CorrectionRecord:
        try:
            return replace(CorrectionRecord.from_dict(json.loads(document)), id=row_id, disabled=bool(disabled))
        except (ValueError, RecordError) as err:
            raise StoreError(f"correction {row_id} is unreadable ({err})") from err

    def get(self, record_id: int) -> CorrectionRecord | None:
        rows = self._read(f"SELECT {_ROW} FROM corrections WHERE id = ?", (record_id,))
        return self._record(*rows[0]) if rows else None

    def by_uid(self, uid: str) -> CorrectionRecord | None:
        rows = self._read(f"SELECT {_ROW} FROM corrections WHERE uid = ?", (uid,))
        return self._record(*rows[0]) if rows else None

    def all(self, kind: str | None = None) -> list[CorrectionRecord]:
        if kind is None:
            rows = self._read(f"SELECT {_ROW} FROM corrections ORDER BY id")
        else:
            rows = self._read(f"SELECT {_ROW} FROM corrections WHERE kind = ? ORDER BY id", (kind,))
        return [self._record(*row) for row in rows]

    def get_many(self, record_ids: Iterable[int]) -> list[CorrectionRecord]:
        wanted, rows = sorted(set(record_ids)), []
        for start in range(0, len(wanted), 500):  # SQLite limits the number of bound parameters
            chunk = wanted[start:start + 500]
            rows += self._read(f"SELECT {_ROW} FROM corrections WHERE id IN ({','.join('?' * len(chunk))})",
                               tuple(chunk))
        return [self._record(*row) for row in sorted(rows)]

    def ids(self, *, enabled_only: bool = False) -> list[int]:
        where = " WHERE disabled = 0" if enabled_only else ""
        return [r[0] for r in self._read(f"SELECT id FROM corrections{where} ORDER BY id")]

    def changes_since(self, cursor: int, limit: int = 10_000) -> tuple[list[Change], int]:
        rows = self._read("SELECT c.seq, c.record_id, r.record, r.disabled FROM changes c "
                          "LEFT JOIN corrections r ON r.id = c.record_id WHERE c.seq > ? ORDER BY c.seq LIMIT ?",
                          (cursor, limit))
        changes = [Change(seq, record_id, None if document is None else self._record(record_id, document, disabled))
                   for seq, record_id, document, disabled in rows]
        return changes, (changes[-1].seq if changes else cursor)

    def __len__(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM corrections")[0][0])

    def fingerprint(self) -> dict[str, str | int]:
        meta = dict(self._read("SELECT key, value FROM meta WHERE key IN ('db_uid', 'generation')"))
        return {"db_uid": meta["db_uid"], "generation": int(meta["generation"])}

    def integrity_ok(self) -> bool:
        return self._read("PRAGMA integrity_check")[0][0] == "ok"

    def close(self) -> None:
        with self._lock:
            self._db.close()
