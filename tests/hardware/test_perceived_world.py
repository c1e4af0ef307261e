"""Tasks on perceived object states (hardware.perception.world): the skills and goals see only what the camera
and the arm's own sensing give; success is read from PyBullet's truth."""
from __future__ import annotations

import pytest

from hardware.perception import Perception
from hardware.perception.world import PerceivedWorld
from hardware.pybullet import PyBulletArm, PyBulletConfig
from planners.goals import goal_holds
from planners.scheduler import Scheduler


@pytest.fixture(scope="module")
def scheduler():
    return Scheduler(learned=True)


@pytest.mark.parametrize("task, seed", [("put the red cube in the tray", 0),
                                        ("stack the blue cube on the green cube", 1), ("put the lego in the tray", 0),
                                        ("push the yellow cube 10 cm left", 0)])
def test_a_task_on_perceived_states_reaches_its_goals_in_the_simulator(scheduler, task, seed):
    with PyBulletArm(PyBulletConfig(seed=seed)) as arm:
        world = PerceivedWorld(arm, arm, Perception(arm.scene))
        plan = scheduler.plan(task, world)
        start = {n: o.position.copy() for n, o in arm.objects().items()}
        report = scheduler.execute(plan, arm, world)
        for _ in range(10):
            arm.step()
        assert all(goal_holds(g, arm, arm, start) for g in plan.goals), report.message  # truth
        assert report.success and world.frames > 10, report.message  # and the perceived world agrees


def test_the_object_in_the_hand_follows_the_tool_and_is_let_go_where_it_is_put():
    from skill_lib.runner import run_skill
    from skill_lib.skills import default_skills

    skills = {s.name: s for s in default_skills()}
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        world = PerceivedWorld(arm, arm, Perception(arm.scene))
        assert not world.is_grasped("red_cube") and world.contacts("red_cube", "table")
        assert run_skill(skills["pick"], {"object": "red_cube"}, arm, world).success
        assert world.is_grasped("red_cube") and not world.contacts("red_cube", "table")
        assert abs(world.object("red_cube").position - arm.object("red_cube").position).max() < 0.015  # in hand
        assert run_skill(skills["place"], {"object": "red_cube", "target": "green_cube"}, arm, world).success
        assert not world.is_grasped("red_cube") and world.contacts("red_cube", "green_cube")
        assert abs(world.object("red_cube").position - arm.object("red_cube").position).max() < 0.015
