"""The recorder's parts: message definitions without ROS, the Recorder file, the run listing, the timeline, and a
recorded run that moves exactly as an unrecorded one."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory

from skill_stack_apps.recording import msgdefs
from skill_stack_apps.recording.runs import find_recording, list_runs, summarize
from skill_stack_apps.recording.timeline import _assemble
from skill_stack_apps.recording.writer import Recorder

SHIPPED = sorted((Path(msgdefs.__file__).parent / "msg").glob("*/*.msg"))


#: shipped definitions of packages with no PyPI wheel to compare with: tf2_msgs (geometry2) is one line
WITHOUT_WHEEL = {"tf2_msgs/TFMessage.msg": "geometry_msgs/TransformStamped[] transforms\n"}


def test_the_shipped_definitions_are_ros_2s_own():
    installed = Path(sys.prefix) / "share"
    compared = 0
    for path in SHIPPED:
        name = f"{path.parent.name}/{path.name}"
        if name in WITHOUT_WHEEL:
            assert path.read_text() == WITHOUT_WHEEL[name]
            continue
        upstream = installed / path.parent.name / "msg" / path.name
        if upstream.is_file():  # the ROS 2 wheels (make test) install them; a core-only venv has none
            assert path.read_text() == upstream.read_text(), path
            compared += 1
    if compared == 0:
        pytest.skip("no ROS 2 message packages installed to compare with")
    assert compared == len(SHIPPED) - len(WITHOUT_WHEEL)


def test_a_schema_carries_every_type_it_uses_once():
    text = msgdefs.schema_text("skill_stack_interfaces/msg/ObjectStates")
    used = [line[5:] for line in text.splitlines() if line.startswith("MSG: ")]
    assert sorted(used) == sorted({"std_msgs/Header", "builtin_interfaces/Time", "skill_stack_interfaces/ObjectState",
                                   "geometry_msgs/Pose", "geometry_msgs/Point", "geometry_msgs/Quaternion",
                                   "geometry_msgs/Vector3"})
    assert text.startswith("# All tracked objects")  # the project's own definition, from interfaces/msg
    with pytest.raises(FileNotFoundError, match="no message definition"):
        msgdefs.schema_text("sensor_msgs/msg/NoSuchThing")


def test_a_recorder_file_reads_back_with_the_ros2_decoder(tmp_path):
    path = tmp_path / "r" / "run.mcap"
    with Recorder(path, origin_ns=1_000_000_000_000, namespace="robot1", metadata={"task": "t"}) as rec:
        rec.joint_state(0.5, ["a", "b"], [0.1, 0.2], [0.0, 0.0])
        rec.command(0.5, ["a", "b"], [0.3, 0.4], seconds=0.1)
        rec.command(0.55, [], [])  # a hold: no points
        rec.event(0.6, {"event": "skill_start", "skill": "pick", "params": {"p": np.float64(1.5)}})
        rec.camera(0.7, np.full((4, 6, 3), 7, np.uint8))
    with path.open("rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        got = [(c.topic, m.log_time, d) for _, c, m, d in reader.iter_decoded_messages()]
    topics = [t for t, _, _ in got]
    assert topics == ["/robot1/joint_states", "/robot1/joint_trajectory", "/robot1/joint_trajectory",
                      "/robot1/events", "/rosout", "/robot1/camera/image_raw"]
    assert got[0][1] == 1_000_500_000_000 and list(got[0][2].position) == [0.1, 0.2]
    assert got[1][2].points[0].time_from_start.nanosec == 100_000_000 and got[2][2].points == []
    assert json.loads(got[3][2].data)["params"] == {"p": 1.5}
    assert got[4][2].msg.startswith("skill_start: ")
    image = got[5][2]
    assert (image.height, image.width, image.encoding, bytes(image.data)[:2]) == (4, 6, "rgb8", b"\x07\x07")
    summary = summarize(path)
    assert summary.task == "t" and summary.success is None and summary.messages == 6 and not summary.problem
    assert summary.duration == pytest.approx(0.2)


def test_a_recording_never_finished_is_listed_with_its_problem(tmp_path):
    rec = Recorder(tmp_path / "a" / "run.mcap")
    for i in range(50):
        rec.joint_state(i * 0.05, ["a"], [float(i)])
    rec._file.flush()  # the process dies here: no summary, no result
    summary = summarize(rec.path)
    assert summary.problem and summary.success is None and summary.size > 0


def test_runs_are_listed_newest_first_and_latest_is_found(tmp_path):
    for name, origin, ok in (("old", 1_000_000_000_000_000_000, "false"), ("new", 1_100_000_000_000_000_000, "true")):
        rec = Recorder(tmp_path / name / "run.mcap", origin_ns=origin, metadata={"task": name})
        rec.joint_state(0.0, ["a"], [0.0])
        rec.close({"success": ok})
    runs = list_runs(tmp_path)
    assert [(r.task, r.success) for r in runs] == [("new", True), ("old", False)]
    assert find_recording("latest", tmp_path) == tmp_path / "new" / "run.mcap"
    assert find_recording("old", tmp_path) == tmp_path / "old" / "run.mcap"
    assert find_recording(tmp_path / "old", tmp_path) == tmp_path / "old" / "run.mcap"
    with pytest.raises(FileNotFoundError):
        find_recording("latest", tmp_path / "empty")


def test_the_timeline_pairs_each_attempt_with_its_end_and_keeps_retries_and_replans():
    events = [
        (0.0, {"event": "task_start", "task": "put it there"}),
        (0.1, {"event": "skill_start", "index": 0, "skill": "pick", "attempt": 0, "policy": "learned"}),
        (2.0, {"event": "skill_end", "index": 0, "outcome": "postcondition_failed"}),
        (2.1, {"event": "skill_start", "index": 0, "skill": "pick", "attempt": 1, "policy": "scripted"}),
        (2.5, {"event": "correction_live", "text": "lower"}),
        (4.0, {"event": "skill_end", "index": 0, "outcome": "succeeded"}),
        (4.1, {"event": "replan", "reason": "moved"}),
        (4.2, {"event": "skill_start", "index": 1, "skill": "place", "attempt": 0, "policy": "scripted"}),
    ]
    timeline = _assemble(events, np.array([0.1, 0.15, 0.2]), 5.0, {})
    assert [(s.skill, s.attempt, s.outcome, s.end) for s in timeline.skills] == [
        ("pick", 0, "postcondition_failed", 2.0), ("pick", 1, "succeeded", 4.0), ("place", 0, "running", None)]
    assert timeline.corrections == [(2.5, "correction_live", "lower")] and timeline.replans == [(4.1, "moved")]
    assert timeline.task == "put it there" and timeline.success is None
    assert np.allclose(timeline.command_intervals, [0.05, 0.05])


def test_recording_a_run_does_not_change_how_it_moves(tmp_path):
    from hardware.pybullet import PyBulletArm, PyBulletConfig
    from planners.scheduler import Scheduler
    from skill_stack_apps.recording.session import RunRecording

    scheduler = Scheduler(learned=False)
    finals = []
    for record in (False, True):
        with PyBulletArm(PyBulletConfig(seed=1)) as arm:
            plan = scheduler.plan("push the blue cube 5 cm to the left", arm)
            if record:
                recording = RunRecording(tmp_path / "run.mcap", arm, arm)
                report = scheduler.execute(plan, recording.arm, arm, observer=recording.observer(count=1))
                recording.close(report)
                assert recording.arm.steps > 20
            else:
                report = scheduler.execute(plan, arm, arm)
            assert report.success, report.message
            finals.append({n: o.position.copy() for n, o in arm.objects().items()} | {"q": arm.joint_state().positions})
    for key in finals[0]:
        assert np.array_equal(finals[0][key], finals[1][key]), key
    assert summarize(tmp_path / "run.mcap").success is True


def test_the_record_switch_is_the_flag_else_the_environment(monkeypatch):
    from skill_stack_apps.recording import RECORD_ENV, recording_on
    monkeypatch.delenv(RECORD_ENV, raising=False)
    assert not recording_on(None) and recording_on(True)
    monkeypatch.setenv(RECORD_ENV, "1")
    assert recording_on(None) and not recording_on(False)
    monkeypatch.setenv(RECORD_ENV, "0")
    assert not recording_on(None)
