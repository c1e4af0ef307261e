"""The correction store: real SQLite (WAL) on disk, durable ids, atomic writes, and a kill -9 loop."""
from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from planners.corrections.memory import (CorrectionRecord, CorrectionStore, ObjectContext, PlanRule, RecordError,
                                        StoreError)

REPO = Path(__file__).resolve().parents[3]


def skill_record(text: str = "grasp it lower", value: float = -0.01, **kw) -> CorrectionRecord:
    return CorrectionRecord(text=text, kind="skill", skill="pick", parameter="grasp_offset", mode="delta",
                            value=value, object=ObjectContext("red_cube", "cube", "red", "large"), **kw)


def plan_record() -> CorrectionRecord:
    return CorrectionRecord(text="that goes in the tray", kind="plan", source="cli",
                            rule=PlanRule("destination", {"match": {"category": "cube"}, "container": "tray"}))


def test_add_get_list_delete_and_ids_are_never_reused(tmp_path):
    with CorrectionStore(tmp_path / "c.db") as store:
        a, b = store.add(skill_record()), store.add(plan_record())
        assert (a.id, b.id) == (1, 2) and len(store) == 2
        assert store.get(2) == b and store.get(99) is None
        assert [r.kind for r in store.all()] == ["skill", "plan"] and store.all("plan") == [b]
        assert store.delete(2) and not store.delete(2)
        assert store.add(skill_record("grasp higher", 0.01)).id == 3  # AUTOINCREMENT: 2 stays retired
    with CorrectionStore(tmp_path / "c.db") as reopened:  # durable across processes/opens
        assert [r.id for r in reopened.all()] == [1, 3]
        assert reopened.get(1).object == ObjectContext("red_cube", "cube", "red", "large")


def test_wal_mode_full_sync_and_schema_version(tmp_path):
    with CorrectionStore(tmp_path / "c.db") as store:
        store.add(skill_record())
    raw = sqlite3.connect(tmp_path / "c.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent in the file
    assert raw.execute("SELECT version FROM schema_version").fetchone()[0] == 4  # 4: the change feed (migrations.py)
    raw.execute("UPDATE schema_version SET version = 99")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="schema version 99"):
        CorrectionStore(tmp_path / "c.db")


def test_a_disabled_record_is_kept_listed_and_can_be_enabled_again(tmp_path):
    with CorrectionStore(tmp_path / "c.db") as store:
        a, b = store.add(skill_record()), store.add(plan_record())
        before = store.fingerprint()["generation"]
        assert store.set_disabled(a.id) and not store.set_disabled(99)
        assert store.fingerprint()["generation"] > before  # retrieval and the index see the change
        assert store.get(a.id).disabled and not store.get(b.id).disabled
        assert store.ids() == [1, 2] and store.ids(enabled_only=True) == [2]
        assert [r.disabled for r in store.all()] == [True, False]
        assert store.get(a.id).to_dict()["disabled"] is True  # exported with the record
        assert store.set_disabled(a.id, False) and store.ids(enabled_only=True) == [1, 2]
        imported = store.add_many([CorrectionRecord(**{**skill_record().to_dict(), "disabled": True})])[0]
        assert store.get(imported.id).disabled  # an import keeps the switch
    raw = sqlite3.connect(tmp_path / "c.db")
    assert "disabled" not in raw.execute("SELECT record FROM corrections WHERE id = 3").fetchone()[0]
    raw.close()


def test_a_version_1_database_gains_the_disabled_column(tmp_path):
    raw = sqlite3.connect(tmp_path / "c.db")
    raw.executescript("""
        CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('db_uid', 'old'); INSERT INTO meta VALUES ('generation', '1');
        CREATE TABLE corrections (id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL, source TEXT NOT NULL, kind TEXT NOT NULL, skill TEXT, task TEXT,
            task_id TEXT, record TEXT NOT NULL);""")
    old = {k: v for k, v in skill_record().to_dict().items() if k not in ("id", "disabled")}
    raw.execute("INSERT INTO corrections (uid, created_at, source, kind, skill, record) VALUES (?, ?, ?, ?, ?, ?)",
                (old["uid"], old["created_at"], "api", "skill", "pick", json.dumps(old)))
    raw.commit()
    raw.close()
    with CorrectionStore(tmp_path / "c.db") as store:
        assert [(r.text, r.disabled) for r in store.all()] == [("grasp it lower", False)]
        assert store.set_disabled(1) and store.ids(enabled_only=True) == []
    with CorrectionStore(tmp_path / "c.db") as again:  # migrated once, opened as version 2 after
        assert again.get(1).disabled


def test_a_version_3_database_keeps_every_record_and_enters_them_in_the_change_feed(tmp_path):
    from planners.corrections.memory import migrations

    raw = sqlite3.connect(tmp_path / "c.db")
    for statement in [s for step in migrations.SQLITE[:3] for s in step]:  # the schema as version 3 left it
        raw.execute(statement)
    raw.executescript("""CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (3);
        INSERT INTO meta VALUES ('db_uid', 'v3'); INSERT INTO meta VALUES ('generation', '7');
        INSERT INTO tombstones VALUES ('gone-uid', '2026-11-30T00:00:00Z');""")
    old = [skill_record(f"grasp it {i} mm lower", -i / 1000) for i in range(1, 6)]
    for i, record in enumerate(old):
        document = {k: v for k, v in record.to_dict().items() if k not in ("id", "disabled")}
        raw.execute("INSERT INTO corrections (id, uid, created_at, source, kind, skill, record, disabled, pushed) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", (10 * (i + 1), record.uid, record.created_at, "api", "skill",
                                                           "pick", json.dumps(document), int(i == 2), int(i % 2)))
    raw.commit()
    raw.close()
    with CorrectionStore(tmp_path / "c.db") as store:
        assert [(r.id, r.text, r.disabled) for r in store.all()] == \
            [(10 * (i + 1), r.text, i == 2) for i, r in enumerate(old)]
        assert store.fingerprint() == {"db_uid": "v3", "generation": 7}
        assert store.outbox() == ([r for r in store.all() if r.id in (10, 30, 50)], ["gone-uid"])  # sync state kept
        changes, cursor = store.changes_since(0)
        assert [(c.record_id, c.record) for c in changes] == [(r.id, r) for r in store.all()]
        new = store.add(skill_record("grasp it higher", 0.01))
        assert [c.record_id for c in store.changes_since(cursor)[0]] == [new.id] and new.id == 51
    with CorrectionStore(tmp_path / "c.db") as again:  # migrated once
        assert len(again) == 6 and len(again.changes_since(0)[0]) == 6


def test_fingerprint_changes_with_every_write(tmp_path):
    with CorrectionStore(tmp_path / "c.db") as store:
        first = store.fingerprint()
        record = store.add(skill_record())
        second = store.fingerprint()
        store.delete(record.id)
        third = store.fingerprint()
    assert first["generation"] < second["generation"] < third["generation"]
    assert first["db_uid"] == third["db_uid"]
    with CorrectionStore(tmp_path / "other.db") as other:
        assert other.fingerprint()["db_uid"] != first["db_uid"]


def test_add_many_is_all_or_nothing(tmp_path):
    def records_then_crash():
        yield skill_record()
        yield skill_record("grasp higher", 0.01)
        raise RuntimeError("the producer failed half-way")

    with CorrectionStore(tmp_path / "c.db") as store:
        with pytest.raises(RuntimeError):
            store.add_many(records_then_crash())
        assert len(store) == 0
        again = skill_record()
        assert store.add(again).id == store.add(again).id  # same uid: stored once (idempotent import)
        assert len(store) == 1


def test_records_round_trip_through_json_and_reject_bad_fields():
    record = skill_record(visual=(0.5, 0.5), task="pick up the red cube", task_id="run-1")
    assert CorrectionRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record
    for bad in ({**record.to_dict(), "kind": "poem"}, {**record.to_dict(), "value": "lots"},
                {**record.to_dict(), "surprise": 1}, {**record.to_dict(), "text": ""}, [1, 2], "text",
                {**record.to_dict(), "value": float("nan")}, {**record.to_dict(), "object": {"nope": 1}}):
        with pytest.raises(RecordError):
            CorrectionRecord.from_dict(bad)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "c.db"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(StoreError, match="cannot open correction store"):
        CorrectionStore(path)


def test_concurrent_writers_in_threads(tmp_path):
    with CorrectionStore(tmp_path / "c.db") as store:
        threads = [threading.Thread(target=lambda: [store.add(skill_record()) for _ in range(20)]) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(store) == 80 and len(set(store.ids())) == 80 and store.integrity_ok()


# -- kill -9 at random moments: every acknowledged correction survives, the file stays sound ---------------
WRITER = textwrap.dedent("""
    import sys
    from planners.corrections.memory.record import CorrectionRecord, ObjectContext
    from planners.corrections.memory.store import CorrectionStore
    store = CorrectionStore(sys.argv[1])
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        r = store.add(CorrectionRecord(text=f"grasp it {n} mm lower", kind="skill", skill="pick",
                                       parameter="grasp_offset", mode="delta", value=-n / 1000,
                                       object=ObjectContext("red_cube", "cube", "red", "large"), source="api"))
        print(r.id, flush=True)  # acknowledged only after the commit returned
""")


def test_kill_9_loop_loses_nothing_acknowledged(tmp_path):
    db = tmp_path / "c.db"
    rng = random.Random(7)
    acknowledged: set[int] = set()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    for _ in range(12):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True, env=env,
                                cwd=REPO)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.25))  # kill at a random moment: mid-transaction, mid-fsync, between
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        lines = out.split("\n")
        # a line cut by the kill was never acknowledged in full; whole lines were
        acknowledged |= {int(line) for line in lines[:-1] if line.strip()}
        with CorrectionStore(db) as store:
            assert store.integrity_ok()
            stored = set(store.ids())
            missing = acknowledged - stored
            assert not missing, f"acknowledged but lost after kill -9: {sorted(missing)}"
            assert all(r.value < 0 for r in store.all())  # every stored record reads back whole
    assert len(acknowledged) > 12, "the writer should have committed something in most rounds"
    assert time.monotonic() - started < 30
