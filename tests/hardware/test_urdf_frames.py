"""UrdfFrames (robot_state_publisher's computation, in numpy) against PyBullet's own forward kinematics of the
same URDF: every link frame of both arms at random joint positions, fingers and the xArm's mimic linkage too."""
from __future__ import annotations

import numpy as np
import pybullet as pb
import pybullet_data
import pytest

from hardware.robots import load_robot
from hardware.urdf_frames import UrdfFrames, matrix_from_quaternion, quaternion_from_matrix, rotation_from_rpy


@pytest.fixture(params=["panda", "xarm6"])
def robot_in_pybullet(request):
    robot = load_robot(request.param)
    client = pb.connect(pb.DIRECT)
    pb.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=client)
    body = pb.loadURDF(robot.urdf, [0, 0, 0], useFixedBase=True, physicsClientId=client)
    yield robot, client, body
    pb.disconnect(client)


def _joints(client: int, body: int) -> list[tuple]:
    count = pb.getNumJoints(body, physicsClientId=client)
    return [pb.getJointInfo(body, j, physicsClientId=client) for j in range(count)]


def test_every_link_frame_matches_pybullet_at_random_joint_positions(robot_in_pybullet):
    robot, client, body = robot_in_pybullet
    frames = UrdfFrames.for_robot(robot)
    info = _joints(client, body)
    rng = np.random.default_rng(7)
    for _ in range(5):
        positions = {}
        for joint in info:
            if joint[2] == pb.JOINT_FIXED:
                continue
            low, high = (joint[8], joint[9]) if joint[9] > joint[8] else (-np.pi, np.pi)
            positions[joint[1].decode()] = q = float(rng.uniform(low, high))
            pb.resetJointState(body, joint[0], q, physicsClientId=client)
        poses = frames.link_poses(positions)
        for joint in info:
            link = joint[12].decode()
            state = pb.getLinkState(body, joint[0], computeForwardKinematics=True, physicsClientId=client)
            assert poses[link][:3, 3] == pytest.approx(np.array(state[4]), abs=1e-6), link
            assert poses[link][:3, :3] == pytest.approx(matrix_from_quaternion(np.array(state[5])), abs=1e-6), link


def test_mimic_joints_follow_their_drive_and_joints_without_a_position_are_left_out(robot_in_pybullet):
    robot, _, _ = robot_in_pybullet
    frames = UrdfFrames.for_robot(robot)
    arm_only = {name: 0.1 for name in robot.arm_joints}
    moving_children = {child for _, child, _ in frames.moving(arm_only)}
    fixed_children = {child for _, child, _ in frames.fixed()}
    finger_children = {j.child for j in frames.joints if j.name in robot.finger_joints}
    assert not moving_children & finger_children, "no finger frame without a finger position"
    assert len(moving_children) == len(robot.arm_joints)
    assert len(frames.links) == len(fixed_children | moving_children | finger_children) + 1  # + the root link
    if robot.name == "xarm6":  # the drive alone places the whole linkage
        with_drive = {child for _, child, _ in frames.moving({**arm_only, "drive_joint": 0.4})}
        assert finger_children <= with_drive


def test_quaternions_round_trip_through_matrices():
    rng = np.random.default_rng(3)
    for _ in range(50):
        rotation = rotation_from_rpy(*rng.uniform(-np.pi, np.pi, 3))
        q = quaternion_from_matrix(rotation)
        assert q[3] >= 0 and np.linalg.norm(q) == pytest.approx(1.0)
        assert matrix_from_quaternion(q) == pytest.approx(rotation, abs=1e-9)
