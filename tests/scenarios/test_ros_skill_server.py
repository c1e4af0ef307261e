"""The skill server's ExecuteSkill action on the simulated robot graph (launch/sim.launch.yaml), driven from
this process over real rclpy: skills run in the skill server's control loop, judged from the simulator's
object states; a second goal is rejected, cancel holds the arm, bad goals fail cleanly, and a parameter update
changes the running skill. Tests run in file order on one graph."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from ros_helpers import Spinner, graph_with_client, requires_ros, wait_for

pytestmark = [requires_ros, pytest.mark.slow, pytest.mark.serial]

STATUS_SUCCEEDED, STATUS_CANCELED, STATUS_ABORTED = 4, 5, 6  # action_msgs/GoalStatus


class SkillClient:
    """ExecuteSkill goals, the simulator's object states and the arm's joint states, seen from outside."""

    def __init__(self, spinner: Spinner) -> None:
        from hardware.ros.common import ActionClient
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import JointState
        from skill_stack_interfaces.action import ExecuteSkill
        from skill_stack_interfaces.msg import ObjectStates
        from std_msgs.msg import String

        self.spinner, self.action = spinner, ExecuteSkill
        node = spinner.node
        self.client = ActionClient(node, ExecuteSkill, "execute_skill")
        self.updates = node.create_publisher(String, "skill_server/parameter_updates", 10)
        self.objects: dict[str, np.ndarray] = {}
        self.joints: np.ndarray | None = None
        self._lock = threading.Lock()
        node.create_subscription(ObjectStates, "objects", self._on_objects, qos_profile_sensor_data)
        node.create_subscription(JointState, "joint_states", self._on_joints, qos_profile_sensor_data)

    def _on_objects(self, msg) -> None:
        with self._lock:
            self.objects = {o.name: np.array([o.pose.position.x, o.pose.position.y, o.pose.position.z])
                            for o in msg.objects}

    def _on_joints(self, msg) -> None:
        with self._lock:
            self.joints = np.array(msg.position[:7])

    def position(self, name: str) -> np.ndarray:
        with self._lock:
            return self.objects[name].copy()

    def send(self, skill: str, params: dict | str, scripted: bool = False, feedback=None):
        goal = self.action.Goal(skill=skill, params_json=params if isinstance(params, str) else json.dumps(params),
                                scripted=scripted)
        return self.spinner.result(self.client.send_goal_async(goal, feedback_callback=feedback), 30, "goal response")

    def run(self, skill: str, params: dict | str, scripted: bool = False, timeout: float = 60.0):
        feedback: list = []
        handle = self.send(skill, params, scripted, lambda f: feedback.append(f.feedback))
        assert handle.accepted, f"{skill} goal rejected"
        response = self.spinner.result(handle.get_result_async(), timeout, f"{skill} result")
        return response.status, response.result, feedback


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    def ready(client: SkillClient) -> None:
        wait_for(lambda: client.client.wait_for_server(timeout_sec=0.5), 90, "the execute_skill server")
        wait_for(lambda: "red_cube" in client.objects and client.joints is not None, 60, "object states")

    yield from graph_with_client(["seed:=2"], tmp_path_factory.mktemp("skill_server"), SkillClient, ready)


@pytest.fixture(autouse=True)
def show_log(graph):
    yield
    print(f"the graph's log, last lines:\n{graph[0].output()[-3000:]}")  # pytest shows it if the test failed


def test_pick_and_place_run_in_the_skill_server_and_the_simulator_agrees(graph):
    _, client = graph
    start = client.position("red_cube")
    status, result, feedback = client.run("pick", {"object": "red_cube"})
    assert status == STATUS_SUCCEEDED and result.success and result.outcome == "succeeded", result.message
    assert feedback and feedback[0].step == 0 and feedback[0].policy == result.policy
    assert json.loads(feedback[-1].params_json)["object"] == "red_cube"
    time.sleep(0.3)  # a fresh ObjectStates message
    assert client.position("red_cube")[2] > start[2] + 0.04  # lifted, as the simulator reports it
    status, result, _ = client.run("place", {"object": "red_cube", "target": "tray"})
    assert status == STATUS_SUCCEEDED and result.success, result.message
    time.sleep(0.3)
    cube, tray = client.position("red_cube"), client.position("tray")
    assert np.all(np.abs(cube[:2] - tray[:2]) < 0.1) and cube[2] < 0.06  # in the tray, on its floor


def test_the_skill_server_process_has_no_language_model_index_or_database(graph):
    launched, _ = graph
    pid = launched.pid_of("skill_server")
    maps = Path(f"/proc/{pid}/maps").read_text()
    # the compiled parts of FAISS, the tokenizers of sentence-transformers, and SQLite
    loaded = [lib for lib in ("faiss", "tokenizers", "_sqlite3") if lib in maps]
    assert not loaded, loaded
    rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
               if line.startswith("VmRSS:"))
    print(f"skill server resident memory: {rss / 1024:.0f} MB")


def test_bad_goals_fail_cleanly_and_the_server_keeps_serving(graph):
    _, client = graph
    for skill, params, expected in [("juggle", {}, "unknown skill"), ("pick", "[1, 2]", "JSON object"),
                                    ("pick", "{not json", "JSON object"), ("pick", {"object": "red_cube", "x": 1},
                                                                           "no parameter"),
                                    ("pick", {"object": "moon"}, "precondition")]:
        status, result, _ = client.run(skill, params)
        assert status == STATUS_ABORTED and not result.success, (skill, params)
        assert expected in result.message, result.message
        assert result.outcome in ("bad_parameters", "precondition_failed"), result.outcome


def test_a_second_goal_is_rejected_and_cancel_holds_the_arm(graph):
    _, client = graph
    first = client.send("move_to", {"target": "yellow_cube", "height": 0.3}, scripted=True)
    assert first.accepted
    wait_for(lambda: client.joints is not None, 5, "joint states")
    time.sleep(0.4)  # moving
    second = client.send("pick", {"object": "blue_cube"})
    assert not second.accepted
    cancel_sent = time.monotonic()
    client.spinner.result(first.cancel_goal_async(), 10, "cancel response")
    response = client.spinner.result(first.get_result_async(), 10, "cancelled result")
    stopped_after = time.monotonic() - cancel_sent
    assert response.status == STATUS_CANCELED and response.result.outcome == "stopped"
    assert stopped_after < 1.0, stopped_after
    time.sleep(0.2)  # the hold command reaches the arm
    held = client.joints.copy()
    time.sleep(0.6)
    assert np.abs(client.joints - held).max() < 0.01  # rad: the arm holds where it was stopped
    status, result, _ = client.run("move_to", {"target": "yellow_cube", "height": 0.15})  # serving again
    assert status == STATUS_SUCCEEDED and result.success, result.message


def test_a_parameter_update_changes_the_running_skill(graph):
    _, client = graph
    status, result, _ = client.run("pick", {"object": "blue_cube"})
    assert status == STATUS_SUCCEEDED, result.message
    feedback: list = []
    handle = client.send("place", {"object": "blue_cube", "target": "green_cube"}, scripted=True,
                         feedback=lambda f: feedback.append(f.feedback))
    assert handle.accepted
    wait_for(lambda: feedback, 10, "the first feedback")
    from std_msgs.msg import String
    client.updates.publish(String(data=json.dumps({"offset_y": 0.015})))
    response = client.spinner.result(handle.get_result_async(), 60, "place result")
    assert response.status == STATUS_SUCCEEDED and response.result.success, response.result.message
    assert json.loads(response.result.params_json)["offset_y"] == 0.015
    assert any(json.loads(f.params_json).get("offset_y") == 0.015 for f in feedback)
    time.sleep(0.3)
    offset = client.position("blue_cube")[1] - client.position("green_cube")[1]
    assert abs(offset - 0.015) < 0.008, offset  # placed 1.5 cm to the left of the green cube's centre
