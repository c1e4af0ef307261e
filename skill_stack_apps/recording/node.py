"""Recorder node: a running robot graph's topics into one MCAP file (`skillstack record`).

It subscribes, in its namespace, to every topic of writer.TOPICS (joint states, joint trajectory commands,
camera colour/depth/info, objects, the scheduler's status and events, corrections, the skill server's parameter
updates) and /rosout, and writes each message as it arrives, still serialised as ROS sent it, with the ROS 2
schemas a Foxglove panel needs. Log time is the node's ROS clock at receipt. With `tf` on (the default) it also
writes what Foxglove's 3D panel draws, computed from the joint and object states it receives as
robot_state_publisher would (recording/scene3d.py): `tf` stamped as each joint state, `tf_static`, `markers`.
The graph itself publishes no /tf (tf2_msgs has no PyPI wheel; on a robot, robot_state_publisher does).
It stops on Ctrl-C / SIGTERM, after `duration` seconds, or once `stop_after_tasks` tasks ended on `status`; the
file is always finished.
Parameters: skill_stack_apps.recording.node_config.RecorderConfig (`--help` lists them).
"""
from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy, qos_profile_sensor_data
from rclpy.serialization import deserialize_message, serialize_message

from hardware.robots import load_robot
from hardware.ros.common import COMMAND_QOS, STATUS_QOS, declare_config, spin_node
from hardware.ros.messages import object_from_msg
from skill_stack_apps.recording.node_config import RecorderConfig
from skill_stack_apps.recording.runs import new_run_dir
from skill_stack_apps.recording.writer import ROSOUT, TOPICS, Recorder

CAMERA_TOPICS = ("camera/image_raw", "camera/depth/image_raw", "camera/camera_info")
#: state streams (published reliable or best effort): sensor-data QoS matches both; the rest are reliable
SENSOR_TOPICS = ("joint_states", "objects", *CAMERA_TOPICS)
ROSOUT_QOS = QoSProfile(depth=100, reliability=QoSReliabilityPolicy.RELIABLE,
                        durability=QoSDurabilityPolicy.VOLATILE)
#: messages a subscription holds while the writer is busy (a chunk of camera frames being compressed can take
#: a second on a loaded machine): 50 s of a 20 Hz stream, a few kB each; camera frames keep sensor-data depth
BACKLOG = 1000
STREAM_QOS = QoSProfile(depth=BACKLOG, reliability=qos_profile_sensor_data.reliability,
                        durability=qos_profile_sensor_data.durability)
RELIABLE_QOS = QoSProfile(depth=BACKLOG, reliability=COMMAND_QOS.reliability, durability=COMMAND_QOS.durability)
TERMINAL = ("succeeded", "failed", "canceled")
#: seconds recorded after the stop condition: what was sent just before (the last events, the arm settling)
STOP_GRACE_S = 1.0


def _ns(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def message_class(datatype: str) -> Any:
    """The generated Python class of e.g. "sensor_msgs/msg/JointState"."""
    package, kind, name = datatype.split("/")
    return getattr(importlib.import_module(f"{package}.{kind}"), name)


class RecorderNode(Node):
    def __init__(self, node_name: str = "recorder", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.config = cfg = declare_config(self, RecorderConfig)
        path = Path(cfg.path) if cfg.path else new_run_dir(Path(cfg.out)) / "run.mcap"
        namespace = self.get_namespace().strip("/")
        self.recorder = Recorder(path, origin_ns=self._now_ns(), namespace=namespace,
                                 metadata={"source": "ros", "namespace": "/" + namespace, "node": self.get_name()},
                                 robot=load_robot(cfg.robot) if cfg.tf else None)
        #: tasks seen on `status`: (task, final state); the last one may still run
        self.tasks: list[tuple[str, str]] = []
        self.done = False
        self._started = time.monotonic()
        #: subscriptions with no publisher matched yet, by topic (see _say_matched)
        self._waiting: dict[str, Any] = {}
        for topic, datatype in TOPICS.items():
            if topic in CAMERA_TOPICS and not cfg.camera:
                continue
            if topic == "status":  # decoded: it says when tasks start and end
                self.create_subscription(message_class(datatype), topic, self._on_status, STATUS_QOS)
                continue
            qos = qos_profile_sensor_data if topic in CAMERA_TOPICS else STREAM_QOS if topic in SENSOR_TOPICS \
                else RELIABLE_QOS
            self._subscribe(topic, datatype, qos)
        if cfg.rosout:
            self._subscribe(*ROSOUT, ROSOUT_QOS)
        if cfg.duration > 0:
            self.create_timer(0.1, self._check_duration)
        self.create_timer(0.2, self._say_matched)
        self.get_logger().info(f"recording {self.resolve_topic_name('joint_states').rsplit('/', 1)[0] or '/'} "
                               f"to {path}")

    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _subscribe(self, topic: str, datatype: str, qos: QoSProfile) -> None:
        name = self.resolve_topic_name(topic)
        self._waiting[name] = self.create_subscription(message_class(datatype), topic,
                                                       self._writer_for(name, datatype), qos, raw=True)

    def _say_matched(self) -> None:
        """Log each topic once its first publisher is matched: until then its messages are not received (a
        reliable stream's messages sent before the match are lost), so a caller waits for these lines."""
        for name, subscription in list(self._waiting.items()):
            if (count := subscription.get_publisher_count()) > 0:
                del self._waiting[name]
                self.get_logger().info(f"receiving {name} ({count} publisher(s))")

    def _writer_for(self, name: str, datatype: str) -> Callable[[bytes], None]:
        derive = self._derivation(name, datatype) if self.config.tf else None

        def write(data: bytes) -> None:
            now = self._now_ns()
            self.recorder.raw(name, datatype, now, data)
            if derive is not None:
                derive(now, data)
        return write

    def _derivation(self, name: str, datatype: str) -> Callable[[int, bytes], None] | None:
        """What the 3D topics are computed from: joint states (the arm's links) and object states."""
        kind, scene = message_class(datatype), self.recorder.scene
        if name == self.resolve_topic_name("joint_states"):
            def arm(log_ns: int, data: bytes) -> None:
                msg = deserialize_message(data, kind)
                scene.arm(log_ns, _ns(msg.header.stamp), msg.name, msg.position)
            return arm
        if name == self.resolve_topic_name("objects"):
            def objects(log_ns: int, data: bytes) -> None:
                msg = deserialize_message(data, kind)
                scene.objects(log_ns, _ns(msg.header.stamp), {o.name: object_from_msg(o) for o in msg.objects})
            return objects
        return None

    def _on_status(self, msg: Any) -> None:
        self.recorder.raw(self.resolve_topic_name("status"), TOPICS["status"], self._now_ns(),
                          serialize_message(msg))
        if msg.state == "running" and (not self.tasks or self.tasks[-1][1] in TERMINAL):
            self.tasks.append((msg.task, "running"))
        elif msg.state in TERMINAL and self.tasks and self.tasks[-1][1] == "running":
            self.tasks[-1] = (self.tasks[-1][0], msg.state)
            ended = sum(1 for _, state in self.tasks if state in TERMINAL)
            if 0 < self.config.stop_after_tasks <= ended:
                self._stop(f"{ended} task(s) ended")

    def _check_duration(self) -> None:
        if time.monotonic() - self._started >= self.config.duration:
            self._stop(f"{self.config.duration:g} s recorded")

    def _stop(self, why: str) -> None:
        if not self.done:
            self.done = True
            self.get_logger().info(f"stopping in {STOP_GRACE_S:g} s: {why}")
            self.create_timer(STOP_GRACE_S, self.context.try_shutdown)  # spin_node returns; close() finishes

    def close(self) -> None:
        ended = [state for _, state in self.tasks if state in TERMINAL]
        result = {"tasks": "; ".join(task for task, _ in self.tasks), "states": ", ".join(s for _, s in self.tasks)}
        if self.tasks:
            result["task"] = self.tasks[-1][0]
        if ended:
            result["success"] = str(all(s == "succeeded" for s in ended)).lower()
        self.recorder.close(result)
        print(f"recording: {self.recorder.path} ({sum(self.recorder.counts.values())} messages)", flush=True)


def main(args: list[str] | None = None) -> int:
    return spin_node(RecorderNode, RecorderConfig, args=args)


if __name__ == "__main__":
    raise SystemExit(main())
