"""The correction store's interface, and which store a location means.

A store is the source of truth for corrections (the FAISS index is derived from it). Two kinds:
- SQLite (planners/corrections/memory/sqlite.py): a file, the default and a robot's own memory;
- PostgreSQL (postgres.py): the fleet's shared store on a server, `postgresql://user@host:port/db`.
A robot in a fleet keeps using its file and syncs it with the server (sync.py: FleetStore), so it loses
nothing when the network does.

Which one `CorrectionStore(location)` (and `open_store`) opens:
- a path, or `sqlite:///path`: that SQLite file;
- `postgresql://...`: the server's store itself (needs the server: for tools and the CLI);
- nothing: `$SKILL_STACK_MEMORY` if set (a path, or a server URL: then this robot's file, synced with that
  server), else the default file, data_dir()/corrections.db.

Records get their provenance here when it is missing: `robot` from `$SKILL_STACK_ROBOT` (else the host
name), `operator` from `$SKILL_STACK_OPERATOR`.
"""
from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from hardware.resources import data_dir
from planners.corrections.memory.record import CorrectionRecord

DB_FILE = "corrections.db"
#: where a store is chosen from when none is given
MEMORY_ENV = "SKILL_STACK_MEMORY"
ROBOT_ENV, OPERATOR_ENV = "SKILL_STACK_ROBOT", "SKILL_STACK_OPERATOR"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_Store = TypeVar("_Store", bound="CorrectionStore")


@dataclass(frozen=True)
class Change:
    """A record id's state after its latest change (CorrectionStore.changes_since): the record as stored now
    (disabled or not), or None when the id is gone (deleted, or retired for a changed record's new id)."""

    seq: int
    record_id: int
    record: CorrectionRecord | None


class StoreError(RuntimeError):
    """The store cannot be opened or reached, or has a schema this code does not know."""


#: what a broken memory (a locked or corrupt database, a full disk, an unreachable server: the PostgreSQL
#: store raises StoreError) can raise; anything else is a bug
MEMORY_ERRORS = (StoreError, sqlite3.Error, OSError, RuntimeError)


def default_db_path() -> Path:
    return data_dir() / DB_FILE


def robot_name() -> str:
    return os.environ.get(ROBOT_ENV) or socket.gethostname()


def operator_name() -> str | None:
    return os.environ.get(OPERATOR_ENV) or None


def is_server_url(location: object) -> bool:
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def redact(url: str) -> str:
    """A server URL without its password (for messages and logs)."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


def store_class(location: str | Path | None) -> type[CorrectionStore]:
    """The class a location opens (see the module's docstring)."""
    if location is None:
        location = os.environ.get(MEMORY_ENV) or None
        if is_server_url(location):
            from planners.corrections.memory.sync import FleetStore
            return FleetStore
    if is_server_url(location):
        from planners.corrections.memory.postgres import PostgresStore
        return PostgresStore
    from planners.corrections.memory.sqlite import SqliteStore
    return SqliteStore


def open_store(location: str | Path | None = None) -> CorrectionStore:
    """The store at `location` (see the module's docstring); raises StoreError."""
    return CorrectionStore(location)


class CorrectionStore:
    """Durable corrections, by record id (the store's own, never reused) and uid (the record's, the same in
    every store: adding a uid that is stored returns the stored record). Thread-safe.

    `CorrectionStore(location)` opens the store a location means (pathlib-style: it returns a subclass,
    which implements every method here that raises NotImplementedError)."""

    #: the store's place on this machine: the index keeps its files next to it
    path: Path
    #: what to call the store in messages (a file, or a server URL without its password)
    location: str

    def __new__(cls, location: str | Path | None = None, *args: Any, **kwargs: Any) -> CorrectionStore:
        if cls is CorrectionStore:
            cls = store_class(location)
        return super().__new__(cls)

    # ----- writes -----------------------------------------------------------------------------------
    def add(self, record: CorrectionRecord) -> CorrectionRecord:
        """Store a record; returns it with its durable id. Committed when this returns."""
        return self.add_many([record])[0]

    def add_many(self, records: Iterable[CorrectionRecord], *, replacing: Iterable[int] = ()
                 ) -> list[CorrectionRecord]:
        """All or nothing, in one transaction, with the records `replacing` (ids) deleted in the same one
        (a narrowed record replaces the original: never both, never neither). A record whose uid is already
        stored is returned as stored (import is idempotent); provenance missing is filled in."""
        robot, operator = robot_name(), operator_name()
        return self._add_many([replace(r, robot=r.robot or robot, operator=r.operator or operator)
                               for r in records], list(replacing))

    def _add_many(self, records: list[CorrectionRecord], replacing: list[int]) -> list[CorrectionRecord]:
        raise NotImplementedError

    def set_disabled(self, record_id: int, disabled: bool = True) -> bool:
        """Switch a record off (never retrieved) or on again; False if there is no such record."""
        raise NotImplementedError

    def delete(self, record_id: int) -> bool:
        """Delete a record; False if there is no such record."""
        raise NotImplementedError

    # ----- reads ------------------------------------------------------------------------------------
    def get(self, record_id: int) -> CorrectionRecord | None:
        raise NotImplementedError

    def by_uid(self, uid: str) -> CorrectionRecord | None:
        raise NotImplementedError

    def all(self, kind: str | None = None) -> list[CorrectionRecord]:
        """Every record in id order (optionally one kind), disabled ones included."""
        raise NotImplementedError

    def get_many(self, record_ids: Iterable[int]) -> list[CorrectionRecord]:
        """The records with these ids that exist, in id order."""
        raise NotImplementedError

    def ids(self, *, enabled_only: bool = False) -> list[int]:
        """Record ids in order; `enabled_only`: without the disabled ones (what retrieval may use)."""
        raise NotImplementedError

    def changes_since(self, cursor: int, limit: int = 10_000) -> tuple[list[Change], int]:
        """The change feed: every record id changed after `cursor` (0: from the start), oldest change first, at
        most `limit`, each once with its state now; and the cursor after them. Only committed changes, in
        commit order, so a reader that has applied everything up to cursor N holds the store as of N: what
        the index and the record cache follow instead of comparing id lists."""
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def fingerprint(self) -> dict[str, str | int]:
        """Identifies the store's content: (database uid, write generation). The index keys on it."""
        raise NotImplementedError

    def integrity_ok(self) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _Store) -> _Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
