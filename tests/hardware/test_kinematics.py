"""The ROS backend's kinematics (a robot-only PyBullet client) against the simulated arm."""
from __future__ import annotations

import numpy as np

from hardware.kinematics import Kinematics
from hardware.pybullet import PyBulletArm, PyBulletConfig


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
