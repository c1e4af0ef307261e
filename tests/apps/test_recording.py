"""MCAP recordings of in-process runs (`skillstack run --record`), `skillstack runs` and `skillstack report`, read
back with mcap's reader and mcap_ros2's decoder as Foxglove would: topics, types, counts, clocks, images,
events, corrections."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mcap_reading import read_all

from planners.episode_log import read_log

REPO = Path(__file__).resolve().parents[2]
TASK = "pick up the red cube"
CONTROL_DT_NS = 50_000_000  # 20 Hz


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One recorded run of a one-skill task, with a correction typed while it runs ("slower")."""
    out = tmp_path_factory.mktemp("runs")
    done = subprocess.run([sys.executable, "-m", "skill_stack_apps.cli", "run", TASK, "--no-video", "--record",
                           "--out", str(out), "--no-corrections", "--interactive", "--json"],
                          input="slower\n", capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    path = Path(summary["recording"])
    types, messages, meta = read_all(path)
    return {"out": out, "path": path, "summary": summary, "types": types, "messages": messages, "meta": meta,
            "log": read_log(path.parent / "episode.jsonl")}


def test_the_recording_sits_in_the_run_directory_with_the_ros_topics_and_types(run):
    assert run["path"] == Path(run["summary"]["log"]).parent / "run.mcap"
    assert run["types"] == {
        "/joint_states": "sensor_msgs/msg/JointState", "/joint_trajectory": "trajectory_msgs/msg/JointTrajectory",
        "/camera/image_raw": "sensor_msgs/msg/Image", "/camera/depth/image_raw": "sensor_msgs/msg/Image",
        "/camera/camera_info": "sensor_msgs/msg/CameraInfo", "/objects": "skill_stack_interfaces/msg/ObjectStates",
        "/status": "skill_stack_interfaces/msg/TaskStatus", "/events": "std_msgs/msg/String",
        "/rosout": "rcl_interfaces/msg/Log", "/corrections": "std_msgs/msg/String",
        "/tf": "tf2_msgs/msg/TFMessage", "/tf_static": "tf2_msgs/msg/TFMessage",
        "/markers": "visualization_msgs/msg/MarkerArray"}


def test_joint_states_come_once_per_control_step_on_the_simulated_clock(run):
    stamps = np.array([t for t, _, _ in run["messages"]["/joint_states"]])
    assert len(stamps) > 40
    assert np.all(np.diff(stamps) == CONTROL_DT_NS), "one joint state per 50 ms control step, none missing"
    first = run["messages"]["/joint_states"][0][2]
    assert first.name[:7] == [f"panda_joint{i}" for i in range(1, 8)] and len(first.name) == len(first.position)
    # the run took ~0.5 s of wall time per few seconds of simulated time: the file holds the simulated seconds
    skill_seconds = sum(s["sim_seconds"] for s in run["summary"]["skills"])
    assert (stamps[-1] - stamps[0]) / 1e9 >= skill_seconds


def test_one_command_per_policy_step(run):
    steps = sum(r["steps"] for r in run["log"] if r["event"] == "skill_end")
    commands = run["messages"]["/joint_trajectory"]
    assert len(commands) == steps
    msg = commands[0][2]
    assert len(msg.points) == 1 and len(msg.points[0].positions) == len(msg.joint_names) == 9


def test_timestamps_are_monotonic_and_stamped_with_the_log_time(run):
    started = int(run["meta"]["recording"]["started_ns"])
    ended = int(run["meta"]["result"]["ended_ns"])
    for topic, items in run["messages"].items():
        times = [t for t, _, _ in items]
        assert times == sorted(times), topic
        assert started <= times[0] and times[-1] <= ended, topic
        for log_time, publish_time, msg in items:
            assert publish_time == log_time
            stamp = msg.header.stamp if hasattr(msg, "header") else getattr(msg, "stamp", None)
            if stamp is not None:
                assert stamp.sec * 1_000_000_000 + stamp.nanosec == log_time, topic


def test_camera_frames_decode_to_images_with_depth_and_intrinsics(run):
    images = run["messages"]["/camera/image_raw"]
    assert 5 <= len(images) <= len(run["messages"]["/joint_states"]) // 3, "a modest rate, not every step"
    msg = images[len(images) // 2][2]
    assert (msg.encoding, msg.height, msg.width, msg.step) == ("rgb8", 240, 320, 960)
    rgb = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, 3)
    assert rgb.std() > 10, "a rendered scene, not a blank frame"
    depth_msg = run["messages"]["/camera/depth/image_raw"][len(images) // 2][2]
    depth = np.frombuffer(bytes(depth_msg.data), "<f4").reshape(240, 320)
    assert depth_msg.encoding == "32FC1" and 0.3 < np.nanmedian(depth) < 3.0
    info = run["messages"]["/camera/camera_info"][0][2]
    assert (info.width, info.height) == (320, 240) and info.k[8] == 1.0 and info.k[0] > 100


def test_object_states_show_the_cube_lifted_and_held(run):
    first, last = run["messages"]["/objects"][0][2], run["messages"]["/objects"][-1][2]
    names = {o.name for o in first.objects}
    assert {"red_cube", "green_cube", "tray"} <= names
    red_first = next(o for o in first.objects if o.name == "red_cube")
    red_last = next(o for o in last.objects if o.name == "red_cube")
    assert "table" in red_first.touching and not red_first.grasped
    assert red_last.grasped and "gripper" in red_last.touching
    assert red_last.pose.position.z - red_first.pose.position.z > 0.05


def test_events_are_the_episode_log_record_for_record_on_the_run_clock(run):
    events = [json.loads(m.data) for _, _, m in run["messages"]["/events"]]
    assert events == json.loads(json.dumps(run["log"])), "every record of the episode log, in order"
    kinds = [e["event"] for e in events]
    assert kinds.count("skill_start") == kinds.count("skill_end") == len(run["summary"]["skills"]) == 1
    assert kinds[0] == "run" and kinds[-1] == "task_end"
    times = [t for t, _, _ in run["messages"]["/events"]]
    start = times[kinds.index("skill_start")]
    end = times[kinds.index("skill_end")]
    steps = events[kinds.index("skill_end")]["steps"]
    # the skill's steps plus the runner's settle steps, on the simulated clock
    assert steps * CONTROL_DT_NS <= end - start <= (steps + 20) * CONTROL_DT_NS
    lines = [m for _, _, m in run["messages"]["/rosout"]]
    assert len(lines) == len(events) and lines[0].msg.startswith("run: ")


def test_the_correction_typed_during_the_run_is_recorded_with_its_record(run):
    corrections = [m.data for _, _, m in run["messages"]["/corrections"]]
    assert corrections == ["slower"]
    live = [json.loads(m.data) for _, _, m in run["messages"]["/events"]
            if json.loads(m.data)["event"] == "correction_live"]
    assert len(live) == 1 and live[0]["text"] == "slower" and "speed" in live[0]["updates"]
    assert live[0]["applied"], "the distilled record that was applied"


def test_status_follows_the_task_as_the_scheduler_node_publishes_it(run):
    statuses = [m for _, _, m in run["messages"]["/status"]]
    assert statuses[0].state == "running" and statuses[0].task == TASK
    assert statuses[-1].state == "succeeded"
    assert {s.skill_name for s in statuses} >= {"pick"}
    progress = [s.progress for s in statuses if s.skill_name == "pick"]
    assert progress[0] == 0.0 and max(progress) == 1.0 and len(progress) > 10


def test_metadata_says_what_ran_and_how_it_ended(run):
    assert run["meta"]["recording"]["task"] == TASK and run["meta"]["recording"]["source"] == "cli"
    assert run["meta"]["result"]["success"] == "true" and run["meta"]["result"]["skills"] == "1"


def test_runs_lists_the_recording(run, capsys):
    from skill_stack_apps.cli import main
    assert main(["runs", "--out", str(run["out"]), "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(listed) == 1
    entry = listed[0]
    assert entry["recording"] == str(run["path"]) and entry["task"] == TASK and entry["success"] is True
    assert entry["size"] == run["path"].stat().st_size and entry["duration"] > 2.0 and entry["source"] == "cli"
    assert main(["runs", "--out", str(run["out"])]) == 0
    table = capsys.readouterr().out
    assert TASK in table and "success" in table


def test_report_writes_a_png_timeline_with_the_skills(run, capsys, tmp_path):
    from skill_stack_apps.cli import main
    png = tmp_path / "timeline.png"
    assert main(["report", str(run["path"].parent), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == str(png)
    assert "1. pick" in out and "succeeded" in out and "correction_live: slower" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    import matplotlib.image
    assert matplotlib.image.imread(png).shape[1] > 800


def test_report_reads_the_skills_corrections_and_command_intervals(run):
    from skill_stack_apps.recording.timeline import read_timeline
    timeline = read_timeline(run["path"])
    assert [(s.skill, s.outcome) for s in timeline.skills] == [("pick", "succeeded")]
    assert timeline.skills[0].end > timeline.skills[0].start
    assert [(kind, text) for _, kind, text in timeline.corrections] == [("correction_live", "slower")]
    assert timeline.success is True and timeline.task == TASK
    assert np.median(timeline.command_intervals) == pytest.approx(0.05)


def test_report_of_an_unknown_run_is_a_usage_error(tmp_path, capsys):
    from skill_stack_apps.cli import main
    assert main(["report", "nope", "--out", str(tmp_path)]) == 2
    assert "skillstack runs" in capsys.readouterr().err
