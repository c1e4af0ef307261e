"""The second arm, UFactory xArm6 with its linkage gripper (config/robots/xarm6.yaml), in the PyBullet backend and
in the ROS backend's kinematics. Where it matters, state is read with raw PyBullet queries, not the arm's getters.
"""
from __future__ import annotations

import math

import numpy as np
import pybullet as pb
import pybullet_data
import pytest

from hardware.kinematics import Kinematics
from hardware.pybullet import PyBulletArm, PyBulletConfig
from hardware.robots import load_robot
from hardware.safety import SafetyError

#: the xArm gripper's stroke
MAX_WIDTH = 0.085


@pytest.fixture(scope="module")
def arm():
    a = PyBulletArm(PyBulletConfig(robot="xarm6", seed=0))
    yield a
    a.close()


def urdf_limits(urdf: str, joints: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Joint limits read straight from the URDF in a client of the test's own."""
    c = pb.connect(pb.DIRECT)
    try:
        pb.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=c)
        body = pb.loadURDF(urdf, useFixedBase=True, physicsClientId=c)
        info = {pb.getJointInfo(body, j, physicsClientId=c)[1].decode(): pb.getJointInfo(body, j, physicsClientId=c)
                for j in range(pb.getNumJoints(body, physicsClientId=c))}
        return np.array([info[n][8] for n in joints]), np.array([info[n][9] for n in joints])
    finally:
        pb.disconnect(c)


def link_index(arm: PyBulletArm, name: str) -> int:
    c = arm.physics_client
    return next(j for j in range(pb.getNumJoints(arm.body_id("robot"), physicsClientId=c))
                if pb.getJointInfo(arm.body_id("robot"), j, physicsClientId=c)[12].decode() == name)


def pad_gap(arm: PyBulletArm) -> float:
    """Distance between the two pads' collision shapes: the real opening, independent of the width map."""
    robot, c = arm.body_id("robot"), arm.physics_client
    points = pb.getClosestPoints(robot, robot, 0.5, link_index(arm, "left_finger"), link_index(arm, "right_finger"),
                                 physicsClientId=c)
    return max(0.0, min(p[8] for p in points))


def finger_positions(arm: PyBulletArm) -> np.ndarray:
    robot, c = arm.body_id("robot"), arm.physics_client
    return np.array([pb.getJointState(robot, link_index(arm, n), physicsClientId=c)[0]
                     for n in ("left_outer_knuckle", "left_finger", "left_inner_knuckle", "right_outer_knuckle",
                               "right_finger", "right_inner_knuckle")])


def go(arm: PyBulletArm, position, steps: int = 60, yaw: float = 0.0) -> None:
    for _ in range(steps):
        arm.command_ee(position, arm.tool_down(yaw))
        arm.step()


def test_loads_at_home_tool_down_with_the_gripper_open(arm):
    rc = arm.robot_config
    assert rc.name == "xarm6" and len(rc.arm_joints) == 6 and len(rc.finger_joints) == 6
    assert arm.joint_state().positions.shape == (6,)
    np.testing.assert_allclose(arm.joint_state().positions, rc.home, atol=0.01)
    pose = arm.ee_pose()
    np.testing.assert_allclose(pose.position, [0.457, 0.0, 0.36], atol=0.01)  # where the Panda's home is
    down = np.array(pb.getMatrixFromQuaternion(pose.orientation)).reshape(3, 3)[:, 2]
    np.testing.assert_allclose(down, [0, 0, -1], atol=0.01)
    assert arm.gripper_max_width == MAX_WIDTH
    assert arm.gripper_width() == pytest.approx(MAX_WIDTH, abs=0.002)
    assert pad_gap(arm) == pytest.approx(MAX_WIDTH, abs=0.002)


def test_tool_centre_point_is_between_the_fingertips(arm):
    """Halfway between the pads, level with their lower ends (closed, as when they hold a cube)."""
    arm.command_gripper(0.03)
    for _ in range(20):
        arm.step()
    robot, c = arm.body_id("robot"), arm.physics_client
    tcp = arm.ee_pose().position
    left, right = link_index(arm, "left_finger"), link_index(arm, "right_finger")
    nearest = pb.getClosestPoints(robot, robot, 0.5, left, right, physicsClientId=c)[0]
    middle = (np.array(nearest[5]) + np.array(nearest[6])) / 2  # between the pads' facing surfaces
    np.testing.assert_allclose(tcp[:2], middle[:2], atol=0.004)
    tips = min(pb.getAABB(robot, f, physicsClientId=c)[0][2] for f in (left, right))
    assert 0.0 < tcp[2] - tips < 0.015  # the fingertips reach just below it, as the Panda's do
    arm.command_gripper(MAX_WIDTH)
    for _ in range(20):
        arm.step()


@pytest.mark.parametrize("width", [0.0, 0.02, 0.04, 0.06, MAX_WIDTH])
def test_gripper_opens_and_closes_to_the_asked_width(arm, width):
    """The pads end where asked (measured between their surfaces) and all six linkage joints move together."""
    assert arm.command_gripper(width) == pytest.approx(width)
    for _ in range(30):
        arm.step()
    assert pad_gap(arm) == pytest.approx(width, abs=0.002)
    assert arm.gripper_width() == pytest.approx(width, abs=0.002)
    q = finger_positions(arm)
    assert np.ptp(q) < 0.01, q


def test_gripper_width_is_clamped_and_bad_widths_refused(arm):
    assert arm.command_gripper(1.0) == pytest.approx(MAX_WIDTH)
    assert arm.command_gripper(-0.5) == 0.0
    with pytest.raises(SafetyError):
        arm.command_gripper(math.nan)
    arm.command_gripper(MAX_WIDTH)
    for _ in range(30):
        arm.step()


@pytest.mark.parametrize("cube", ["small_red_cube", "blue_cube"])
def test_grasp_keeps_the_pads_parallel(cube):
    """Closing on a cube stops at its width with the linkage intact: the pads flat on its faces, not pinching an
    edge (a gear chain overpowered by the drive let the distal joints fold in and the cube tip over)."""
    with PyBulletArm(PyBulletConfig(robot="xarm6", seed=1)) as arm:
        obj = arm.object(cube)
        go(arm, obj.position + [0, 0, 0.08])
        go(arm, obj.position)
        arm.command_gripper(0.0)
        for _ in range(15):
            arm.step()
        edge = float(obj.half_extents[1] * 2)
        assert arm.is_grasped(cube)
        assert pad_gap(arm) == pytest.approx(edge, abs=0.003)
        assert arm.gripper_width() == pytest.approx(edge, abs=0.003)
        assert np.ptp(finger_positions(arm)) < 0.02
        go(arm, obj.position + [0, 0, 0.12], steps=40)
        held = arm.object(cube)
        assert held.bottom_z > 0.08 and arm.is_grasped(cube)
        tilt = np.degrees(np.abs(pb.getEulerFromQuaternion(held.orientation)[:2]))
        assert np.all(tilt < 5), tilt


def test_safety_limits_come_from_the_urdf(arm):
    rc = arm.robot_config
    lower, upper = urdf_limits(rc.urdf, rc.arm_joints)
    np.testing.assert_array_equal(arm.safety.config.joint_lower, lower)
    np.testing.assert_array_equal(arm.safety.config.joint_upper, upper)
    assert arm.safety.config.gripper_max_width == MAX_WIDTH


def test_random_commands_keep_the_urdf_limits_and_the_workspace():
    with PyBulletArm(PyBulletConfig(robot="xarm6", seed=2)) as arm:
        rng = np.random.default_rng(2)
        lower, upper = urdf_limits(arm.robot_config.urdf, arm.robot_config.arm_joints)
        ws_min, ws_max = (np.asarray(v) for v in (arm.safety.config.workspace_min, arm.safety.config.workspace_max))
        for i in range(120):
            if i % 10 == 0:
                q_goal, x_goal = rng.uniform(-10, 10, 6), rng.uniform(-2, 2, 3)
            arm.command_joints(q_goal) if i % 20 < 10 else arm.command_ee(x_goal)
            arm.step()
            q, tcp = arm.joint_state().positions, arm.ee_pose().position
            assert np.all(q >= lower - 0.01) and np.all(q <= upper + 0.01), (i, q)
            assert np.all(tcp >= ws_min - 0.01) and np.all(tcp <= ws_max + 0.01), (i, tcp)
        assert arm.safety.stats.clamped > 50


def test_tool_targets_are_reached_tool_down():
    """IK on link6 plus the tcp offset puts the tool centre point where asked, at every yaw the skills use."""
    with PyBulletArm(PyBulletConfig(robot="xarm6", seed=0)) as arm:
        for goal, yaw in [((0.5, 0.0, 0.25), 0.0), ((0.35, -0.25, 0.1), 0.0), ((0.6, 0.2, 0.15), np.pi / 2),
                          ((0.45, 0.1, 0.3), np.pi)]:
            go(arm, goal, yaw=yaw)
            pose = arm.ee_pose()
            assert np.linalg.norm(pose.position - goal) < 0.01, (goal, pose.position)
            assert abs(np.dot(pose.orientation, arm.tool_down(yaw))) > 0.999


def test_kinematics_client_matches_the_simulated_arm(arm):
    """The ROS backend's FK/IK (hardware/kinematics.py, robot-only client) gives what PyBulletArm computes."""
    kin = Kinematics(load_robot("xarm6"))
    try:
        for goal in [(0.45, 0.0, 0.3), (0.4, -0.2, 0.12), (0.6, 0.15, 0.2)]:
            go(arm, goal, steps=40)
            q = arm.joint_state().positions
            assert np.allclose(kin.tcp_position(q), arm.ee_pose().position, atol=1e-6)
            np.testing.assert_allclose(kin.tcp_pose(q).orientation, arm.ee_pose().orientation, atol=1e-6)
            step = arm.ee_pose().position + np.array([0.02, -0.01, -0.02])  # inside max_ee_step: no clamp
            expected = arm.command_ee(step)
            ik = kin.ik(step, arm.tool_down(), q)
            filtered = arm.safety.filter_joint_target(ik, q, kin.tcp_position)
            assert np.allclose(filtered, expected, atol=1e-4)
        np.testing.assert_array_equal(kin.lower, arm.safety.config.joint_lower)
        np.testing.assert_array_equal(kin.upper, arm.safety.config.joint_upper)
    finally:
        kin.close()
