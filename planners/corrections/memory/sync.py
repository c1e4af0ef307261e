"""Offline-safe fleet memory: a robot writes to its own SQLite file first and syncs it with the fleet's
PostgreSQL store whenever it can.

Push: the file's outbox (fleet records the server does not hold as they are here, deletions it has not
been told of) goes to the server in one transaction, by uid, so a retry after a lost answer or a crash
stores nothing twice; then the file marks what the server holds. Pull: the server's changes after this
file's cursor (its change counter, see postgres.py) come into the file in one transaction, with the cursor.
The FAISS index follows the file as always: a pulled record is a new row id, which the index embeds
incrementally (the `on_change` callbacks let a memory do that right away rather than at its next retrieval).
A background thread syncs after every local write, on every NOTIFY from the server, and every `poll_s`
anyway; while the server is unreachable it retries with back-off and the robot works from its file.

Conflicts, settled at push time in the server's transaction, against other robots' live deltas of the same
skill parameter that would have applied where the pushed one was taught (the candidates):
- A record that says what it was said against (`based_on`: the records applied to the corrected skill call) is
  re-expressed against the candidates its robot did not have, as if it had been taught after them: its value
  less theirs, then the narrowing rules (planners/corrections/narrowing.py) as at teaching time. Two robots that
  make the same correction at once thus keep one correction's effect, not two ("2 cm higher" twice is 2 cm, the
  second record 0), and two that want different things for objects of one category get one record per kind of
  object, each with its own value.
- A record that does not say (taught outside a skill call) is taken as said against the default: a category-wide
  delta opposing a candidate is narrowed with it to the attribute their objects differ in, keeping its own value.
Both keep every record's robot, operator, time and task, and say what changed in its note.
"""
from __future__ import annotations

import enum
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from planners.corrections.memory.postgres import PostgresStore
from planners.corrections.memory.record import SCOPE_KEYS, CorrectionRecord
from planners.corrections.memory.sqlite import SqliteStore
from planners.corrections.memory.store import MEMORY_ENV, StoreError, is_server_url, redact
from planners.corrections.narrowing import narrow_on_conflict

log = logging.getLogger(__name__)
#: how often a waiting sync thread looks at its wake event between waits for the server's notifications
_TICK_S = 0.02


@dataclass(frozen=True)
class SyncConfig:
    """How a robot syncs with the fleet store.

    poll_s: pull this often even without a notification (one may be missed while reconnecting).
    retry_s, retry_max_s: the first wait after a failed sync, and its cap (doubled each failure).
    connect_timeout_s: how long to try reaching the server.
    batch: records per push or pull transaction.
    listen: wake on the server's NOTIFY (else only local writes and `poll_s` wake a sync)."""

    poll_s: float = 5.0
    retry_s: float = 0.2
    retry_max_s: float = 5.0
    connect_timeout_s: float = 2.0
    batch: int = 1000
    listen: bool = True


class SyncOutcome(enum.Enum):
    SYNCED = "synced"
    #: the server could not be reached or failed; nothing is lost, the next sync retries
    OFFLINE = "offline"


@dataclass(frozen=True)
class SyncReport:
    outcome: SyncOutcome
    pushed: int = 0
    deleted: int = 0
    #: changes pulled from the server, and how many of them changed this file
    pulled: int = 0
    applied: int = 0
    error: str | None = None


def resolve_conflicts(record: CorrectionRecord, fleet: list[CorrectionRecord]) -> list[CorrectionRecord]:
    """What to store for a pushed skill delta, given other robots' live deltas of its skill parameter (the
    candidates, see the module's docstring): the record alone, re-expressed, or with those it opposes, narrowed."""
    if record.based_on is not None:
        return _said_after(record, [f for f in fleet if _would_apply(f, record) and f.uid not in record.based_on
                                    and record.uid not in (f.based_on or ())])
    stored, replaced = narrow_on_conflict([record], fleet)
    if not replaced:
        return [record]
    robots = ", ".join(sorted({r.robot or "?" for r in replaced}))
    out = []
    for narrowed in stored:
        if narrowed.uid == record.uid:  # its own value, not the others' folded in (see the module's docstring)
            attribute = narrowed.scope.partition("+")[2]
            said = getattr(narrowed.object, attribute, None)
            narrowed = replace(narrowed, value=record.value, note="; ".join(
                [*([record.note] if record.note else []), f"narrowed on sync: opposes {robots}; for {attribute} {said}"]))
        out.append(narrowed)
    return out


def _would_apply(other: CorrectionRecord, record: CorrectionRecord) -> bool:
    """`other` passes the retrieval gates of the skill call `record` was taught on (skill, target, scope)."""
    if other.skill not in (None, record.skill) or other.parameter != record.parameter:
        return False
    if other.target is not None and record.target is not None and other.target.category \
            and other.target.category != record.target.category:
        return False
    if other.scope == "any" or other.object is None:
        return True
    return record.object is not None and all(
        not getattr(other.object, k) or getattr(other.object, k) == getattr(record.object, k)
        for k in SCOPE_KEYS[other.scope])


def _said_after(record: CorrectionRecord, unseen: list[CorrectionRecord]) -> list[CorrectionRecord]:
    """`record` as if its robot had had the `unseen` records when it was taught: its value less theirs, then
    narrowed against them as narrow_on_conflict does at teaching time."""
    if not unseen:
        return [record]
    said, applied = _delta(record), sum(_delta(f) for f in unseen)
    robots = ", ".join(sorted({f.robot or "?" for f in unseen}))
    note = f"re-expressed on sync: said {said:+g} without {robots}'s {applied:+g}"
    residual = replace(record, value=round(said - applied, 6),
                       note="; ".join([*([record.note] if record.note else []), note]))
    return narrow_on_conflict([residual], unseen)[0]


def _delta(record: CorrectionRecord) -> float:
    assert isinstance(record.value, (int, float)), record  # a delta's value is a number (record.py checks)
    return float(record.value)


class FleetSync:
    """Syncs one robot's file with the fleet store: `sync_once()` by hand, or `start()` a thread."""

    def __init__(self, local: SqliteStore, server_url: str, config: SyncConfig | None = None) -> None:
        if not is_server_url(server_url):
            raise StoreError(f"not a PostgreSQL URL: {redact(server_url)!r} (postgresql://user@host:port/db)")
        self.local, self.server_url, self.config = local, server_url, config or SyncConfig()
        #: called (in the sync thread) after a pull changed the file: e.g. a memory's index.ensure_current
        self.on_change: list[Callable[[], None]] = []
        self.last: SyncReport | None = None
        self._server: PostgresStore | None = None
        self._listener: Any = None
        self._lock = threading.Lock()
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    # ----- one sync ---------------------------------------------------------------------------------
    def _store(self) -> PostgresStore:
        if self._server is None:
            self._server = PostgresStore(self.server_url, connect_timeout=self.config.connect_timeout_s)
        return self._server

    def sync_once(self) -> SyncReport:
        """Push everything waiting, then pull everything new. Never raises for an unreachable server."""
        with self._lock:
            pushed = deleted = pulled = applied = 0
            try:
                server = self._store()
                sent: set[str] = set()
                while True:
                    records, gone = self.local.outbox(self.config.batch)
                    if not records and not gone or {r.uid for r in records} | set(gone) <= sent:
                        break  # all pushed (or changed here meanwhile: the next sync pushes them again)
                    sent |= {r.uid for r in records} | set(gone)
                    server.push(records, gone, resolve_conflicts)
                    self.local.mark_pushed(records, gone)
                    pushed, deleted = pushed + len(records), deleted + len(gone)
                while True:
                    cursor = self.local.fleet_cursor(server.server_uid)
                    changes, after = server.pull(cursor, self.config.batch)
                    if not changes:
                        break
                    applied += self.local.apply_pulled(changes, server.server_uid, after)
                    pulled += len(changes)
            except StoreError as err:
                self.last = SyncReport(SyncOutcome.OFFLINE, pushed, deleted, pulled, applied, str(err))
                return self.last
            self.last = SyncReport(SyncOutcome.SYNCED, pushed, deleted, pulled, applied)
        if applied:
            for callback in self.on_change:
                try:
                    callback()
                except Exception as err:  # a cache that cannot catch up now does at its next use
                    log.warning("after a fleet sync: %s", err)
        return self.last

    # ----- background -------------------------------------------------------------------------------
    def wake(self) -> None:
        """Sync soon (a local write happened)."""
        self._wake.set()

    def start(self) -> FleetSync:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fleet-sync", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        for closing in (self._listener, self._server):
            if closing is not None:
                closing.close()
        self._listener = self._server = None

    def _run(self) -> None:
        backoff = self.config.retry_s
        while not self._stop.is_set():
            self._wake.clear()
            was = self.last
            report = self.sync_once()
            if was is None or was.outcome is not report.outcome:  # said once per change, not per retry
                if report.outcome is SyncOutcome.OFFLINE:
                    log.warning("fleet store unreachable, working from %s: %s", self.local.path, report.error)
                else:
                    log.info("fleet store %s reached", redact(self.server_url))
            if report.outcome is SyncOutcome.OFFLINE:
                self._drop_listener()
                self._wake.wait(backoff)
                backoff = min(backoff * 2, self.config.retry_max_s)
                continue
            backoff = self.config.retry_s
            self._wait_for_change()

    def _wait_for_change(self) -> None:
        """Until a local write, a notification from the server, `poll_s`, or stop."""
        deadline = time.monotonic() + self.config.poll_s
        while not self._stop.is_set() and not self._wake.is_set() and time.monotonic() < deadline:
            if not self.config.listen:
                self._wake.wait(_TICK_S)
                continue
            listener = self._listen()
            if listener is None:  # the server went away: the next sync finds out (and backs off)
                self._wake.wait(self.config.retry_s)
                return
            try:
                if any(True for _ in listener.notifies(timeout=_TICK_S, stop_after=1)):
                    return
            except Exception as err:  # psycopg.Error: the server went away; the next sync finds out
                log.info("fleet notifications lost (%s)", err)
                self._drop_listener()
                return

    def _listen(self) -> Any:
        if self._listener is None and self._server is not None:
            try:
                from planners.corrections.memory.migrations import NOTIFY_CHANNEL
                self._listener = self._server.connect()
                self._listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
            except Exception as err:  # StoreError or psycopg.Error: poll until it comes back
                log.info("cannot listen for fleet changes (%s)", err)
                self._drop_listener()
        return self._listener

    def _drop_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            finally:
                self._listener = None


class FleetStore(SqliteStore):
    """A robot's memory in a fleet: its own SQLite file (default: data_dir()/corrections.db), synced in the
    background with the fleet store at `location` (default: $SKILL_STACK_MEMORY). Reads and writes never
    wait for the server."""

    def __init__(self, location: str | Path | None = None, *, local: str | Path | None = None,
                 config: SyncConfig | None = None, start: bool = True) -> None:
        server_url = str(location) if location is not None else os.environ.get(MEMORY_ENV, "")
        super().__init__(local)
        self.sync = FleetSync(self, server_url, config)
        if start:
            self.sync.start()

    def _add_many(self, records: list[CorrectionRecord], replacing: list[int]) -> list[CorrectionRecord]:
        stored = super()._add_many(records, replacing)
        self.sync.wake()
        return stored

    def set_disabled(self, record_id: int, disabled: bool = True) -> bool:
        found = super().set_disabled(record_id, disabled)
        self.sync.wake()
        return found

    def delete(self, record_id: int) -> bool:
        deleted = super().delete(record_id)
        self.sync.wake()
        return deleted

    def close(self) -> None:
        """Stop syncing; what is still waiting is pushed now if the server was reachable at the last try
        (else it stays in the file for the next run: nothing waits on an unreachable server)."""
        self.sync.stop()
        last = self.sync.last
        if last is not None and last.outcome is SyncOutcome.SYNCED and self.outbox(1) != ([], []):
            self.sync.sync_once()
            self.sync.stop()
        super().close()
