"""Retrieval (real MiniLM, real FAISS, real SQLite) and application of corrections to plans and skill calls."""
from __future__ import annotations

import json

import numpy as np
import pytest

from hardware.arm import WorldView
from hardware.types import ObjectState
from hardware.scene import nominal_objects
from planners.corrections import (CallCorrector, CorrectionContext, apply_to_call, apply_to_plan, correct_plan,
                                  distill)
from planners.corrections.context import object_context
from planners.episode_log import EpisodeLog, read_log
from planners.parser import parse_task
from planners.plan import Goal, SkillCall
from planners.corrections.memory import CorrectionMemory, RetrievalQuery, colour_histogram
from planners.corrections.memory.index import INDEX_FILE, MANIFEST_FILE, CorrectionIndex
from planners.corrections.memory.retrieval import gate_partition
from skill_lib.embedding import get_embedder


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()  # one model load for the module


@pytest.fixture(scope="module")
def objects():
    scene = dict(nominal_objects("default"))
    scene["mug"] = ObjectState(name="mug", category="mug", position=np.array([0.5, 0.2, 0.04]),
                               orientation=np.array([0.0, 0.0, 0.0, 1.0]), half_extents=np.full(3, 0.04),
                               color="white")
    return scene


@pytest.fixture
def memory(tmp_path, embedder):
    mem = CorrectionMemory.open(tmp_path / "corrections.db", embedder=embedder)
    yield mem
    mem.close()


def teach(memory, objects, text, **context):
    return [memory.add(r) for r in distill(text, CorrectionContext(objects=objects, **context))]


def query(objects, task, skill, obj, target=None):
    return RetrievalQuery(task=task, skill=skill, object=object_context(objects[obj]),
                          target=object_context(objects[target]) if target else None)


def texts(results):
    return [r.record.text for r in results]


def test_grasping_the_mug_does_not_leak_into_pushing_a_cube(memory, objects):
    teach(memory, objects, "grasp it 1 cm lower", task="pick up the mug", object="mug")
    assert texts(memory.retrieve(query(objects, "grab the mug", "pick", "mug"))) == ["grasp it 1 cm lower"]
    assert memory.retrieve(query(objects, "push the red cube 5 cm to the left", "push", "red_cube")) == []
    assert memory.retrieve(query(objects, "pick up the red cube", "pick", "red_cube")) == []
    rejected = memory.retrieve(query(objects, "pick up the red cube", "pick", "red_cube"), include_rejected=True)
    assert not rejected[0].accepted and "category mug vs cube" in rejected[0].reason


def test_placement_correction_follows_the_object_and_its_category(memory, objects):
    teach(memory, objects, "2 cm to the left", task="put the red cube in the tray", skill="place")
    same = memory.retrieve(query(objects, "place the red block into the bin", "place", "red_cube", "tray"))
    assert texts(same) == ["2 cm to the left"] and same[0].score > 0.8
    other_cube = memory.retrieve(query(objects, "put the blue cube in the tray", "place", "blue_cube", "tray"))
    assert texts(other_cube) == ["2 cm to the left"]  # category-level: any cube into the tray
    assert other_cube[0].score < same[0].score  # but the red cube matches better
    stacking = memory.retrieve(query(objects, "stack the red cube on the green cube", "place", "red_cube",
                                     "green_cube"))
    assert stacking == []  # an offset into a tray says nothing about stacking


def test_object_scope_does_not_transfer_to_another_colour(memory, objects):
    teach(memory, objects, "grasp the small red cube lower")
    assert texts(memory.retrieve(query(objects, "pick up the small red cube", "pick", "small_red_cube")))
    assert memory.retrieve(query(objects, "pick up the small blue cube", "pick", "small_blue_cube")) == []


def test_abstains_below_threshold_and_uses_visual_similarity(memory, objects):
    red = colour_histogram(np.tile([200, 20, 20], (50, 1)))
    blue = colour_histogram(np.tile([20, 30, 220], (50, 1)))
    assert np.dot(red, blue) < 0.1 < np.dot(red, red)
    teach(memory, objects, "grasp lower", skill="pick", scope="any", visual=red)
    q = RetrievalQuery(task="pick up the lego brick", skill="pick", object=object_context(objects["lego_brick"]))
    looks_same = memory.retrieve(RetrievalQuery(**{**q.__dict__, "visual": red}))
    looks_different = memory.retrieve(RetrievalQuery(**{**q.__dict__, "visual": blue}), include_rejected=True)
    assert texts(looks_same) == ["grasp lower"]
    assert not looks_different[0].accepted and looks_different[0].reason.startswith("abstained")


def test_a_disabled_record_is_not_retrieved_until_enabled_again(memory, objects):
    record = teach(memory, objects, "2 cm to the left", task="put the red cube in the tray", skill="place")[0]
    q = query(objects, "put the red cube in the tray", "place", "red_cube", "tray")
    assert texts(memory.retrieve(q)) == ["2 cm to the left"]
    memory.store.set_disabled(record.id)
    assert memory.retrieve(q) == [] and memory.retrieve(q, include_rejected=True) == []
    memory.store.set_disabled(record.id, False)
    assert texts(memory.retrieve(q)) == ["2 cm to the left"]


def test_index_is_rebuilt_from_the_database_never_the_reverse(memory, objects, tmp_path, embedder):
    teach(memory, objects, "push it 3 cm further", task="push the yellow cube 10 cm left", object="yellow_cube")
    q = query(objects, "push the yellow cube 10 cm to the right", "push", "yellow_cube")
    assert texts(memory.retrieve(q)) == ["push it 3 cm further"]
    memory.index.flush()  # saved in the background
    assert (tmp_path / INDEX_FILE).is_file() and (tmp_path / MANIFEST_FILE).is_file()
    # a second process opening the same files reuses the saved index (no rebuild)...
    fresh = CorrectionIndex(memory.store, embedder=embedder, partition=gate_partition)
    assert len(fresh) == 1 and fresh.rebuilds == 0
    # ...but not once the database changed behind it, and never a torn or foreign index file
    memory.store.delete(memory.store.ids()[0])
    assert memory.retrieve(q) == []
    memory.index.flush()
    (tmp_path / INDEX_FILE).write_bytes(b"torn")
    again = CorrectionIndex(memory.store, embedder=embedder, partition=gate_partition)
    assert len(again) == 0 and again.rebuilds == 1
    again.flush()
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    assert manifest["generation"] == memory.store.fingerprint()["generation"]
    assert len(CorrectionIndex(memory.store, embedder=embedder, partition=gate_partition)) == 0


def test_index_follows_the_store_by_difference_not_by_rebuilding(memory, objects, tmp_path, embedder):
    for colour in ("red", "blue", "green"):
        teach(memory, objects, "grasp it 1 cm lower", task=f"pick up the {colour} cube", object=f"{colour}_cube")
    q = query(objects, "pick up the red cube", "pick", "red_cube")
    assert texts(memory.retrieve(q))[0] == "grasp it 1 cm lower"
    assert (memory.index.rebuilds, memory.index.encoded) == (1, 3)
    teach(memory, objects, "2 cm to the left", task="put the red cube in the tray", skill="place")
    memory.store.delete(memory.store.ids()[0])
    memory.retrieve(q)
    assert (memory.index.rebuilds, memory.index.encoded, len(memory.index)) == (1, 4, 3)
    # another process catches up from the saved index the same way
    memory.index.flush()
    later = CorrectionIndex(memory.store, embedder=embedder, partition=gate_partition)
    assert len(later) == 3 and (later.rebuilds, later.encoded) == (0, 0)  # loaded, nothing embedded again
    teach(memory, objects, "slower", task="pick up the blue cube", object="blue_cube")
    assert len(later) == 4 and (later.rebuilds, later.encoded) == (0, 1)


def test_only_the_closest_records_that_can_pass_the_gates_are_scored(memory, objects, monkeypatch):
    from planners.corrections.memory import retrieval

    for i in range(40):  # other skills and other objects: dropped by the pre-filter, never scored
        teach(memory, objects, f"push it {i % 5 + 1} cm further", task=f"push the red cube {i + 5} cm left",
              object="red_cube")
        teach(memory, objects, "grasp it 1 cm lower", task=f"pick up the mug, try {i}", object="mug")
    for i in range(retrieval.TOP_K + 10):  # same skill and category: more than TOP_K candidates
        teach(memory, objects, f"grasp it {i % 3 + 1} mm higher", task=f"pick up the green cube ({i})",
              object="green_cube")
    teach(memory, objects, "grasp the red cube 1 cm lower", task="pick up the red cube", object="red_cube")
    scored = []
    score = retrieval.CorrectionMemory._score
    monkeypatch.setattr(retrieval.CorrectionMemory, "_score",
                        lambda self, record, *a: scored.append(record) or score(self, record, *a))
    found = memory.retrieve(query(objects, "pick up the red cube", "pick", "red_cube"))
    assert texts(found)[0] == "grasp the red cube 1 cm lower"  # the green cube's apply to any cube
    assert len(scored) <= retrieval.TOP_K and all(r.skill == "pick" for r in scored)
    assert not any(r.object.category == "mug" for r in scored)


# -- application ---------------------------------------------------------------------------------------
def test_apply_to_call_adds_deltas_sets_values_and_clamps(objects):
    ctx = CorrectionContext(objects=objects, skill="place")
    records = [r.with_id(i) for i, r in enumerate(
        distill("2 cm to the left", ctx) + distill("a bit more to the left", ctx) + distill("half speed", ctx)
        + distill("12 cm to the right", ctx) + distill("12 cm to the right", ctx), 1)]
    call, applied = apply_to_call(SkillCall("place", {"object": "red_cube", "target": "tray"}), records)
    assert call.params["speed"] == 0.5
    assert call.params["offset_y"] == pytest.approx(-0.15)  # 0.02 + 0.01 - 0.24, clamped at the range limit
    assert "clamped" in applied[-1].change and all(a.applied for a in applied)
    untouched, nothing = apply_to_call(SkillCall("push", {"object": "red_cube", "direction": "left"}), records)
    assert nothing == [] and untouched.params == {"object": "red_cube", "direction": "left"}


def test_recorded_only_parameters_are_reported_not_applied(objects):
    side = distill("grasp it from the side", CorrectionContext(objects=objects))[0].with_id(5)
    call, applied = apply_to_call(SkillCall("pick", {"object": "red_cube"}), [side])
    assert call.params == {"object": "red_cube"}
    assert [(a.id, a.applied) for a in applied] == [(5, False)] and "no parameter grasp_side" in applied[0].change


def test_apply_to_plan_destination_and_ordering(objects):
    plan = parse_task("put the red cube on the green cube and put the blue cube on the yellow cube", objects)
    rules = [distill("that goes in the tray", CorrectionContext(objects=objects, object="red_cube"))[0].with_id(1),
             distill("pick up the blue cube before the red cube", CorrectionContext(objects=objects))[0].with_id(2)]
    new, applied = apply_to_plan(plan, rules, objects)
    assert [str(c) for c in new.calls] == ["pick(object=blue_cube)", "place(object=blue_cube, target=tray)",
                                           "pick(object=red_cube)", "place(object=red_cube, target=tray)"]
    assert set(new.goals) == {Goal("in", obj="red_cube", target="tray"), Goal("in", obj="blue_cube", target="tray")}
    assert [a.applied for a in applied] == [True, True] and any("correction 2" in n for n in new.notes)
    drawer = distill("open the drawer first", CorrectionContext(objects=objects))[0].with_id(3)
    same, skipped = apply_to_plan(plan, [drawer], objects)
    assert same == plan and not skipped[0].applied and "open the drawer" in skipped[0].change


class FakeWorld(WorldView):
    """Objects without physics or a camera: isolates CallCorrector from the simulator."""

    def __init__(self, objects):
        self._objects = objects

    def objects(self):
        return self._objects

    def contacts(self, a, b):
        return False


def test_scheduler_hooks_log_what_was_retrieved_and_applied(memory, objects, tmp_path, embedder):
    teach(memory, objects, "that goes in the tray", object="red_cube")
    teach(memory, objects, "1 cm to the left", task="put the red cube in the tray", skill="place")
    embedder.clear_cache()
    plan, retrieved, applied = correct_plan(memory, parse_task("put the red cube on the green cube", objects), objects)
    assert plan.calls[1] == SkillCall("place", {"object": "red_cube", "target": "tray"}) and applied[0].applied
    model_runs = embedder.cache_misses
    with EpisodeLog(tmp_path / "episode.jsonl") as log:
        corrector = CallCorrector(memory, plan.task, FakeWorld(objects), log=log)
        assert corrector(0, plan.calls[0]) == plan.calls[0]
        placed = corrector(1, plan.calls[1])
    assert placed.params["offset_y"] == pytest.approx(0.01)
    # the corrected plan's calls were embedded when it was planned: no model run before a skill
    assert embedder.cache_misses == model_runs
    events = {e["event"]: e for e in read_log(tmp_path / "episode.jsonl")}
    assert events["corrections_applied"]["params"]["offset_y"] == pytest.approx(0.01)
    assert events["corrections_retrieved"]["corrections"][0]["accepted"]


@pytest.mark.slow
def test_corrections_change_a_real_run_in_pybullet(memory, tmp_path):
    """Taught once, applied next time: the red cube goes to the tray (plan rule), 4 cm left of the tray's
    centre (skill parameter); checked with raw PyBullet positions, and in the episode log."""
    import pybullet as pb

    from hardware.pybullet import PyBulletArm, PyBulletConfig
    from planners.scheduler import Scheduler
    from skill_lib.library import SkillLibrary
    from skill_lib.skills import default_skills

    scene = nominal_objects("default")
    teach(memory, scene, "that goes in the tray", object="red_cube")
    teach(memory, scene, "4 cm to the left", task="put the red cube in the tray", skill="place")
    scheduler = Scheduler(SkillLibrary(default_skills(), index_dir=tmp_path / "index"), corrections=memory)
    with PyBulletArm(PyBulletConfig(seed=1)) as arm, EpisodeLog(tmp_path / "episode.jsonl") as log:
        plan = scheduler.plan("put the red cube on the green cube", arm)
        assert plan.calls[-1].params["target"] == "tray"
        report = scheduler.execute(plan, arm, arm, log=log)
        centre = {n: np.mean(pb.getAABB(arm.body_id(n), physicsClientId=arm.physics_client), axis=0)
                  for n in ("red_cube", "tray")}
    assert report.success, report.message
    assert centre["red_cube"][1] - centre["tray"][1] == pytest.approx(0.04, abs=0.015)
    events = read_log(tmp_path / "episode.jsonl")
    applied = [e for e in events if e["event"] == "corrections_applied"]
    assert [e.get("stage") for e in applied] == ["plan", None]
    assert applied[1]["params"]["offset_y"] == pytest.approx(0.04)


def test_the_scheduler_queries_with_what_the_camera_sees(memory, objects, tmp_path):
    """CallCorrector fills the query's visual descriptor from the simulator's camera: a correction taught
    for any object that looked red applies to the red cube and abstains for the blue one."""
    from hardware.pybullet import PyBulletArm, PyBulletConfig
    from planners.corrections.memory import visual_descriptor

    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        red, blue = visual_descriptor(arm, "red_cube"), visual_descriptor(arm, "blue_cube")
        assert red is not None and blue is not None and float(np.dot(red, blue)) < 0.3
        teach(memory, objects, "grasp lower", skill="pick", scope="any", visual=red)
        corrector = CallCorrector(memory, "pick up the cube", arm)
        lower = corrector(0, SkillCall("pick", {"object": "red_cube"}))
        same = corrector(1, SkillCall("pick", {"object": "blue_cube"}))
    assert lower.params.get("grasp_offset", 0.0) < 0.0
    assert "grasp_offset" not in same.params
