"""What the ExecuteTask action reports, decided without ROS: text checks and outcome classification."""
from __future__ import annotations

import numpy as np
import pytest

from hardware.pybullet import PyBulletArm, PyBulletConfig
from hardware.pybullet.kinematics import Kinematics
from planners.executor import TaskReport
from planners.task_result import ErrorCode, check_task_text, classify, shorten
from skill_lib.runner import SkillOutcome


@pytest.mark.parametrize("text, reason", [("", "empty"), ("   \n", "empty"), ("x" * 501, "too long"),
                                          ("pick\x00up", "control"), ("put \ufffd", "non-text")])
def test_refused_texts(text, reason):
    assert reason in check_task_text(text)


def test_plain_text_passes():
    assert check_task_text("put the red cube in the tray,\tthen\nstack it") is None
    assert check_task_text("posez le cube rouge à gauche") is None  # not ours to refuse: the parser says why


def test_classification_order():
    ok, bad = SkillOutcome("pick", {}, True, "ok"), SkillOutcome("place", {}, False, "postcondition failed: x")
    safety = SkillOutcome("pick", {}, False, "safety stop: e-stop is active")
    assert classify(TaskReport("t", ["pick"], True, "goal reached", [ok])).error == ErrorCode.NONE
    assert classify(TaskReport("t", ["pick"], False, "m", [ok]), canceled=True).error == ErrorCode.CANCELED
    assert classify(TaskReport("t", ["pick"], False, "m", [ok]), timed_out=True).error == ErrorCode.TIMEOUT
    assert classify(TaskReport("t", ["pick"], False, "m", [safety])).error == ErrorCode.HARDWARE
    assert classify(TaskReport("t", ["pick"], False, "goal does not hold", [ok])).error == ErrorCode.GOAL_NOT_MET
    assert classify(TaskReport("t", ["pick", "place"], False, "m", [ok, bad])).error == ErrorCode.SKILL_FAILED
    assert len(shorten("a " * 1000)) == 80


def test_kinematics_client_matches_the_simulated_arm():
    """The ROS backend's IK/FK (robot-only client) gives what PyBulletArm computes in its world."""
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        kin = Kinematics(arm.robot_config)
        try:
            q = arm.joint_state().positions
            assert np.allclose(kin.tcp_position(q), arm.ee_pose().position, atol=1e-6)
            goal = arm.ee_pose().position + np.array([0.02, -0.01, -0.02])  # inside max_ee_step: no clamp
            fingers = [arm.gripper_width() / 2] * 2
            expected = arm.command_ee(goal)  # filtered joint target from the sim's own IK
            ik = kin.ik(goal, arm.tool_down(), q, fingers)
            filtered = arm.safety.filter_joint_target(ik, q, kin.tcp_position)
            assert np.allclose(filtered, expected, atol=1e-4)
            assert np.allclose(kin.lower, arm.safety.config.joint_lower)
        finally:
            kin.close()
