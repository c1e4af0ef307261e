"""The PostgreSQL store (real server) behind the same interface as the SQLite one, and which store a location
or $SKILL_STACK_MEMORY opens."""
from __future__ import annotations

from dataclasses import replace

import psycopg
import pytest

from planners.corrections.memory import CorrectionRecord, CorrectionStore, ObjectContext, StoreError
from planners.corrections.memory.postgres import PostgresStore
from planners.corrections.memory.sqlite import SqliteStore
from planners.corrections.memory.sync import FleetStore
from postgres_cluster import free_port


def skill_record(text="grasp it lower", value=-0.01, **fields) -> CorrectionRecord:
    return CorrectionRecord(text=text, kind="skill", skill="pick", parameter="grasp_height", value=value,
                            object=ObjectContext("red_cube", "cube", "red", "large"), **fields)


def plan_record() -> CorrectionRecord:
    from planners.corrections.memory import PlanRule
    return CorrectionRecord(text="put cubes in the tray", kind="plan",
                            rule=PlanRule("destination", {"match": {"category": "cube"}, "container": "tray"}))


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path, monkeypatch):
    monkeypatch.setenv("SKILL_STACK_ROBOT", "robot-7")
    monkeypatch.setenv("SKILL_STACK_OPERATOR", "ada")
    location = str(tmp_path / "c.db") if request.param == "sqlite" else request.getfixturevalue("fleet_url")
    with CorrectionStore(location) as opened:
        yield opened


def test_both_stores_keep_records_the_same_way(store):
    a, b = store.add(skill_record()), store.add(plan_record())
    assert a.id is not None and b.id is not None and a.id < b.id and len(store) == 2
    assert store.get(b.id) == b and store.by_uid(a.uid) == a and store.get(10**6) is None
    assert (a.robot, a.operator, a.share) == ("robot-7", "ada", "fleet")  # provenance filled in
    assert store.all("plan") == [b] and [r.uid for r in store.all()] == [a.uid, b.uid]
    assert store.add(skill_record(uid=a.uid, text="other words")) == a  # a uid is stored once
    before = store.fingerprint()
    assert store.set_disabled(a.id) and store.ids(enabled_only=True) == [b.id] and store.get(a.id).disabled
    assert store.fingerprint() != before and store.fingerprint()["db_uid"] == before["db_uid"]
    assert store.get_many([b.id, a.id, 10**6]) == [store.get(a.id), b]
    assert store.delete(a.id) and not store.delete(a.id) and store.ids() == [b.id] and store.by_uid(a.uid) is None
    assert not store.set_disabled(a.id) and store.integrity_ok()


def test_both_stores_narrow_in_one_transaction(store):
    """A narrowed record keeps its uid and replaces the original: one record, changed."""
    original = store.add(skill_record(value=-0.05, scope="category"))
    narrowed = skill_record(value=-0.05, scope="category+size", uid=original.uid, created_at=original.created_at)
    other = skill_record(text="grasp higher", value=0.02)
    stored = store.add_many([narrowed, other], replacing=[original.id])
    assert [r.scope for r in store.all()] == ["category+size", "category"]
    assert store.get(original.id) is None and {r.uid for r in stored} == {original.uid, other.uid}


def test_both_stores_have_a_change_feed_in_commit_order(store):
    """changes_since: every id changed after a cursor, once, with its state now (None: gone), pages exact."""
    a, b = store.add(skill_record()), store.add(plan_record())
    changes, cursor = store.changes_since(0)
    assert [(c.record_id, c.record) for c in changes] == [(a.id, a), (b.id, b)] and cursor == changes[-1].seq
    assert store.changes_since(cursor) == ([], cursor)  # nothing new: the same cursor back
    assert store.set_disabled(a.id) and store.delete(b.id)
    narrowed = skill_record(text="grasp it lower", value=-0.01, uid="narrowed-1")
    first = store.add(narrowed)
    second = store.add_many([replace(narrowed, scope="category+size")], replacing=[first.id])[0]
    changes, after = store.changes_since(cursor)
    state = {c.record_id: c.record for c in changes}
    assert state[a.id] is not None and state[a.id].disabled and state[b.id] is None  # switched; deleted
    assert state[first.id] is None and state[second.id] == store.get(second.id)  # changed: the old id is gone
    assert second.id != first.id and len(changes) == len(state) and after > cursor
    assert [c.seq for c in changes] == sorted(c.seq for c in changes)
    paged, at = [], 0  # one change at a time: none skipped, none twice
    while True:
        page, at = store.changes_since(at, limit=1)
        if not page:
            break
        paged += page
    assert [c.record_id for c in paged] == [c.record_id for c in store.changes_since(0)[0]] and at == after


def test_the_postgres_schema_has_a_version_and_a_newer_one_is_refused(fleet_url):
    PostgresStore(fleet_url).close()
    PostgresStore(fleet_url).close()  # a second open migrates nothing
    with psycopg.connect(fleet_url, autocommit=True) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(2,)]  # 2: retired ids
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StoreError, match="schema version 99"):
        PostgresStore(fleet_url)


def test_an_unreachable_server_is_a_one_line_error_without_the_password():
    url = f"postgresql://robot:secret@127.0.0.1:{free_port()}/fleet"
    with pytest.raises(StoreError) as err:
        CorrectionStore(url)
    assert "cannot reach the fleet store postgresql://robot:***@127.0.0.1" in str(err.value)
    assert "secret" not in str(err.value) and "\n" not in str(err.value)


def test_the_location_or_the_environment_chooses_the_store(tmp_path, monkeypatch, fleet_url):
    monkeypatch.delenv("SKILL_STACK_MEMORY", raising=False)
    with CorrectionStore() as default, CorrectionStore(tmp_path / "x.db") as file, CorrectionStore(fleet_url) as server:
        assert type(default) is SqliteStore and default.path.name == "corrections.db"
        assert type(file) is SqliteStore and file.path == tmp_path / "x.db"
        assert type(server) is PostgresStore and server.location == fleet_url
    monkeypatch.setenv("SKILL_STACK_MEMORY", str(tmp_path / "env.db"))
    with CorrectionStore() as from_env:
        assert type(from_env) is SqliteStore and from_env.path == tmp_path / "env.db"
    monkeypatch.setenv("SKILL_STACK_MEMORY", fleet_url)  # a robot in a fleet: its own file, synced
    with CorrectionStore() as robot:
        assert type(robot) is FleetStore and robot.path.name == "corrections.db"
        assert robot.sync.server_url == fleet_url


def test_a_memory_retrieves_from_the_server_and_follows_its_changes(fleet_url):
    """The index keys on row ids: a record changed on the server (narrowed) is a new row id, so the memory
    never serves the old version from its cache."""
    from planners.corrections.memory import CorrectionMemory, RetrievalQuery
    from skill_lib.embedding import get_embedder

    memory = CorrectionMemory(CorrectionStore(fleet_url), embedder=get_embedder())
    try:
        stored = memory.add(skill_record(text="grasp it 1 cm lower", scope="category", task="pick up the red cube"))
        small = ObjectContext("blue_cube", "cube", "blue", "small")
        query = RetrievalQuery(task="pick up the small cube", skill="pick", object=small)
        assert [r.record.uid for r in memory.retrieve(query)] == [stored.uid]
        narrowed = skill_record(text="grasp it 1 cm lower", scope="category+size", task="pick up the red cube",
                                uid=stored.uid, created_at=stored.created_at)
        memory.store.add_many([narrowed], replacing=[stored.id])  # now for large cubes only
        assert memory.retrieve(query) == []
        large = RetrievalQuery(task="pick up the large cube", skill="pick", object=ObjectContext("c", "cube", "red", "large"))
        assert [r.record.scope for r in memory.retrieve(large)] == ["category+size"]
    finally:
        memory.close()
