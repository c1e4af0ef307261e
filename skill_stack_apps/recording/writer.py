"""`Recorder`: one MCAP file of ROS 2 messages (CDR, `ros2msg` schemas) that Foxglove opens with its standard panels.

    rec = Recorder("runs/x/run.mcap", metadata={"task": "pick up the red cube", "source": "cli"})
    rec.joint_state(t, names, positions, velocities)   # /joint_states      sensor_msgs/JointState
    rec.command(t, names, positions)                   # /joint_trajectory  trajectory_msgs/JointTrajectory
    rec.camera(t, frame)                               # /camera/image_raw, /camera/depth/image_raw, /camera/camera_info
    rec.objects(t, world)                              # /objects           skill_stack_interfaces/ObjectStates
    rec.status(t, state=..., skill_name=..., ...)      # /status            skill_stack_interfaces/TaskStatus
    rec.event(t, record)                               # /events (JSON in std_msgs/String) and a /rosout line
    rec.correction(t, text)                            # /corrections       std_msgs/String
    # with robot=RobotConfig: /tf with each joint state, /tf_static, and /tf + /markers with each object state
    rec.close(result={"success": "true"})

`t` is seconds on the run's clock: simulated seconds for the in-process simulator, ROS time over ROS. A message's
log time (and its header stamp) is `origin_ns + t`: by default `origin_ns` is the wall clock when the recording
opens, so Foxglove shows the run's date while every interval is on the run's own clock. Topic names are
those of the ROS graph (README "Nodes, topics, QoS"), under `namespace` if one is given. Calls are thread-safe.
`raw(...)` writes an already serialised CDR message (the ROS recorder node does, without decoding).
What Foxglove's 3D panel draws (/tf, /tf_static, /markers) is scene3d.SceneFrames's: `rec.scene`.
"""
from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from mcap.well_known import MessageEncoding, SchemaEncoding
from mcap.writer import CompressionType
from mcap.writer import Writer as McapWriter
from mcap_ros2._dynamic import serialize_dynamic  # the CDR encoder mcap_ros2's own Writer uses

from hardware.arm import WorldView
from hardware.camera import RGBDFrame
from hardware.robots import RobotConfig
from planners.episode_log import jsonable
from skill_stack_apps.recording.msgdefs import schema_text
from skill_stack_apps.recording.scene3d import BASE_FRAME, MARKERS, TF, TF_STATIC, SceneFrames

#: topic (relative) -> ROS 2 type of everything a recording may hold; the ROS recorder subscribes to these
TOPICS: dict[str, str] = {
    "joint_states": "sensor_msgs/msg/JointState",
    "joint_trajectory": "trajectory_msgs/msg/JointTrajectory",
    "camera/image_raw": "sensor_msgs/msg/Image",
    "camera/depth/image_raw": "sensor_msgs/msg/Image",
    "camera/camera_info": "sensor_msgs/msg/CameraInfo",
    "objects": "skill_stack_interfaces/msg/ObjectStates",
    "status": "skill_stack_interfaces/msg/TaskStatus",
    "events": "std_msgs/msg/String",
    "corrections": "std_msgs/msg/String",
    "skill_server/parameter_updates": "std_msgs/msg/String",
}
#: what the recorder writes for Foxglove's 3D panel from the joint and object states (scene3d); not subscribed
DERIVED_TOPICS: dict[str, str] = dict([TF, TF_STATIC, MARKERS])
#: the log lines of every node (absolute: /rosout is never namespaced); in-process, one line per event
ROSOUT = ("/rosout", "rcl_interfaces/msg/Log")
#: rcl_interfaces/Log levels
INFO, WARN = 20, 30
CAMERA_FRAME = "camera_color_optical_frame"


def _stamp(ns: int) -> dict[str, int]:
    return {"sec": ns // 1_000_000_000, "nanosec": ns % 1_000_000_000}


class Recorder:
    """Writes one MCAP file; see the module docstring for the topics and the clock."""

    def __init__(self, path: str | Path, *, origin_ns: int | None = None, namespace: str = "",
                 metadata: Mapping[str, str] | None = None, robot: RobotConfig | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.origin_ns = time.time_ns() if origin_ns is None else int(origin_ns)
        self.namespace = "/" + namespace.strip("/") if namespace.strip("/") else ""
        self._file = self.path.open("wb")
        self._mcap = McapWriter(self._file, compression=CompressionType.ZSTD)
        self._mcap.start(profile="ros2", library="skill_stack recorder")
        self._schemas: dict[str, int] = {}
        self._channels: dict[str, int] = {}
        self._encoders: dict[str, Callable[[Any], bytes]] = {}
        self._lock = threading.Lock()
        self._closed = False
        #: messages written per topic
        self.counts: dict[str, int] = {}
        self._last_ns = self.origin_ns
        self._mcap.add_metadata("recording", {"started_ns": str(self.origin_ns), **(metadata or {})})
        #: /tf, /tf_static and /markers, from the joint and object states written here (the arm's links need `robot`)
        self.scene = SceneFrames(self, robot)

    # -- plumbing -------------------------------------------------------------------------------
    def topic(self, name: str) -> str:
        return name if name.startswith("/") else f"{self.namespace}/{name}"

    def time_ns(self, t: float) -> int:
        return self.origin_ns + int(round(t * 1e9))

    def _channel(self, topic: str, datatype: str) -> int:
        channel = self._channels.get(topic)
        if channel is None:
            schema = self._schemas.get(datatype)
            if schema is None:  # rosbag2 names schemas pkg/msg/Type
                schema = self._schemas[datatype] = self._mcap.register_schema(
                    datatype, SchemaEncoding.ROS2, schema_text(datatype).encode())
            channel = self._channels[topic] = self._mcap.register_channel(topic, MessageEncoding.CDR, schema)
        return channel

    def _add(self, topic: str, datatype: str, log_ns: int, data: bytes, publish_ns: int) -> None:
        count = self.counts.get(topic, 0)
        self._mcap.add_message(self._channel(topic, datatype), log_ns, data, publish_ns, sequence=count)
        self.counts[topic] = count + 1
        self._last_ns = max(self._last_ns, log_ns)

    def write(self, topic: str, datatype: str, t: float, message: Mapping[str, Any]) -> None:
        """Any message as a dict of its fields (missing fields are zero), on `topic` (relative: namespaced)."""
        self.write_at(topic, datatype, self.time_ns(t), message)

    def write_at(self, topic: str, datatype: str, ns: int, message: Mapping[str, Any]) -> None:
        """`write` at an absolute log time in nanoseconds."""
        with self._lock:
            if self._closed:
                return
            encode = self._encoders.get(datatype)
            if encode is None:
                encode = self._encoders[datatype] = serialize_dynamic(datatype, schema_text(datatype))[datatype]
            self._add(self.topic(topic), datatype, ns, encode(message), ns)

    def raw(self, topic: str, datatype: str, log_ns: int, data: bytes, publish_ns: int | None = None) -> None:
        """A message already serialised as CDR (as ROS delivers it) on the absolute `topic`, at absolute times."""
        with self._lock:
            if not self._closed:
                self._add(topic, datatype, log_ns, data, log_ns if publish_ns is None else publish_ns)

    def header(self, t: float, frame_id: str = BASE_FRAME) -> dict[str, Any]:
        return {"stamp": _stamp(self.time_ns(t)), "frame_id": frame_id}

    # -- the robot --------------------------------------------------------------------------------
    def joint_state(self, t: float, names: Sequence[str], positions: Sequence[float],
                    velocities: Sequence[float] | None = None) -> None:
        self.write("joint_states", TOPICS["joint_states"], t, {
            "header": self.header(t), "name": list(names), "position": [float(p) for p in positions],
            "velocity": [float(v) for v in velocities] if velocities is not None else []})
        self.scene.arm(self.time_ns(t), self.time_ns(t), names, positions)

    def command(self, t: float, names: Sequence[str], positions: Sequence[float], seconds: float = 0.0) -> None:
        """One joint target, as the skill server sends it: a one-point JointTrajectory (no points: hold)."""
        whole = int(seconds)
        points = [{"positions": [float(p) for p in positions],
                   "time_from_start": {"sec": whole, "nanosec": int(round((seconds - whole) * 1e9))}}]
        self.write("joint_trajectory", TOPICS["joint_trajectory"], t,
                   {"header": self.header(t), "joint_names": list(names), "points": points if names else []})

    def camera(self, t: float, frame: RGBDFrame | np.ndarray, frame_id: str = CAMERA_FRAME) -> None:
        """A colour image (H x W x 3 uint8), or an RGB-D frame: colour, depth (32FC1 metres) and CameraInfo."""
        rgb = frame.rgb if isinstance(frame, RGBDFrame) else frame
        header = self.header(t, frame_id)
        height, width = int(rgb.shape[0]), int(rgb.shape[1])
        self.write("camera/image_raw", TOPICS["camera/image_raw"], t, {
            "header": header, "height": height, "width": width, "encoding": "rgb8", "step": width * 3,
            "data": np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()})
        if not isinstance(frame, RGBDFrame):
            return
        self.write("camera/depth/image_raw", TOPICS["camera/depth/image_raw"], t, {
            "header": header, "height": height, "width": width, "encoding": "32FC1", "step": width * 4,
            "data": np.ascontiguousarray(frame.depth, dtype="<f4").tobytes()})
        cam = frame.camera
        self.scene.camera(self.time_ns(t), frame_id, cam.base_from_camera)
        self.write("camera/camera_info", TOPICS["camera/camera_info"], t, {
            "header": header, "height": cam.height, "width": cam.width, "distortion_model": "plumb_bob",
            "d": [0.0] * 5, "k": [float(v) for v in cam.K.ravel()], "r": [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0],
            "p": [cam.fx, 0.0, cam.cx, 0.0, 0.0, cam.fy, cam.cy, 0.0, 0.0, 0.0, 1.0, 0.0]})

    def objects(self, t: float, world: WorldView) -> None:
        """Every object of `world` with what it touches and whether it is held, as the hardware node sends them."""
        objects, touching = world.objects(), world.touching()
        states = []
        for name, obj in objects.items():
            p, q, h = (np.asarray(v, float) for v in (obj.position, obj.orientation, obj.half_extents))
            states.append({
                "name": name, "category": obj.category, "color": obj.color or "", "size": obj.size or "",
                "is_container": bool(obj.is_container), "synonyms": list(obj.synonyms),
                "pose": {"position": dict(zip("xyz", map(float, p))), "orientation": dict(zip("xyzw", map(float, q)))},
                "half_extents": dict(zip("xyz", map(float, h))), "touching": touching.get(name, []),
                "grasped": bool(world.is_grasped(name)),
                "opening": math.nan if obj.opening is None else float(obj.opening),
                "grasp_point_names": list(obj.grasp_points),
                "grasp_points": [float(v) for point in obj.grasp_points.values() for v in point]})
        self.write("objects", TOPICS["objects"], t, {"header": self.header(t), "objects": states})
        self.scene.objects(self.time_ns(t), self.time_ns(t), objects)

    # -- the task ---------------------------------------------------------------------------------
    def status(self, t: float, **fields: Any) -> None:
        """skill_stack_interfaces/TaskStatus, as the scheduler node publishes it (state, task, skill_index,
        skill_count, skill_name, progress, message, ...)."""
        self.write("status", TOPICS["status"], t, {"stamp": _stamp(self.time_ns(t)), **fields})

    def event(self, t: float, record: Mapping[str, Any], level: int = INFO) -> None:
        """One episode-log record (a dict with "event"): JSON on /events, and a readable line on /rosout."""
        text = json.dumps(record, default=jsonable)
        self.write("events", TOPICS["events"], t, {"data": text})
        kind = str(record.get("event", "event"))
        detail = {k: v for k, v in record.items() if k not in ("event", "time")}
        self.write(ROSOUT[0], ROSOUT[1], t, {
            "stamp": _stamp(self.time_ns(t)), "level": level, "name": "skill_stack.executor",
            "msg": f"{kind}: {json.dumps(detail, default=jsonable)[:2000]}", "file": "", "function": kind})

    def correction(self, t: float, text: str) -> None:
        """An operator's correction as it was said, as on the scheduler's `corrections` topic."""
        self.write("corrections", TOPICS["corrections"], t, {"data": text})

    # -- end --------------------------------------------------------------------------------------
    def close(self, result: Mapping[str, str] | None = None) -> None:
        """Finish the file (its index and summary); `result` goes in as metadata "result"."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._mcap.add_metadata("result", {"ended_ns": str(self._last_ns), **(result or {})})
            self._mcap.finish()
            self._file.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

