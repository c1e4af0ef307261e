"""Narrowing (real MiniLM, FAISS and SQLite): a correction that undoes what memory applied to another kind of
object of the same category narrows both to the attribute they differ in, so each keeps its own preference."""
from __future__ import annotations

import numpy as np
import pytest

from hardware.types import ObjectState
from hardware.scene import nominal_objects
from planners.corrections import CorrectionContext, apply_to_call, record_correction
from planners.corrections.context import object_context
from planners.plan import SkillCall
from planners.corrections.memory import CorrectionMemory, RetrievalQuery
from skill_lib.embedding import get_embedder


@pytest.fixture(scope="module")
def objects():
    scene = dict(nominal_objects("default"))
    # a large cube of a colour no correction was taught on
    scene["purple_cube"] = ObjectState(name="purple_cube", category="cube", position=np.array([0.5, 0.1, 0.025]),
                                       orientation=np.array([0.0, 0.0, 0.0, 1.0]), half_extents=np.full(3, 0.025),
                                       color="purple", size="large")
    return scene


@pytest.fixture
def memory(tmp_path):
    mem = CorrectionMemory.open(tmp_path / "corrections.db", embedder=get_embedder())
    yield mem
    mem.close()


def put_in_tray(memory, objects, obj):
    """What the executor does before `place`: retrieve for this object, apply; returns (offset_y, applied)."""
    query = RetrievalQuery(task=f"put the {obj.replace('_', ' ')} in the tray", skill="place",
                           object=object_context(objects[obj]), target=object_context(objects["tray"]))
    accepted = [r.record for r in memory.retrieve(query) if r.accepted]
    call, _ = apply_to_call(SkillCall("place", {"object": obj, "target": "tray", "offset_x": 0.0, "offset_y": 0.0}),
                            accepted)
    return call.params["offset_y"], tuple(accepted)


def correct(memory, objects, text, obj, applied):
    context = CorrectionContext(task=f"put the {obj.replace('_', ' ')} in the tray", skill="place", object=obj,
                                target="tray", objects=objects, applied=applied)
    return record_correction(text, context, memory)


def test_a_contradicting_correction_on_a_small_cube_narrows_both_to_size(memory, objects):
    offset, applied = put_in_tray(memory, objects, "red_cube")  # large
    assert offset == 0.0 and applied == ()
    first, = correct(memory, objects, "5 cm to the left", "red_cube", applied)
    assert first.scope == "category"
    offset, applied = put_in_tray(memory, objects, "small_blue_cube")
    assert offset == pytest.approx(0.05) and [r.id for r in applied] == [first.id]  # transferred, wrongly here
    stored = correct(memory, objects, "10 cm to the right", "small_blue_cube", applied)
    narrowed = {r.object.size: r for r in stored}
    assert set(narrowed) == {"large", "small"} and all(r.scope == "category+size" for r in stored)
    assert narrowed["large"].uid == first.uid and narrowed["large"].value == pytest.approx(0.05)
    assert narrowed["small"].value == pytest.approx(-0.05)  # from the default, not from what was applied
    assert memory.store.get(first.id) is None and len(memory.store) == 2  # replaced, not duplicated
    for obj, wanted in (("small_blue_cube", -0.05), ("small_red_cube", -0.05), ("green_cube", 0.05),
                        ("purple_cube", 0.05), ("red_cube", 0.05)):
        assert put_in_tray(memory, objects, obj)[0] == pytest.approx(wanted), obj


def test_a_refinement_in_the_same_direction_stays_category_wide(memory, objects):
    first, = correct(memory, objects, "5 cm to the left", "red_cube", ())
    offset, applied = put_in_tray(memory, objects, "small_blue_cube")
    second, = correct(memory, objects, "2 cm more to the left", "small_blue_cube", applied)
    assert second.scope == "category" and memory.store.get(first.id).scope == "category"
    assert put_in_tray(memory, objects, "green_cube")[0] == pytest.approx(0.07)


def test_without_what_was_applied_nothing_is_narrowed(memory, objects):
    """The CLI corrects offline: it does not know what memory applied, so it cannot tell a contradiction."""
    first, = correct(memory, objects, "5 cm to the left", "red_cube", None)
    second, = correct(memory, objects, "10 cm to the right", "small_blue_cube", None)
    assert (first.scope, second.scope) == ("category", "category") and len(memory.store) == 2
    assert first.based_on is None and second.based_on is None  # said against what, not known


def test_a_live_correction_mid_place_acts_literally_now_and_is_remembered_narrowed(memory, objects):
    from hardware.pybullet import PyBulletArm, PyBulletConfig
    from planners.corrections import CallCorrector
    from planners.corrections.live import LiveCorrections

    correct(memory, objects, "5 cm to the left", "red_cube", ())
    task = "put the small blue cube in the tray"
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        corrector = CallCorrector(memory, task, arm)
        running = corrector(1, SkillCall("place", {"object": "small_blue_cube", "target": "tray",
                                                   "offset_x": 0.0, "offset_y": 0.0}))
        assert running.params["offset_y"] == pytest.approx(0.05)
        live = LiveCorrections(task, arm, memory, notify=lambda _: None)
        live.corrector = corrector  # as Scheduler.execute wires them
        live.submit("10 cm to the right")
        updates = live.updates_for(running, {})
    assert updates == {"offset_y": pytest.approx(-0.05)}  # the operator's 10 cm, from where it was going
    assert sorted((r.object.size, r.scope, r.value) for r in memory.store.all()) == [
        ("large", "category+size", pytest.approx(0.05)), ("small", "category+size", pytest.approx(-0.05))]
    first = next(r for r in memory.store.all() if r.object.size == "large")
    said = next(r for r in memory.store.all() if r.object.size == "small")
    assert first.based_on == () and said.based_on == (first.uid,)  # what each was said against, for a fleet sync
