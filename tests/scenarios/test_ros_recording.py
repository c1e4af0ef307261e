"""`skillstack record`: the sim graph's topics (in a namespace) into an MCAP file while a task runs over ROS, read
back with mcap's reader and the ros2 decoder; `skillstack runs` and `skillstack report` on it."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mcap_reading import read_all
from ros_helpers import REPO, graph_with_client, requires_ros, ros_env, wait_for

pytestmark = [requires_ros, pytest.mark.slow, pytest.mark.serial]

NS = "/robot1"
TASK = "pick up the red cube"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The graph under /robot1, the recorder started beside it (stopping after one task), one task with a
    correction sent while it runs; then the recording read back."""
    from ros_client import RobotClient
    from std_msgs.msg import String

    folder = tmp_path_factory.mktemp("ros_recording")
    out = folder / "runs"
    for launched, client in graph_with_client(["namespace:=robot1", "seed:=2"], folder,
                                              lambda spinner: RobotClient(spinner, "robot1"),
                                              lambda c: c.wait_ready(90.0)):
        log = (folder / "recorder.log").open("w")
        recorder = subprocess.Popen([sys.executable, "-m", "skill_stack_apps.cli", "record", "--namespace", "robot1",
                                     "--out", str(out), "--tasks", "1"], cwd=REPO, env=ros_env(launched.domain),
                                    stdout=log, stderr=subprocess.STDOUT)
        try:
            # the recorder is matched with the scheduler's events and the arm's streams (it says so in its log:
            # another node's view of the graph does not tell whether the skill server's publisher matched it)
            streams = ("events", "joint_trajectory", "joint_states", "objects")
            wait_for(lambda: all(f"receiving {NS}/{topic} " in (folder / "recorder.log").read_text()
                                 for topic in streams) and
                     client.corrections.get_subscription_count() >= 2,  # matched: the scheduler and the recorder
                     60.0, "the recorder's subscriptions")
            time.sleep(1.0)
            run = client.send(TASK)
            assert run.accepted
            wait_for(lambda: any(f.skill_name == "pick" for f in run.feedback), 30.0, "the pick to start")
            client.corrections.publish(String(data="slower"))
            status, result = client.result(run, 90.0)
            assert result.success, result.message
            assert recorder.wait(timeout=30) == 0, "the recorder stops by itself after one task"
        finally:
            if recorder.poll() is None:
                recorder.kill()
                recorder.wait(timeout=10)
            log.close()
            print(f"recorder log:\n{(folder / 'recorder.log').read_text()[-3000:]}")
    output = (folder / "recorder.log").read_text()
    path = Path(output.split("recording: ")[-1].split(" (")[0].strip())
    types, all_messages, meta = read_all(path)
    messages = {topic: [(log_time, decoded) for log_time, _, decoded in items] for topic, items in all_messages.items()}
    return {"out": out, "path": path, "types": types, "messages": messages, "meta": meta}


def test_the_graphs_topics_are_recorded_in_its_namespace_with_their_types(recorded):
    types = recorded["types"]
    for topic, kind in {"joint_states": "sensor_msgs/msg/JointState",
                        "joint_trajectory": "trajectory_msgs/msg/JointTrajectory",
                        "camera/image_raw": "sensor_msgs/msg/Image", "camera/depth/image_raw": "sensor_msgs/msg/Image",
                        "camera/camera_info": "sensor_msgs/msg/CameraInfo",
                        "objects": "skill_stack_interfaces/msg/ObjectStates",
                        "status": "skill_stack_interfaces/msg/TaskStatus", "events": "std_msgs/msg/String",
                        "corrections": "std_msgs/msg/String"}.items():
        assert types.get(f"{NS}/{topic}") == kind, (topic, sorted(types))
    assert types["/rosout"] == "rcl_interfaces/msg/Log"
    assert recorded["meta"]["recording"]["source"] == "ros" and recorded["meta"]["recording"]["namespace"] == NS


def test_joint_states_arrive_at_the_control_rate_in_order(recorded):
    items = recorded["messages"][f"{NS}/joint_states"]
    times = np.array([t for t, _ in items])
    assert np.all(np.diff(times) >= 0)
    seconds = (times[-1] - times[0]) / 1e9
    assert seconds > 3.0 and len(times) / seconds == pytest.approx(20.0, rel=0.3)  # control_hz 20
    assert items[0][1].name[0] == "panda_joint1"


def test_tf_carries_the_arms_links_stamped_as_each_joint_state_and_placed_by_its_kinematics(recorded):
    """The recorder computes /tf from the joint states it receives (the graph has no robot_state_publisher):
    one message per joint state with its stamp, frames under base_link, the tool where the arm's FK puts it."""
    from hardware.kinematics import Kinematics
    from hardware.robots import load_robot
    types = recorded["types"]
    assert types[f"{NS}/tf"] == types[f"{NS}/tf_static"] == "tf2_msgs/msg/TFMessage"
    assert types[f"{NS}/markers"] == "visualization_msgs/msg/MarkerArray"
    states = recorded["messages"][f"{NS}/joint_states"]
    arm = [m for _, m in recorded["messages"][f"{NS}/tf"] if m.transforms[0].child_frame_id == "panda_link1"]
    assert len(arm) == len(states)
    for (_, state), tf in zip(states, arm):
        assert {(t.header.stamp.sec, t.header.stamp.nanosec) for t in tf.transforms} == \
            {(state.header.stamp.sec, state.header.stamp.nanosec)}
    tree = {}
    for msg in [recorded["messages"][f"{NS}/tf_static"][-1][1], arm[-1]]:
        tree.update({t.child_frame_id: (t.header.frame_id, t.transform) for t in msg.transforms})
    pose, frame = np.eye(4), "panda_grasptarget"
    while frame != "base_link":
        frame, transform = tree[frame]
        q, p = transform.rotation, transform.translation
        x, y, z, w = q.x, q.y, q.z, q.w
        step = np.eye(4)
        step[:3, :3] = [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]]
        step[:3, 3] = [p.x, p.y, p.z]
        pose = step @ pose
    kinematics = Kinematics(load_robot("panda"))
    try:
        tool = kinematics.tcp_position(states[-1][1].position[:7])
    finally:
        kinematics.close()
    assert pose[:3, 3] == pytest.approx(tool, abs=1e-5)
    objects = recorded["messages"][f"{NS}/objects"][-1][1].objects
    boxes = [m for m in recorded["messages"][f"{NS}/markers"][-1][1].markers if m.ns == "objects"]
    assert len(boxes) == len(objects) > 3


def test_commands_decode_and_come_about_once_per_control_period(recorded):
    events = [json.loads(m.data) for _, m in recorded["messages"][f"{NS}/events"]]
    steps = sum(e["steps"] for e in events if e["event"] == "skill_end")
    commands = [m for _, m in recorded["messages"][f"{NS}/joint_trajectory"] if m.points]
    assert steps > 20 and len(commands) == pytest.approx(steps, rel=0.3)
    assert len(commands[0].points[0].positions) == len(commands[0].joint_names)


def test_events_hold_the_task_and_its_skill_start_and_end(recorded):
    events = [json.loads(m.data) for _, m in recorded["messages"][f"{NS}/events"]]
    kinds = [e["event"] for e in events]
    assert kinds.count("task_start") == 1 and events[kinds.index("task_start")]["task"] == TASK
    assert kinds[-1] == "task_end"  # (stored corrections retrieved for the plan come before the start)
    assert events[-1]["success"] is True
    starts = [e for e in events if e["event"] == "skill_start"]
    ends = [e for e in events if e["event"] == "skill_end"]
    # a pick may take a second attempt on a loaded machine: every attempt has its start and its end
    assert {e["skill"] for e in starts} == {"pick"} and len(starts) == len(ends), kinds
    assert ends[-1]["outcome"] == "succeeded", ends
    live = [e for e in events if e["event"] == "correction_live"]
    assert [e["text"] for e in live] == ["slower"] and "speed" in live[0]["updates"], live
    assert [m.data for _, m in recorded["messages"][f"{NS}/corrections"]] == ["slower"]


def test_an_image_decodes_to_the_cameras_shape(recorded):
    _, msg = recorded["messages"][f"{NS}/camera/image_raw"][-1]
    rgb = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, 3)
    assert rgb.shape == (240, 320, 3) and rgb.std() > 10


def test_runs_and_report_work_on_a_ros_recording(recorded, capsys, tmp_path):
    from skill_stack_apps.cli import main
    assert main(["runs", "--out", str(recorded["out"]), "--json"]) == 0
    [entry] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert entry["source"] == "ros" and entry["task"] == TASK and entry["success"] is True
    png = tmp_path / "t.png"
    assert main(["report", str(recorded["path"]), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "1. pick" in out and "succeeded" in out and png.stat().st_size > 10_000
    from skill_stack_apps.recording.timeline import read_timeline
    timeline = read_timeline(recorded["path"])
    assert np.median(timeline.command_intervals) == pytest.approx(0.05, abs=0.01)  # real time, 20 Hz
