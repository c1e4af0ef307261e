"""Goal-based replanning: the world changes under the robot during a task (a person moves a placed cube, a
push is undone) and the executor re-plans from the world as it is until the goals hold, within its budget; a
stop never re-plans. Faults are injected in PyBullet; success is the goals read from it."""
from __future__ import annotations

import numpy as np
import pytest

from hardware.pybullet import PyBulletArm, PyBulletConfig
from planners.episode_log import EpisodeLog, read_log
from planners.executor import ExecutionObserver, Executor
from planners.goals import goal_holds
from planners.parser import parse_task
from planners.plan import Goal, SkillCall
from planners.replan import replan
from skill_lib.skills import default_skills

SKILLS = {s.name: s for s in default_skills()}


class MoveAfterSkill(ExecutionObserver):
    """A person: after each successful `skill` of `obj` (up to `times`), puts `obj` back at `where`."""

    def __init__(self, arm: PyBulletArm, skill: str, obj: str, where, times: int = 1) -> None:
        self.arm, self.skill, self.obj, self.where, self.times = arm, skill, obj, where, times
        self.moved = 0
        self.replans: list[tuple[int, str, list[SkillCall]]] = []

    def skill_finished(self, index, outcome):
        if outcome.success and outcome.skill == self.skill and outcome.params.get("object") == self.obj \
                and self.moved < self.times:
            self.arm.set_object_pose(self.obj, self.where)
            for _ in range(10):
                self.arm.step()
            self.moved += 1

    def replanned(self, round, reason, calls):
        self.replans.append((round, reason, calls))


def run(task: str, seed: int, observer_of, tmp_path, **executor):
    with PyBulletArm(PyBulletConfig(seed=seed)) as arm, EpisodeLog(tmp_path / "log.jsonl") as log:
        plan = parse_task(task, arm.objects())
        start = {n: o.position.copy() for n, o in arm.objects().items()}
        observer = observer_of(arm)
        report = Executor(arm, arm, SKILLS, log=log, observer=observer, **executor).run(plan)
        truth = all(goal_holds(g, arm, arm, start) for g in plan.goals)
    return report, truth, observer, read_log(tmp_path / "log.jsonl")


@pytest.mark.parametrize("seed", [0, 3])
def test_a_cube_taken_out_of_the_tray_is_put_back(tmp_path, seed):
    report, truth, person, events = run(
        "put the red cube and the blue cube in the tray", seed,
        lambda arm: MoveAfterSkill(arm, "place", "red_cube", [0.45, -0.1, 0.026]), tmp_path)
    assert person.moved == 1 and truth and report.success, report.message
    assert len(report.replans) == 1 and "red_cube in tray" in report.replans[0]
    (round_, reason, calls), = person.replans
    assert [str(c).split("(")[0] for c in calls] == ["pick", "place"] and calls[0].params["object"] == "red_cube"
    assert [e["round"] for e in events if e["event"] == "replan"] == [1]


def test_a_cube_moved_away_from_beside_is_set_down_beside_again(tmp_path):
    report, truth, person, _ = run(
        "put the red cube to the left of the blue cube", 1,
        lambda arm: MoveAfterSkill(arm, "place", "red_cube", [0.40, -0.25, 0.026]), tmp_path)
    assert person.moved == 1 and truth and report.success and len(report.replans) == 1, report.message


def test_the_budget_ends_a_task_the_world_keeps_undoing(tmp_path):
    report, truth, person, events = run(
        "put the red cube in the tray", 0,
        lambda arm: MoveAfterSkill(arm, "place", "red_cube", [0.45, -0.1, 0.026], times=10), tmp_path, replans=2)
    assert not truth and not report.success and person.moved == 3
    assert "after 2 re-plans" in report.message and len(report.replans) == 2
    assert [e["round"] for e in events if e["event"] == "replan"] == [1, 2]


def test_no_replans_reports_the_goal_that_does_not_hold(tmp_path):
    report, truth, person, _ = run(
        "put the red cube in the tray", 0,
        lambda arm: MoveAfterSkill(arm, "place", "red_cube", [0.45, -0.1, 0.026]), tmp_path, replans=0)
    assert not truth and not report.success and "goal does not hold: red_cube in tray" in report.message


def test_a_stop_is_never_replanned(tmp_path):
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        plan = parse_task("put the red cube in the tray", arm.objects())
        report = Executor(arm, arm, SKILLS, should_stop=lambda: True).run(plan)
    assert not report.success and report.outcomes[-1].message == "stopped" and not report.replans


def test_replan_calls_for_each_kind_of_goal():
    """From the world as it is: a held object is not picked again; a push covers what is left; goals no skill
    can bring about again are refused."""
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        start = {n: o.position.copy() for n, o in arm.objects().items()}
        calls = replan([Goal("in", obj="red_cube", target="tray"), Goal("lifted", obj="blue_cube"),
                        Goal("gripper", state="open")], arm, start)
        assert [c.skill for c in calls] == ["pick", "place", "pick", "open_gripper"]
        arm.set_object_pose("yellow_cube", start["yellow_cube"] + [0.0, 0.04, 0.0])  # a push got 4 of 10 cm
        push, = replan([Goal("displaced", obj="yellow_cube", offset=(0.0, 0.10))], arm, start)
        assert push.skill == "push" and push.params["direction"] == "left"
        assert push.params["distance"] == pytest.approx(0.06, abs=0.005)
        arm.set_object_pose("yellow_cube", start["yellow_cube"] + [0.03, 0.04, 0.0])  # and 3 cm off to the side
        left, back = replan([Goal("displaced", obj="yellow_cube", offset=(0.0, 0.10))], arm, start)  # longer first
        assert (left.params["direction"], back.params["direction"]) == ("left", "backward")
        assert (left.params["distance"], back.params["distance"]) == pytest.approx((0.06, 0.03), abs=0.005)
        with pytest.raises(Exception, match="no skill brings that about"):
            replan([Goal("at", position=(0.4, 0.0, 0.3))], arm, start)


def test_a_plan_without_changes_in_the_world_does_not_replan(tmp_path):
    report, truth, person, events = run("put the red cube in the tray", 0, lambda arm: ExecutionObserver(),
                                        tmp_path)
    assert truth and report.success and not report.replans
    assert not [e for e in events if e["event"] == "replan"]
    assert np.isfinite(report.sim_seconds)


def test_a_hover_after_a_replanned_place_is_done_again(tmp_path):
    """The lego is taken out of the tray before the arm moves on: the re-plan puts it back and then, since that
    moves the arm, hovers above the green cube again."""
    report, truth, person, _ = run(
        "put the lego in the tray, then move to the green cube", 1,
        lambda arm: MoveAfterSkill(arm, "place", "lego_brick", [0.45, -0.25, 0.02]), tmp_path)
    assert person.moved == 1 and truth and report.success, report.message
    (_, _, calls), = person.replans
    assert [c.skill for c in calls] == ["pick", "place", "move_to"] and calls[2].params["target"] == "green_cube"


def test_a_cube_moved_off_the_middle_of_the_table_is_set_down_there_again(tmp_path):
    report, truth, person, _ = run(
        "put the blue cube in the middle of the table", 0,
        lambda arm: MoveAfterSkill(arm, "place", "blue_cube", [0.40, -0.28, 0.026]), tmp_path)
    assert person.moved == 1 and truth and report.success and len(report.replans) == 1, report.message
