"""Schema versions of the correction stores, as migrations: `SQLITE[v]` / `POSTGRES[v]` are the statements
that take a database from version v to v + 1 (version 0: empty). A store applies the ones it lacks when it
opens, in one transaction, and refuses a database newer than it knows (StoreError).

SQLite (the robot's own file):
  1: corrections (one JSON document per record, with the columns that filter), meta (db_uid, generation)
  2: `disabled` (switched off by the operator: kept, never retrieved)
  3: fleet sync: `share` (robot / fleet), `pushed` (in the fleet store as it is here), tombstones (deletions
     not yet pushed), the fleet cursor in meta
  4: the change feed (`changes`: one row per record id ever stored, with the sequence number of its latest
     insert, switch or deletion, AUTOINCREMENT: never reused, so a reader's cursor stays exact), kept by
     triggers, so no write path can forget it; existing records enter it in id order
PostgreSQL (the fleet's store):
  1: corrections with provenance columns, `seq` (a change counter: every insert and update takes the next
     value, under one write lock, so a robot that has seen seq N has seen every change up to N), tombstones
     as rows (`deleted`: the record stays, for provenance), and a NOTIFY on every change
  2: `retired_ids`: the old id of a record whose content changed (it takes a new id), with a seq of its own,
     so the change feed (PostgresStore.changes_since) says that id is gone
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from planners.corrections.memory.store import StoreError

#: the channel the fleet store notifies on every change (payload empty: a listener pulls what is new)
NOTIFY_CHANNEL = "skill_stack_corrections"

SQLITE: list[list[str]] = [
    [  # 0 -> 1
        """CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS corrections (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            uid TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            source TEXT NOT NULL,
            kind TEXT NOT NULL,
            skill TEXT,
            task TEXT,
            task_id TEXT,
            record TEXT NOT NULL)""",
    ],
    [  # 1 -> 2
        "ALTER TABLE corrections ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0",
    ],
    [  # 2 -> 3
        "ALTER TABLE corrections ADD COLUMN share TEXT NOT NULL DEFAULT 'fleet'",
        "ALTER TABLE corrections ADD COLUMN pushed INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX corrections_outbox ON corrections (pushed) WHERE pushed = 0",
        """CREATE TABLE tombstones (uid TEXT PRIMARY KEY, deleted_at TEXT NOT NULL)""",
    ],
    [  # 3 -> 4
        "CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, record_id INTEGER NOT NULL UNIQUE)",
        "INSERT INTO changes (record_id) SELECT id FROM corrections ORDER BY id",
        *[f"""CREATE TRIGGER corrections_feed_{name} AFTER {event} ON corrections BEGIN
            DELETE FROM changes WHERE record_id = {row}.id;
            INSERT INTO changes (record_id) VALUES ({row}.id); END"""
          # an update of `pushed` alone (the fleet outbox) changes nothing a reader of the feed holds
          for name, event, row in (("insert", "INSERT", "NEW"), ("update", "UPDATE OF disabled, record", "NEW"),
                                   ("delete", "DELETE", "OLD"))],
    ],
]

POSTGRES: list[list[str]] = [
    [  # 0 -> 1
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE SEQUENCE correction_changes",
        """CREATE TABLE corrections (
            id BIGSERIAL PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            seq BIGINT NOT NULL,
            created_at TEXT NOT NULL,
            source TEXT NOT NULL,
            kind TEXT NOT NULL,
            skill TEXT,
            task TEXT,
            task_id TEXT,
            robot TEXT,
            operator TEXT,
            share TEXT NOT NULL,
            record JSONB NOT NULL,
            disabled BOOLEAN NOT NULL DEFAULT FALSE,
            deleted BOOLEAN NOT NULL DEFAULT FALSE,
            changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            changed_by TEXT)""",
        "CREATE INDEX corrections_seq ON corrections (seq)",
        f"""CREATE FUNCTION skill_stack_corrections_notify() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN PERFORM pg_notify('{NOTIFY_CHANNEL}', ''); RETURN NULL; END $$""",
        """CREATE TRIGGER corrections_changed AFTER INSERT OR UPDATE ON corrections
            FOR EACH STATEMENT EXECUTE FUNCTION skill_stack_corrections_notify()""",
    ],
    [  # 1 -> 2
        "CREATE TABLE retired_ids (id BIGINT PRIMARY KEY, seq BIGINT NOT NULL)",
        "CREATE INDEX retired_ids_seq ON retired_ids (seq)",
        # a seq of its own, after the new row's: two changes never share one, so a cursor between them is exact
        """CREATE FUNCTION skill_stack_corrections_retire() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN INSERT INTO retired_ids VALUES (OLD.id, nextval('correction_changes')); RETURN NULL; END $$""",
        """CREATE TRIGGER corrections_id_retired AFTER UPDATE OF id ON corrections
            FOR EACH ROW WHEN (OLD.id <> NEW.id) EXECUTE FUNCTION skill_stack_corrections_retire()""",
    ],
]


def migrate(execute: Callable[..., Any], steps: list[list[str]], where: str, placeholder: str) -> bool:
    """Bring a database to len(steps) with `execute` (its driver's, inside the caller's transaction;
    `placeholder`: its parameter mark, "?" or "%s"). True if the database was new (no version yet)."""
    latest = len(steps)
    execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = execute("SELECT version FROM schema_version").fetchone()
    version = 0 if row is None else int(row[0])
    if version > latest:
        raise StoreError(f"{where} has schema version {version}; this code reads up to {latest}")
    for step in steps[version:]:
        for statement in step:
            execute(statement)
    if row is None:
        execute(f"INSERT INTO schema_version VALUES ({placeholder})", (latest,))
    elif version != latest:
        execute(f"UPDATE schema_version SET version = {placeholder}", (latest,))
    return row is None
