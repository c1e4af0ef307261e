"""The fleet's correction store on a PostgreSQL server (psycopg 3; `pip install skill_stack[fleet]`).

The same interface as the SQLite store, so `skillstack corrections --db postgresql://...` and a memory opened
on the URL work on it directly; robots normally reach it through their own file (sync.py). Every write takes
one transaction-scoped advisory lock, so writes commit in the order of their `seq` (a sequence value each
changed row takes): a reader that has seen seq N has seen every change up to N, which is what makes a
robot's pull cursor (`pull`) and the index's change feed (`changes_since`) exact and the fingerprint
(db_uid, max seq) a true generation. A deleted record stays as a row with `deleted` set (tombstone: robots
learn of the deletion, provenance stays).
A record whose content changes (narrowed) gets a new row id, as in the SQLite store: the index and
retrieval key on ids; the old id is kept in `retired_ids` with a seq of its own, so the feed says it is gone.
Errors come out as StoreError with one line; a broken connection is reopened on the next call.
"""
from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from hardware.resources import data_dir
from planners.corrections.memory import migrations
from planners.corrections.memory.record import CorrectionRecord, RecordError
from planners.corrections.memory.sqlite import PulledChange, payload
from planners.corrections.memory.store import MEMORY_ENV, Change, CorrectionStore, StoreError, redact, robot_name

try:
    import psycopg
    from psycopg.types.json import Jsonb
except ImportError:  # an optional extra: the error says how to get it when a server URL is used
    psycopg = None  # type: ignore[assignment]

#: advisory lock keys: schema migrations, and every write (one writer at a time: seq order = commit order)
_MIGRATE_LOCK, _WRITE_LOCK = 0x534B4C01, 0x534B4C02
_ROW = "id, record, disabled"
_UPSERT = """
INSERT INTO corrections (uid, seq, created_at, source, kind, skill, task, task_id, robot, operator, share, record,
                         disabled, changed_by)
VALUES (%(uid)s, nextval('correction_changes'), %(created_at)s, %(source)s, %(kind)s, %(skill)s, %(task)s,
        %(task_id)s, %(robot)s, %(operator)s, %(share)s, %(record)s, %(disabled)s, %(changed_by)s)
ON CONFLICT (uid) DO UPDATE SET seq = EXCLUDED.seq,
    id = CASE WHEN corrections.deleted OR corrections.record <> EXCLUDED.record
              THEN nextval('corrections_id_seq') ELSE corrections.id END,
    record = EXCLUDED.record, disabled = EXCLUDED.disabled,
    share = EXCLUDED.share, deleted = FALSE, changed_at = now(), changed_by = EXCLUDED.changed_by
WHERE {condition}
RETURNING id"""
#: a robot's push changes a record only if it is not deleted (a deletion is final) and differs
_PUSH_CONDITION = "NOT corrections.deleted AND (corrections.record <> EXCLUDED.record " \
                  "OR corrections.disabled <> EXCLUDED.disabled)"
#: what a pushed delta may conflict with (sync.py's rule decides): other robots' live deltas of the same skill
#: parameter (or of every skill) about its object's category or about no category
_CONFLICT_CANDIDATES = f"""
SELECT {_ROW} FROM corrections WHERE NOT deleted AND NOT disabled AND kind = 'skill'
    AND (skill IS NULL OR skill = %s) AND record->>'parameter' = %s AND record->>'mode' = 'delta'
    AND (record->'object'->>'category' IS NULL OR record->'object'->>'category' = %s) AND robot IS DISTINCT FROM %s
ORDER BY seq"""

#: (a record being pushed, live fleet records it may conflict with) -> the records to store (sync.py)
Resolver = Callable[[CorrectionRecord, list[CorrectionRecord]], list[CorrectionRecord]]


def cache_dir(url: str) -> Path:
    """Where a robot keeps files derived from this server's store (the index of a memory opened on it)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", redact(url).split("://", 1)[-1]).strip("_")
    return data_dir() / "fleet" / name


class PostgresStore(CorrectionStore):
    """Corrections in a PostgreSQL database; several robots and tools may use it at once. Thread-safe."""

    def __init__(self, location: str | Path | None = None, *, connect_timeout: float = 3.0) -> None:
        if psycopg is None:
            raise StoreError("a PostgreSQL store needs psycopg 3: pip install 'skill_stack[fleet]'")
        self.url = str(location if location is not None else os.environ.get(MEMORY_ENV, ""))
        self.location = redact(self.url)
        self.path = cache_dir(self.url) / "corrections.pg"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.connect_timeout = connect_timeout
        self._lock = threading.RLock()
        self._conn: Any = None
        with self._session() as conn, conn.transaction():
            self.server_uid = self._migrate(conn)

    # ----- connection ---------------------------------------------------------------------------------
    def connect(self) -> Any:
        """A new autocommit connection to the server (LISTEN uses its own)."""
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=max(1, round(self.connect_timeout)))
        except psycopg.Error as err:
            raise StoreError(f"cannot reach the fleet store {self.location}: {_first_line(err)}") from err

    @contextmanager
    def _session(self) -> Iterator[Any]:
        """The store's connection, under its lock; psycopg errors become StoreError, and a connection that
        broke is dropped (the next call reconnects)."""
        with self._lock:
            if self._conn is None or self._conn.closed:
                self._conn = self.connect()
            try:
                yield self._conn
            except psycopg.Error as err:
                if isinstance(err, psycopg.OperationalError) or self._conn.broken:
                    self._conn.close()
                    self._conn = None
                raise StoreError(f"fleet store {self.location}: {_first_line(err)}") from err

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """One transaction holding the write lock."""
        with self._session() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
            yield conn

    def _migrate(self, conn: Any) -> str:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
        if migrations.migrate(conn.execute, migrations.POSTGRES, self.location, "%s"):
            conn.execute("INSERT INTO meta VALUES ('db_uid', %s)", (uuid.uuid4().hex,))
        return str(conn.execute("SELECT value FROM meta WHERE key = 'db_uid'").fetchone()[0])

    # ----- writes -----------------------------------------------------------------------------------
    @staticmethod
    def _row(record: CorrectionRecord) -> dict[str, Any]:
        return {"uid": record.uid, "created_at": record.created_at, "source": record.source, "kind": record.kind,
                "skill": record.skill, "task": record.task, "task_id": record.task_id, "robot": record.robot,
                "operator": record.operator, "share": record.share, "record": Jsonb(payload(record)),
                "disabled": record.disabled, "changed_by": robot_name()}

    def _upsert(self, conn: Any, record: CorrectionRecord, condition: str) -> int | None:
        """Insert or change a record by uid (where `condition` holds); its row id, None if left as it was."""
        row = conn.execute(_UPSERT.format(condition=condition), self._row(record)).fetchone()
        return int(row[0]) if row is not None else None

    @staticmethod
    def _tombstone(conn: Any, where: str, args: tuple) -> int:
        return int(conn.execute(f"UPDATE corrections SET deleted = TRUE, seq = nextval('correction_changes'), "
                                f"changed_at = now(), changed_by = %s WHERE NOT deleted AND {where}",
                                (robot_name(), *args)).rowcount)

    def _add_many(self, records: list[CorrectionRecord], replacing: list[int]) -> list[CorrectionRecord]:
        stored: list[CorrectionRecord] = []
        with self._write() as conn:
            replaced = {r[0] for r in conn.execute("SELECT uid FROM corrections WHERE id = ANY(%s) AND NOT deleted",
                                                   (replacing,))} if replacing else set()
            incoming = {r.uid for r in records}
            gone = sorted(replaced - incoming)  # a narrowed record keeps its uid: changed, not deleted
            if gone:
                self._tombstone(conn, "uid = ANY(%s)", (gone,))
            for record in records:
                row = conn.execute(f"SELECT {_ROW} FROM corrections WHERE uid = %s AND NOT deleted",
                                   (record.uid,)).fetchone()
                if row is not None and record.uid not in replaced:
                    stored.append(self._record(*row))
                    continue
                record_id = self._upsert(conn, record, "TRUE")
                stored.append(replace(record, id=record_id))
        return stored

    def set_disabled(self, record_id: int, disabled: bool = True) -> bool:
        with self._write() as conn:
            return conn.execute("UPDATE corrections SET disabled = %s, seq = nextval('correction_changes'), "
                                "changed_at = now(), changed_by = %s WHERE id = %s AND NOT deleted",
                                (disabled, robot_name(), record_id)).rowcount > 0

    def delete(self, record_id: int) -> bool:
        with self._write() as conn:
            return self._tombstone(conn, "id = %s", (record_id,)) > 0

    # ----- fleet sync ---------------------------------------------------------------------------------
    def push(self, records: Iterable[CorrectionRecord], deleted: Iterable[str],
             resolve: Resolver | None = None) -> None:
        """A robot's changes, in one transaction: records stored or changed by uid (a retry changes nothing),
        deleted uids tombstoned. `resolve` settles conflicts with other robots' records (sync.py)."""
        with self._write() as conn:
            upserts: list[CorrectionRecord] = []
            for record in records:
                if resolve is not None and record.kind == "skill" and record.mode == "delta":
                    category = record.object.category if record.object is not None else None
                    candidates = [self._record(*row) for row in conn.execute(_CONFLICT_CANDIDATES, (
                        record.skill, record.parameter, category, record.robot))]
                    if candidates:  # settled now: what it narrows is stored before the next one is checked
                        for changed in resolve(record, candidates):
                            self._upsert(conn, changed, _PUSH_CONDITION)
                        continue
                upserts.append(record)
            if upserts:
                with conn.cursor() as cursor:  # pipelined: one round trip for the batch, not one per record
                    cursor.executemany(_UPSERT.format(condition=_PUSH_CONDITION), [self._row(r) for r in upserts])
            deleted = sorted(deleted)
            if deleted:
                self._tombstone(conn, "uid = ANY(%s)", (deleted,))

    def pull(self, cursor: int, limit: int = 1000) -> tuple[list[PulledChange], int]:
        """The records changed after `cursor` (a seq), by uid, deleted ones too (what a robot's file takes),
        oldest first, and the cursor after them."""
        with self._session() as conn:
            rows = conn.execute("SELECT seq, id, record, disabled, deleted FROM corrections WHERE seq > %s "
                                "ORDER BY seq LIMIT %s", (cursor, limit)).fetchall()
        changes = [PulledChange(self._record(row_id, document, disabled), disabled, deleted)
                   for _, row_id, document, disabled, deleted in rows]
        return changes, (int(rows[-1][0]) if rows else cursor)

    # ----- reads ------------------------------------------------------------------------------------
    def changes_since(self, cursor: int, limit: int = 10_000) -> tuple[list[Change], int]:
        rows = self._read("SELECT seq, id, record, disabled, deleted FROM corrections WHERE seq > %s "
                          "UNION ALL SELECT seq, id, NULL::jsonb, FALSE, TRUE FROM retired_ids WHERE seq > %s "
                          "ORDER BY seq LIMIT %s", (cursor, cursor, limit))
        changes = [Change(int(seq), int(row_id), None if deleted else self._record(row_id, document, disabled))
                   for seq, row_id, document, disabled, deleted in rows]
        return changes, (changes[-1].seq if changes else cursor)

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._session() as conn:
            return conn.execute(sql, args).fetchall()

    @staticmethod
    def _record(row_id: int, document: dict, disabled: bool) -> CorrectionRecord:
        try:
            return replace(CorrectionRecord.from_dict(document), id=int(row_id), disabled=bool(disabled))
        except RecordError as err:
            raise StoreError(f"correction {row_id} is unreadable ({err})") from err

    def get(self, record_id: int) -> CorrectionRecord | None:
        rows = self._read(f"SELECT {_ROW} FROM corrections WHERE id = %s AND NOT deleted", (record_id,))
        return self._record(*rows[0]) if rows else None

    def by_uid(self, uid: str) -> CorrectionRecord | None:
        rows = self._read(f"SELECT {_ROW} FROM corrections WHERE uid = %s AND NOT deleted", (uid,))
        return self._record(*rows[0]) if rows else None

    def all(self, kind: str | None = None) -> list[CorrectionRecord]:
        where, args = ("AND kind = %s", (kind,)) if kind is not None else ("", ())
        return [self._record(*row) for row in
                self._read(f"SELECT {_ROW} FROM corrections WHERE NOT deleted {where} ORDER BY id", args)]

    def get_many(self, record_ids: Iterable[int]) -> list[CorrectionRecord]:
        wanted = sorted(set(record_ids))
        if not wanted:
            return []
        rows = self._read(f"SELECT {_ROW} FROM corrections WHERE id = ANY(%s) AND NOT deleted ORDER BY id", (wanted,))
        return [self._record(*row) for row in rows]

    def ids(self, *, enabled_only: bool = False) -> list[int]:
        where = " AND NOT disabled" if enabled_only else ""
        return [int(r[0]) for r in self._read(f"SELECT id FROM corrections WHERE NOT deleted{where} ORDER BY id")]

    def __len__(self) -> int:
        return int(self._read("SELECT count(*) FROM corrections WHERE NOT deleted")[0][0])

    def fingerprint(self) -> dict[str, str | int]:
        generation = self._read("SELECT coalesce(max(seq), 0) FROM corrections")[0][0]
        return {"db_uid": self.server_uid, "generation": int(generation)}

    def integrity_ok(self) -> bool:
        """Every row readable as a record, uids unique (the constraint holds them so)."""
        rows = self._read("SELECT count(*), count(DISTINCT uid) FROM corrections")
        self.all()
        return rows[0][0] == rows[0][1]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
