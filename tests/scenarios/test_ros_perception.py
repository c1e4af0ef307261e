"""The simulated robot graph with perception:=true: the skill server and the scheduler see only what the camera
and the arm's joint states give (perceived_objects); success is read from the simulator's truth on `objects`."""
from __future__ import annotations

import time

import numpy as np
import pytest
from ros_helpers import graph_with_client, requires_ros, wait_for

pytestmark = [requires_ros, pytest.mark.slow, pytest.mark.serial]

STATUS_SUCCEEDED = 4  # action_msgs/GoalStatus


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    from rclpy.qos import qos_profile_sensor_data
    from ros_client import RobotClient
    from skill_stack_interfaces.msg import ObjectStates

    def ready(client):
        client.perceived = []
        client.spinner.node.create_subscription(ObjectStates, "/perceived_objects", client.perceived.append,
                                                qos_profile_sensor_data)
        client.wait_ready(60.0)
        wait_for(lambda: client.perceived, 60.0, "perceived objects")

    folder = tmp_path_factory.mktemp("ros_perception")
    yield from graph_with_client(["seed:=1", "perception:=true"], folder, RobotClient, ready)


@pytest.fixture(autouse=True)
def log_on_failure(graph):
    graph[1].wait_idle()
    yield
    print(f"the graph's log, last lines:\n{graph[0].output()[-3000:]}")


def test_perceived_states_name_every_cube_where_the_simulator_has_it(graph):
    _, client = graph
    perceived = {o.name: o for o in client.perceived[-1].objects}
    truth = {o.name: o for o in client.objects.objects}
    for name in (n for n in truth if n.endswith("cube")):
        a, b = truth[name].pose.position, perceived[name].pose.position
        assert np.linalg.norm([a.x - b.x, a.y - b.y, a.z - b.z]) < 0.01, name
        assert "table" in perceived[name].touching and not perceived[name].grasped


def test_a_stack_built_on_perceived_states_stands_in_the_simulator(graph):
    _, client = graph
    start = len(client.perceived)
    status, result, _ = client.run("stack the blue cube on the green cube", timeout=90)
    assert status == STATUS_SUCCEEDED and result.success, result.message
    # the cube was seen held while it was carried
    assert any(o.grasped for msg in client.perceived[start:] for o in msg.objects if o.name == "blue_cube")
    time.sleep(0.3)
    blue, green = client.object_msg("blue_cube"), client.object_msg("green_cube")  # the simulator's truth
    assert abs(blue.pose.position.x - green.pose.position.x) < green.half_extents.x
    assert abs(blue.pose.position.y - green.pose.position.y) < green.half_extents.y
    assert "green_cube" in blue.touching


def test_two_cubes_put_in_the_tray_on_perceived_states_are_in_it(graph):
    _, client = graph
    status, result, _ = client.run("put the red cube and the small blue cube in the tray", timeout=120)
    assert status == STATUS_SUCCEEDED and result.success, result.message
    wait_for(lambda: all("tray" in client.object_msg(n).touching for n in ("red_cube", "small_blue_cube")), 5.0,
             "both cubes in the tray (simulator truth)")
