"""Set references ("all the cubes", "the blue and the green cube"), free-space placement in a container, and
tasks that must be refused rather than half done. Objects come from the simulated default scene (its real
tray), read once; no motion here (tests/scenarios/test_end_to_end.py runs some in the simulator)."""
from __future__ import annotations

import random

import numpy as np
import pytest

from hardware.pybullet import PyBulletArm, PyBulletConfig
from hardware.types import ObjectState
from planners.grounding import ground_set, is_set_reference
from planners.parser import parse_task
from planners.placement import GAP, WALL_GAP, Footprint, assign_spots
from skill_lib.skills.place import FLOOR_FRACTION
from planners.plan import Goal, SkillCall, TaskError

CUBES = ["red_cube", "green_cube", "blue_cube", "yellow_cube", "small_red_cube", "small_blue_cube"]


@pytest.fixture(scope="module")
def scene() -> dict[str, ObjectState]:
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        return arm.objects()


@pytest.mark.parametrize("phrase, names", [
    ("all the cubes", CUBES),
    ("the cubes", CUBES),
    ("every block", CUBES),
    ("each of the cubes", CUBES),
    ("the large cubes", CUBES[:4]),
    ("both small cubes", ["small_red_cube", "small_blue_cube"]),
    ("the two small blocks", ["small_red_cube", "small_blue_cube"]),
    ("the red ones", ["red_cube", "small_red_cube"]),
    ("the blue cube and the green cube", ["green_cube", "blue_cube"]),
    ("the blue and the green cube", ["green_cube", "blue_cube"]),
    ("the red cube, the lego and the yellow cube", ["red_cube", "yellow_cube", "lego_brick"]),
    ("the blue and green cubes", ["green_cube", "blue_cube", "small_blue_cube"]),
    ("everything", [*CUBES, "lego_brick"]),  # not the tray: a container is not something to pick up
    ("all the objects", [*CUBES, "lego_brick"]),
])
def test_set_references(scene, phrase, names):
    assert is_set_reference(phrase, scene)
    assert ground_set(phrase, scene) == names


@pytest.mark.parametrize("phrase", ["the red cube", "red_cube", "the tray", "the small blue one", "it"])
def test_one_object_is_not_a_set(scene, phrase):
    assert not is_set_reference(phrase, scene)


@pytest.mark.parametrize("phrase, says", [
    ("both red cubes and the lego", None),  # fine: two red cubes exist
    ("three red cubes", "names 3 objects but 2 match"),
    ("both large cubes", "names 2 objects but 4 match"),
    ("the red cube and the red cube", "named twice"),
    ("the purple cubes", "no purple cube"),
    ("the cubes and the spoons", "no spoon"),
])
def test_set_references_that_do_not_fit_the_scene(scene, phrase, says):
    if says is None:
        assert len(ground_set(phrase, scene)) == 3
        return
    with pytest.raises(TaskError, match=says):
        ground_set(phrase, scene)


def test_all_the_cubes_go_into_the_tray_each_in_its_own_spot(scene):
    plan = parse_task("put all the cubes in the tray", scene)
    assert [c.skill for c in plan.calls] == ["pick", "place"] * 6
    assert set(plan.goals) == {Goal("in", obj=c, target="tray") for c in CUBES}
    assert_spots_fit([c for c in plan.calls if c.skill == "place"], scene)


def test_one_object_into_an_empty_container_goes_to_its_middle(scene):
    place = parse_task("put the red cube in the tray", scene).calls[1]
    assert place == SkillCall("place", {"object": "red_cube", "target": "tray"})


def test_spots_are_planned_across_clauses(scene):
    """'put X in the tray, then put Y in the tray': the second does not aim where the first already is."""
    plan = parse_task("put the red cube in the tray then put the blue cube in the tray", scene)
    assert_spots_fit([c for c in plan.calls if c.skill == "place"], scene)


def test_objects_already_in_the_container_keep_their_room(scene):
    tray = scene["tray"]
    inside = dict(scene)
    green = scene["green_cube"]
    corner = np.array([-0.05, -0.05])  # a large cube in one corner: room for three more
    inside["green_cube"] = ObjectState(**{**green.__dict__,
                                          "position": np.array([*(tray.position[:2] + corner), green.position[2]])})
    plan = parse_task("put the red cube, the blue cube and the yellow cube in the tray", inside)
    spots = [footprint(c, inside) for c in plan.calls if c.skill == "place"]
    there = Footprint(tuple(corner), tuple(green.half_extents[:2]))
    assert len(spots) == 3 and all(s.clear_of(there, GAP - 1e-9) for s in spots)
    inside["green_cube"] = ObjectState(**{**green.__dict__, "position": np.array([*tray.position[:2], 0.03])})
    with pytest.raises(TaskError, match="no room for the large red cube"):  # one in the middle leaves none
        parse_task("put the red cube in the tray", inside)


def test_what_does_not_fit_is_refused_before_anything_moves(scene):
    """Random sets of cubes of random sizes into the tray: every spot fits, or the task is refused."""
    rng = random.Random(4)
    refused = planned = 0
    for trial in range(40):
        objects = {"tray": scene["tray"]}
        for i in range(rng.randint(1, 12)):
            edge = rng.choice([0.03, 0.04, 0.05, 0.06])
            objects[f"cube_{i}"] = ObjectState(
                name=f"cube_{i}", category="cube", position=np.array([0.4, -0.3 + 0.05 * i, edge / 2]),
                orientation=np.array([0.0, 0.0, 0.0, 1.0]), half_extents=np.full(3, edge / 2), color="red")
        calls = [SkillCall("place", {"object": n, "target": "tray"}) for n in objects if n != "tray"]
        try:
            placed = assign_spots(calls, objects)
        except TaskError as err:
            assert "no room" in str(err) and "nothing was moved" in str(err)
            refused += 1
            continue
        assert_spots_fit(list(placed), objects)
        planned += 1
    assert refused > 5 and planned > 5  # both outcomes were exercised


@pytest.mark.parametrize("task, says", [
    ("pick up all the cubes", "names several objects"),
    ("push the cubes 5 cm to the left", "names several objects"),
    ("move to the red ones", "names several objects"),
    ("put all the cubes on the lego", "only one object fits on"),
    ("put the cubes next to the tray", "names several objects"),
    ("put three red cubes in the tray", "names 3 objects but 2 match"),
])
def test_sets_where_they_are_not_supported_are_refused(scene, task, says):
    with pytest.raises(TaskError, match=says):
        parse_task(task, scene)


def footprint(call: SkillCall, objects: dict[str, ObjectState]) -> Footprint:
    half = objects[call.params["object"]].half_extents[:2]
    return Footprint((call.params.get("offset_x", 0.0), call.params.get("offset_y", 0.0)), tuple(half))


def assert_spots_fit(places: list[SkillCall], objects: dict[str, ObjectState]) -> None:
    """Every placed footprint lies on the container's floor and clear of the others by GAP."""
    prints = [footprint(c, objects) for c in places]
    for i, p in enumerate(prints):
        container = objects[places[i].params["target"]]
        floor = container.half_extents[:2] * FLOOR_FRACTION - WALL_GAP
        assert np.all(np.abs(p.centre) + p.half <= floor + 1e-9), p
        for q in prints[i + 1:]:
            assert p.clear_of(q, GAP - 1e-9), (p, q)


# -- on the table, beside or between others ----------------------------------------------------------------

@pytest.mark.parametrize("task, side, axis, sign", [
    ("put the red cube to the left of the blue cube", "left", 1, 1),
    ("put the red cube on the right side of the green cube", "right", 1, -1),
    ("place the small blue cube in front of the yellow cube", "front", 0, -1),  # the robot's side: -x
    ("put the lego behind the red cube", "behind", 0, 1),
])
def test_beside_sets_down_on_the_table_at_that_side(scene, task, side, axis, sign):
    plan = parse_task(task, scene)
    place = plan.calls[1]
    obj, target = (scene[place.params[k]] for k in ("object", "target"))
    offset = np.array([place.params["offset_x"], place.params["offset_y"]])
    assert place.params["surface"] == "table" and plan.goals == (Goal("beside", obj=obj.name, target=target.name,
                                                                       state=side),)
    assert offset[axis] * sign >= obj.half_extents[axis] + target.half_extents[axis]  # beside, not on it
    assert offset[1 - axis] == 0.0


def test_next_to_takes_a_free_side_and_says_which(scene):
    plan = parse_task("put the red cube next to the lego", scene)
    assert plan.goals[0].kind == "beside" and plan.goals[0].state is None
    assert any("'next to' taken as the" in note for note in plan.notes)


def test_between_aims_midway(scene):
    plan = parse_task("put the green cube between the red cube and the yellow cube", scene)
    place = plan.calls[1]
    red, yellow = scene["red_cube"].position[:2], scene["yellow_cube"].position[:2]
    np.testing.assert_allclose(red + [place.params["offset_x"], place.params["offset_y"]], (red + yellow) / 2)
    assert plan.goals == (Goal("between", obj="green_cube", target="red_cube", other="yellow_cube"),)


def test_two_things_beside_one_object_get_two_spots(scene):
    plan = parse_task("put the red cube next to the lego, then put the green cube next to the lego", scene)
    spots = [np.array([c.params["offset_x"], c.params["offset_y"]]) for c in plan.calls if c.skill == "place"]
    assert np.linalg.norm(spots[0] - spots[1]) > 0.05


@pytest.mark.parametrize("task, says", [
    ("put the red cube beside the tray", "no free room on the table next to the white tray"),  # off the table area
    ("put the small red cube between the red cube and the green cube", "no room"),  # 2 cm between them
    ("put the red cube between the lego", "say 'between X and Y'"),
    ("put the red cube to the left of the red cube", "beside itself"),
    ("put the red cube under the tray", "not under or near"),
])
def test_relations_that_cannot_be_done_are_refused(scene, task, says):
    with pytest.raises(TaskError, match=says):
        parse_task(task, scene)


# -- named spots of a container --------------------------------------------------------------------------

@pytest.mark.parametrize("task, signs", [
    ("put the red cube in the middle of the tray", (0, 0)),
    ("put the red cube in the front left corner of the tray", (-1, 1)),  # front: the robot's side, -x
    ("put the red cube in the back right corner of the bin", (1, -1)),
    ("put the red cube in the far-left corner of the box", (1, 1)),
])
def test_a_named_spot_of_a_container(scene, task, signs):
    plan = parse_task(task, scene)
    place = plan.calls[1]
    offset = (place.params["offset_x"], place.params["offset_y"])
    assert np.array_equal(np.sign(np.round(offset, 6)), signs)
    assert plan.goals == (Goal("in", obj="red_cube", target="tray", offset=offset),)
    assert_spots_fit([place], scene)


def test_corners_fill_one_after_another_and_a_taken_middle_is_refused(scene):
    plan = parse_task("put the red cube in a corner of the tray, then put the blue cube in a corner of the tray, "
                      "then put the green cube in the tray", scene)
    assert_spots_fit([c for c in plan.calls if c.skill == "place"], scene)
    with pytest.raises(TaskError, match="middle of the white tray is taken"):
        parse_task("put the red cube in the middle of the tray then put the blue cube in the middle of the tray",
                   scene)
    with pytest.raises(TaskError, match="not of the large green cube"):
        parse_task("put the red cube in the middle of the green cube", scene)


def test_between_objects_far_apart_aims_from_an_object_near_the_middle(scene):
    """The place skill's offset reaches 15 cm: between two objects farther apart it aims from the object
    nearest the middle that the task does not move."""
    a, b = scene["small_blue_cube"].position[:2], scene["yellow_cube"].position[:2]
    assert np.abs(b - a).max() > 0.3
    plan = parse_task("put the small red cube between the small blue cube and the yellow cube", scene)
    place = plan.calls[1]
    reference = scene[place.params["target"]].position[:2]
    np.testing.assert_allclose(reference + [place.params["offset_x"], place.params["offset_y"]], (a + b) / 2)
    assert place.params["target"] not in ("small_red_cube", "small_blue_cube", "yellow_cube")
    assert plan.goals == (Goal("between", obj="small_red_cube", target="small_blue_cube", other="yellow_cube"),)


def test_the_middle_and_the_corners_of_the_table(scene):
    """Of the area the arm sets things down in (placement.TABLE_AREA): its middle, or the corner asked for, as
    near as it is free; the place aims from an object within the skill's offset of the spot."""
    from planners.placement import TABLE_AREA
    (x0, y0), (x1, y1) = TABLE_AREA
    middle = parse_task("put the red cube in the middle of the table", scene)
    [goal] = middle.goals
    assert goal.kind == "table_spot" and np.linalg.norm(np.subtract(goal.offset, [(x0 + x1) / 2, 0.0])) < 0.06
    place = middle.calls[1]
    aimed = scene[place.params["target"]].position[:2] + [place.params["offset_x"], place.params["offset_y"]]
    np.testing.assert_allclose(aimed, goal.offset)
    assert place.params["surface"] == "table" and place.params["target"] != "red_cube"
    back_right = parse_task("put the red cube in the back right corner of the table", scene).goals[0]
    assert back_right.offset[0] > x1 - 0.1 and back_right.offset[1] < y0 + 0.1  # back: away from the robot
    with pytest.raises(TaskError, match="nothing stands within 15 cm of that corner"):  # it was the only one
        parse_task("put the small blue cube in the back right corner of the table", scene)
    two = parse_task("put the red cube in a corner of the table, then put the blue cube in a corner of the table",
                     scene)
    a, b = (np.asarray(g.offset) for g in two.goals)
    assert np.abs(a - b).max() > 0.1  # two corners, not one spot twice
    with pytest.raises(TaskError, match="no room for the large green cube in that corner of the table"):
        parse_task("put the blue cube in the back right corner of the table, then put the green cube in the back "
                   "right corner of the table, then put the yellow cube in the back right corner of the table, "
                   "then put the red cube in the back right corner of the table", scene)
