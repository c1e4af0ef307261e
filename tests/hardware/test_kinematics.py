"""Kinematics (a robot-only PyBullet client, used by every backend): FK against the simulated arm, IK accuracy,
and the posture the IK keeps on a redundant arm."""
from __future__ import annotations

import numpy as np
import pytest

from hardware.kinematics import Kinematics
from hardware.pybullet import PyBulletArm, PyBulletConfig
from hardware.robots import load_robot


def angle_between(a: np.ndarray, b: np.ndarray) -> float:
    """Rotation angle (rad) between two unit quaternions."""
    return 2 * float(np.arccos(min(1.0, abs(float(np.dot(a, b))))))


def test_kinematics_client_matches_the_simulated_arm():
    """The robot-only client's FK is the simulated arm's, and its IK gives the arm's own filtered target."""
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        kin = Kinematics(arm.robot_config)
        try:
            q = arm.joint_state().positions
            assert np.allclose(kin.tcp_position(q), arm.ee_pose().position, atol=1e-6)
            goal = arm.ee_pose().position + np.array([0.02, -0.01, -0.02])  # inside max_ee_step: no clamp
            expected = arm.command_ee(goal)
            ik = kin.ik(goal, arm.tool_down(), q)
            filtered = arm.safety.filter_joint_target(ik, q, kin.tcp_position)
            assert np.allclose(filtered, expected, atol=1e-4)
            assert np.allclose(kin.lower, arm.safety.config.joint_lower)
        finally:
            kin.close()


def tool_down_posture(kin: Kinematics, position: np.ndarray, yaw: float) -> np.ndarray:
    """A posture with the tool down at `position` (solved from home, as a skill's steps would reach it)."""
    q = np.array(kin.robot.home)
    for _ in range(30):
        here = kin.tcp_position(q)
        q = kin.ik(here + np.clip(position - here, -0.04, 0.04), kin.tool_down(yaw), q)
    return q


@pytest.mark.parametrize("robot", ["panda", "xarm6"])
def test_ik_reaches_targets_a_control_step_away(robot):
    """From tool-down postures over the table, targets up to 4 cm away with the yaw turned up to 0.2 rad: the
    tool lands within 0.05 mm and 1 mrad of what was asked."""
    kin = Kinematics(load_robot(robot))
    try:
        rng = np.random.default_rng(11)
        errors, angles = [], []
        for _ in range(40):
            yaw = rng.uniform(-0.8, 0.8)
            q = tool_down_posture(kin, rng.uniform([0.35, -0.2, 0.05], [0.55, 0.2, 0.3]), yaw)
            for _ in range(5):
                goal = kin.tcp_position(q) + rng.uniform(-0.023, 0.023, 3)
                orn = kin.tool_down(yaw + rng.uniform(-0.2, 0.2))
                pose = kin.tcp_pose(kin.ik(goal, orn, q))
                errors.append(np.linalg.norm(pose.position - goal))
                angles.append(angle_between(pose.orientation, orn))
        assert max(errors) < 5e-5, max(errors)
        assert max(angles) < 1e-3, max(angles)
    finally:
        kin.close()


def test_ik_brings_a_redundant_arm_back_toward_home_without_moving_the_tool():
    """The Panda has one joint more than the task needs: held at one tool pose, its posture moves toward home
    solve by solve (in the null space) and the tool stays put."""
    kin = Kinematics(load_robot("panda"))
    try:
        home = np.array(kin.robot.home)
        start = home + np.array([0.4, 0.2, -0.5, 0.1, 0.3, -0.2, 0.3])
        target, orn = kin.tcp_position(start), kin.tool_down()
        q = kin.ik(target, orn, start)  # the tool exactly down, the posture still far from home
        far = np.linalg.norm(q - home)
        for _ in range(40):  # two seconds of 20 Hz control
            q = kin.ik(target, orn, q)
            assert np.linalg.norm(kin.tcp_position(q) - target) < 1e-4
        assert np.linalg.norm(q - home) < 0.5 * far
    finally:
        kin.close()


def test_ik_of_an_unreachable_target_is_finite():
    """A target out of reach gives a finite posture stretched toward it (the safety filter bounds the step)."""
    kin = Kinematics(load_robot("panda"))
    try:
        q = kin.ik([2.0, 0.0, 0.3], kin.tool_down(), kin.robot.home)
        assert np.all(np.isfinite(q)) and q.shape == (7,)
        assert kin.tcp_position(q)[0] > kin.tcp_position(kin.robot.home)[0]
    finally:
        kin.close()
