"""The executor's monitor: retries, recovery, stopping, and the log, with faults injected in PyBullet."""
from __future__ import annotations

import pytest

from hardware.pybullet import PyBulletArm, PyBulletConfig
from planners.episode_log import EpisodeLog, read_log
from planners.executor import ExecutionObserver, Executor
from planners.plan import Goal, Plan, SkillCall
from skill_lib.skills import default_skills
from skill_lib.spec import Policy

SKILLS = {s.name: s for s in default_skills()}
PUT_RED_IN_TRAY = Plan("put the red cube in the tray",
                       (SkillCall("pick", {"object": "red_cube"}), SkillCall("place", {"object": "red_cube",
                                                                                        "target": "tray"})),
                       (Goal("in", "red_cube", "tray"),))


class DropDuringFirstPlace(ExecutionObserver):
    """Fault injection: knocks the cube out of the hand early in the first place attempt."""

    def __init__(self, arm: PyBulletArm) -> None:
        self.arm, self.current, self.dropped = arm, None, False

    def skill_started(self, index, call, attempt):
        self.current, self.steps = call.skill, 0

    def skill_progress(self, index, fraction):
        self.steps += 1
        if self.current == "place" and not self.dropped and self.steps == 8:
            self.arm.set_object_pose("red_cube", [0.42, -0.12, 0.026])
            self.dropped = True


def test_a_dropped_object_is_picked_again_and_placed(tmp_path):
    with PyBulletArm(PyBulletConfig(seed=2)) as arm, EpisodeLog(tmp_path / "log.jsonl") as log:
        observer = DropDuringFirstPlace(arm)
        report = Executor(arm, arm, SKILLS, log=log, observer=observer).run(PUT_RED_IN_TRAY)
        assert observer.dropped
        assert report.success, report.message
        events = read_log(log.path)
    assert any(e["event"] == "recovery" for e in events)
    ends = [e for e in events if e["event"] == "skill_end"]
    assert [e["skill"] for e in ends] == ["pick", "place", "pick", "place"]
    assert [e["success"] for e in ends] == [True, False, True, True]


def test_no_retries_and_no_replans_means_the_failure_is_reported():
    with PyBulletArm(PyBulletConfig(seed=2)) as arm:
        report = Executor(arm, arm, SKILLS, retries=0, replans=0,
                          observer=DropDuringFirstPlace(arm)).run(PUT_RED_IN_TRAY)
        assert not report.success and "skill 2" in report.message


def test_should_stop_halts_without_retrying():
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        report = Executor(arm, arm, SKILLS, should_stop=lambda: True).run(PUT_RED_IN_TRAY)
        assert not report.success and report.outcomes[0].message == "stopped"
        assert len(report.outcomes) == 1


def test_estop_mid_task_is_a_safety_stop_and_the_arm_holds():
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        class EStopAfter10(ExecutionObserver):
            steps = 0

            def skill_progress(self, index, fraction):
                self.steps += 1
                if self.steps == 10:
                    arm.estop()

        report = Executor(arm, arm, SKILLS, observer=EStopAfter10()).run(PUT_RED_IN_TRAY)
        assert not report.success and "safety stop" in report.message
        held = arm.ee_pose().position.copy()
        for _ in range(20):
            arm.step()
        assert abs(arm.ee_pose().position - held).max() < 0.005


@pytest.mark.parametrize("bad", [SkillCall("pick", {"object": "red_cube", "force": 3}),
                                 SkillCall("push", {"object": "red_cube", "direction": "up"})])
def test_bad_skill_parameters_fail_cleanly(bad):
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        report = Executor(arm, arm, SKILLS).run(Plan("bad", (bad,), ()))
        assert not report.success and "bad parameters" in report.message


class HalfPushThenGiveUp(Policy):
    """A fake 'learned' push that stops after 6 of the asked 10 cm: the retry must push only the rest."""

    kind, tool_yaw = "learned", 0.0

    def reset(self, ctx):
        from skill_lib.controllers import WaypointPolicy
        from skill_lib.skills import push
        from skill_lib.spec import SkillContext
        self._ctx = SkillContext(ctx.arm, ctx.world, {**ctx.params, "distance": 0.06}, ctx.memory)
        self._inner = WaypointPolicy(push._waypoints)
        self._inner.reset(self._ctx)
        self.tool_yaw = self._inner.tool_yaw

    def act(self, ctx):
        action = self._inner.act(self._ctx)
        self.tool_yaw = self._inner.tool_yaw
        return action

    def done(self, ctx):
        return self._inner.done(self._ctx)

    def progress(self):
        return self._inner.progress()


def test_a_failed_push_is_retried_for_the_remaining_distance_only(tmp_path):
    import dataclasses
    skills = {**SKILLS, "push": dataclasses.replace(SKILLS["push"], policy=HalfPushThenGiveUp)}
    plan = Plan("push the yellow cube 10 cm to the left",
                (SkillCall("push", {"object": "yellow_cube", "direction": "left", "distance": 0.10}),),
                (Goal("displaced", "yellow_cube", offset=(0.0, 0.10)),))
    with PyBulletArm(PyBulletConfig(seed=1)) as arm, EpisodeLog(tmp_path / "log.jsonl") as log:
        start = arm.object("yellow_cube").position.copy()
        report = Executor(arm, arm, skills, log=log).run(plan)
        moved = arm.object("yellow_cube").position - start
    assert report.success, report.message
    assert abs(moved[1] - 0.10) < 0.02, moved  # not 0.06 + 0.10
    events = read_log(tmp_path / "log.jsonl")
    retry = [e for e in events if e["event"] == "recovery"][0]
    import re
    assert 0.02 < float(re.search(r"distance=([0-9.]+)", retry["call"]).group(1)) < 0.06, retry


def test_the_log_takes_numpy_scalars_as_plain_json(tmp_path):
    import numpy as np

    with EpisodeLog(tmp_path / "log.jsonl") as log:
        log.write("task_end", success=np.bool_(True), goals=[("x in tray", np.bool_(False))], t=np.float32(0.5),
                  n=np.int64(3), q=np.zeros(2))
    [record] = read_log(tmp_path / "log.jsonl")
    assert (record["success"], record["goals"], record["t"], record["n"], record["q"]) == \
        (True, [["x in tray", False]], 0.5, 3, [0.0, 0.0])
