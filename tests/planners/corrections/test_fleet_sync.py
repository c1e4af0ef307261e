"""Robots' files synced with a real PostgreSQL server: idempotent by uid, offline-safe, deletions and switches
travel, robot-only records stay home, opposing corrections from two robots are narrowed with their
provenance, corrections made at once on two robots count as they would have one after the other, and one
robot's correction is used by another robot's next task (real MiniLM, FAISS, PyBullet)."""
from __future__ import annotations

import time

import psycopg
import pytest

from planners.corrections import CallCorrector, CorrectionContext, record_correction
from planners.corrections.memory import CorrectionMemory, CorrectionRecord, ObjectContext
from planners.corrections.memory.sync import FleetStore, SyncConfig, SyncOutcome
from planners.plan import SkillCall

FAST = SyncConfig(poll_s=0.5, retry_s=0.05, retry_max_s=0.2, connect_timeout_s=1.0)


def delta(robot: str, value: float, size: str, color: str, **fields) -> CorrectionRecord:
    return CorrectionRecord(text=f"{'higher' if value > 0 else 'lower'} on the {size} {color} cube", kind="skill",
                            skill="pick", parameter="grasp_offset", value=value, scope="category", robot=robot,
                            object=ObjectContext(f"{color}_cube", "cube", color, size), **fields)


@pytest.fixture
def robots(tmp_path, fleet_url):
    opened = {name: FleetStore(fleet_url, local=tmp_path / f"{name}.db", config=FAST, start=False)
              for name in ("a", "b")}
    yield opened
    for store in opened.values():
        store.close()


def server_rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT uid, robot, deleted, disabled FROM corrections ORDER BY id").fetchall()


def test_a_push_whose_answer_was_lost_stores_nothing_twice(robots, fleet_url):
    a, b = robots["a"], robots["b"]
    record = a.add(delta("a", -0.01, "large", "red"))
    records, deleted = a.outbox()
    a.sync._store().push(records, deleted)  # the server committed, the robot never heard (no mark_pushed)
    assert a.outbox()[0] == [record]
    assert a.sync.sync_once().pushed == 1 and a.outbox() == ([], [])  # pushed again: the same row
    assert [row[0] for row in server_rows(fleet_url)] == [record.uid]
    for _ in range(2):
        b.sync.sync_once()
    assert [(r.uid, r.robot) for r in b.all()] == [(record.uid, "a")] and len(a) == 1


def test_a_robot_offline_keeps_working_and_catches_up(robots, fleet_url, postgres_cluster):
    a, b = robots["a"], robots["b"]
    a.sync.sync_once()
    postgres_cluster.stop("immediate")
    try:
        stored = a.add(delta("a", -0.01, "large", "red"))
        report = a.sync.sync_once()
        assert report.outcome is SyncOutcome.OFFLINE and "\n" not in (report.error or "\n")
        assert a.by_uid(stored.uid) == stored  # the robot's own memory has it all along
    finally:
        postgres_cluster.start()
    assert a.sync.sync_once().pushed == 1 and b.sync.sync_once().applied == 1
    assert b.by_uid(stored.uid) is not None


def test_switches_and_deletions_travel_and_robot_only_records_stay_home(robots, fleet_url):
    a, b = robots["a"], robots["b"]
    shared = a.add(delta("a", -0.01, "large", "red"))
    private = a.add(delta("a", 0.01, "small", "blue", share="robot"))
    a.sync.sync_once(), b.sync.sync_once()
    assert [r.uid for r in b.all()] == [shared.uid] and [r[0] for r in server_rows(fleet_url)] == [shared.uid]
    assert b.set_disabled(b.by_uid(shared.uid).id)
    b.sync.sync_once(), a.sync.sync_once()
    assert a.get(shared.id).disabled and a.ids(enabled_only=True) == [private.id]
    assert a.delete(shared.id)
    a.sync.sync_once(), b.sync.sync_once()
    assert b.all() == [] and [r.uid for r in a.all()] == [private.uid]
    assert server_rows(fleet_url) == [(shared.uid, "a", True, True)]  # a tombstone, its provenance kept


def test_opposing_corrections_from_two_robots_are_narrowed_keeping_provenance(robots, fleet_url):
    """Taught at the same time, neither robot having the other's: large cubes want the grasp higher, small
    ones lower. The category-wide records become one per size, each with its own value and robot."""
    a, b = robots["a"], robots["b"]
    a.add(delta("a", 0.02, "large", "red", operator="ada"))
    b.add(delta("b", -0.02, "small", "blue", operator="bo"))
    a.sync.sync_once(), b.sync.sync_once(), a.sync.sync_once()
    for store in (a, b):
        got = sorted((r.robot, r.operator, r.scope, r.object.size, r.value) for r in store.all())
        assert got == [("a", "ada", "category+size", "large", 0.02), ("b", "bo", "category+size", "small", -0.02)]
    assert all("narrowed" in (r.note or "") for r in a.all())
    assert [row[2] for row in server_rows(fleet_url)] == [False, False]  # changed in place, by uid


def test_corrections_that_agree_stay_category_wide(robots):
    a, b = robots["a"], robots["b"]
    a.add(delta("a", 0.02, "large", "red"))
    b.add(delta("b", 0.01, "small", "blue"))
    a.sync.sync_once(), b.sync.sync_once(), a.sync.sync_once()
    assert sorted(r.scope for r in a.all()) == sorted(r.scope for r in b.all()) == ["category", "category"]


def test_two_robots_making_the_same_correction_at_once_keep_one_effect(robots, fleet_url):
    """Neither robot had the other's record when its operator said "2 cm higher" on a large red cube (both knew
    what they said it against: nothing). The second one pushed is re-expressed against the first: 0 more."""
    a, b = robots["a"], robots["b"]
    first = a.add(delta("a", 0.02, "large", "red", based_on=()))
    second = b.add(delta("b", 0.02, "large", "red", based_on=()))
    a.sync.sync_once(), b.sync.sync_once(), a.sync.sync_once()
    for store in (a, b):
        assert {r.uid: (r.robot, r.scope, r.value) for r in store.all()} == {
            first.uid: ("a", "category", 0.02), second.uid: ("b", "category", 0.0)}
        assert "re-expressed on sync" in store.by_uid(second.uid).note
    b.sync.sync_once()  # b's push again (a lost answer): nothing changes
    assert b.by_uid(second.uid).value == 0.0 and len(server_rows(fleet_url)) == 2


def test_a_correction_said_on_top_of_another_robots_adds_to_it(robots, fleet_url):
    """b had a's record, and it was applied when b's operator asked for 1 cm more: both count."""
    a, b = robots["a"], robots["b"]
    first = a.add(delta("a", 0.02, "large", "red", based_on=()))
    a.sync.sync_once(), b.sync.sync_once()
    second = b.add(delta("b", 0.01, "large", "red", based_on=(first.uid,)))
    b.sync.sync_once(), a.sync.sync_once()
    assert sorted(r.value for r in a.all()) == sorted(r.value for r in b.all()) == [0.01, 0.02]
    records, gone = a.outbox()
    a.sync._store().push([first], gone)  # a's first push again, after b's was said on top of it: unchanged
    assert [(uid, robot) for uid, robot, *_ in server_rows(fleet_url)] == [(first.uid, "a"), (second.uid, "b")]
    assert b.sync.sync_once().applied == 0


def test_corrections_said_at_once_for_two_kinds_of_cube_get_one_record_each(robots):
    """Large cubes 2 cm higher (a), small ones 1 cm higher (b), neither robot having the other's: category-wide,
    both would apply to every cube (3 cm). Said after a's, b's would have been 1 cm lower than a's, undoing half
    of it: the narrowing rule makes one record per size, each with what its operator asked for."""
    a, b = robots["a"], robots["b"]
    a.add(delta("a", 0.02, "large", "red", based_on=()))
    b.add(delta("b", 0.01, "small", "blue", based_on=()))
    a.sync.sync_once(), b.sync.sync_once(), a.sync.sync_once()
    for store in (a, b):
        assert sorted((r.robot, r.scope, r.object.size, r.value) for r in store.all()) == [
            ("a", "category+size", "large", 0.02), ("b", "category+size", "small", 0.01)]


def test_one_robots_correction_is_used_by_another_robots_next_task(tmp_path, fleet_url, monkeypatch):
    from hardware.pybullet import PyBulletArm, PyBulletConfig
    from hardware.scene import nominal_objects
    from skill_lib.embedding import get_embedder

    embedder = get_embedder()
    teacher = FleetStore(fleet_url, local=tmp_path / "teacher.db", config=FAST)
    learner = CorrectionMemory(FleetStore(fleet_url, local=tmp_path / "learner.db", config=FAST), embedder=embedder)
    assert isinstance(learner.store, FleetStore)
    assert learner.store.sync.on_change == [learner.index.ensure_current]  # the index follows the file at once
    try:
        with PyBulletArm(PyBulletConfig(seed=0)) as arm:
            corrector = CallCorrector(learner, "pick up the red cube", arm)
            assert "grasp_offset" not in corrector(0, SkillCall("pick", {"object": "red_cube"})).params
            monkeypatch.setenv("SKILL_STACK_ROBOT", "teacher")  # the provenance the teacher's store stamps
            record_correction("grasp it 2 cm lower", CorrectionContext(
                task="pick up the red cube", skill="pick", object="red_cube",
                objects=dict(nominal_objects("default"))), teacher)
            deadline, params = time.monotonic() + 10, {}
            while time.monotonic() < deadline and "grasp_offset" not in params:
                params = CallCorrector(learner, "grab the red cube", arm)(0, SkillCall("pick", {"object": "red_cube"})
                                                                          ).params
                time.sleep(0.05)
        assert params.get("grasp_offset") == pytest.approx(-0.02)
        assert [(r.robot, r.text) for r in learner.store.all()] == [("teacher", "grasp it 2 cm lower")]
    finally:
        learner.close()
        teacher.close()
