"""A remembered or live correction changes a skill call's parameters; the task's goals built from that call move
with them, so the corrected task is judged by what the operator asked for (a stored "hover 5 cm higher" failed
every later "move to" task: the goal still wanted the old height, and re-planning fought the correction)."""
from __future__ import annotations

import pytest

from hardware.pybullet import PyBulletArm, PyBulletConfig
from planners.corrections import CorrectionContext
from planners.corrections.memory import CorrectionMemory
from planners.corrections.runtime import record_correction
from planners.goals import follow
from planners.plan import Goal
from planners.scheduler import Scheduler

MOVE = {"target": "green_cube", "height": 0.10, "speed": 1.0}
PUSH = {"object": "red_cube", "direction": "left", "distance": 0.10, "speed": 1.0}
PLACE = {"object": "red_cube", "target": "tray", "offset_x": 0.04, "offset_y": -0.04, "surface": "target", "speed": 1.0}


def test_the_goals_built_from_a_call_follow_its_corrected_parameters():
    at = Goal("at", target="green_cube", position=(0.5, 0.1, 0.148))
    assert follow(at, "move_to", MOVE, {**MOVE, "height": 0.15}).position == pytest.approx((0.5, 0.1, 0.198))
    moved = Goal("displaced", obj="red_cube", offset=(0.0, 0.10))
    assert follow(moved, "push", PUSH, {**PUSH, "distance": 0.13}).offset == pytest.approx((0.0, 0.13))
    spot = Goal("in", obj="red_cube", target="tray", offset=(0.04, -0.04))
    assert follow(spot, "place", PLACE, {**PLACE, "offset_y": -0.01}).offset == pytest.approx((0.04, -0.01))


@pytest.mark.parametrize("goal, skill, planned, ran", [
    (Goal("at", target="blue_cube", position=(0.5, 0.1, 0.148)), "move_to", MOVE, {**MOVE, "height": 0.15}),
    (Goal("displaced", obj="blue_cube", offset=(0.0, 0.10)), "push", PUSH, {**PUSH, "distance": 0.13}),
    (Goal("displaced", obj="red_cube", offset=(0.0, 0.04)), "push", PUSH, {**PUSH, "distance": 0.13}),  # a retry's
    (Goal("in", obj="red_cube", target="bin", offset=(0.0, 0.0)), "place", PLACE, {**PLACE, "offset_y": 0.0}),
    (Goal("on", obj="red_cube", target="tray"), "place", PLACE, {**PLACE, "offset_y": 0.0}),
])
def test_goals_not_built_from_that_call_stay(goal, skill, planned, ran):
    assert follow(goal, skill, planned, ran) == goal


def test_a_remembered_correction_is_what_the_next_task_is_judged_by(tmp_path):
    scheduler = Scheduler(learned=False)
    scheduler.corrections = CorrectionMemory.open(tmp_path / "corrections.db", embedder=scheduler.library.embedder)
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        record_correction("hover 5 cm higher", CorrectionContext(task="move to the blue cube", objects=arm.objects(),
                                                                 source="cli"), scheduler.corrections)
        report = scheduler.execute(scheduler.plan("move to the green cube", arm), arm, arm)
        tool, green = arm.ee_pose().position, arm.object("green_cube")
    assert report.success and not report.replans, report.message
    assert tool[2] - green.top_z == pytest.approx(0.15, abs=0.02)  # where the operator asked, not at 10 cm
