"""The second arm over ROS 2: the simulated graph with `robot:=xarm6` runs tasks in words from an outside
client, judged from the simulator's object states (the xArm's gripper is a linkage: its joint states are
angles, which the nodes map to an opening width through the robot description)."""
from __future__ import annotations

import time

import numpy as np
import pytest
from ros_helpers import graph_with_client, requires_ros

pytestmark = [requires_ros, pytest.mark.slow, pytest.mark.serial]

STATUS_SUCCEEDED = 4  # action_msgs/GoalStatus


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    from ros_client import RobotClient

    yield from graph_with_client(["robot:=xarm6", "seed:=3"], tmp_path_factory.mktemp("xarm6"), RobotClient,
                                 lambda client: client.wait_ready(90.0))


def test_the_xarm_reports_its_own_joints(graph):
    _, client = graph
    assert client.joints.name[:6] == [f"joint{i}" for i in range(1, 7)] and "drive_joint" in client.joints.name


@pytest.mark.parametrize("task, obj, target", [("put the red cube in the tray", "red_cube", "tray"),
                                               ("stack the blue cube on the green cube", "blue_cube", "green_cube")])
def test_tasks_succeed_on_the_xarm_and_the_simulator_agrees(graph, task, obj, target):
    launched, client = graph
    status, result, _ = client.run(task, timeout=120)
    assert status == STATUS_SUCCEEDED and result.success, f"{result.message}\n{launched.output()[-2000:]}"
    time.sleep(0.3)
    placed, under = client.object_msg(obj), client.object_msg(target)
    offset = np.array([placed.pose.position.x - under.pose.position.x, placed.pose.position.y - under.pose.position.y])
    assert np.all(np.abs(offset) < [under.half_extents.x, under.half_extents.y])
    assert "gripper" not in placed.touching
