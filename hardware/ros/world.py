"""The world view over ROS 2: object states from a skill_stack_interfaces/ObjectStates topic.

In simulation the hardware node publishes the simulator's ground truth; on a robot, perception does.
Contacts and grasps come with each object (`touching`, `grasped`), so the skills' predicates read the
same facts they read from PyBullet in-process. Each message is stamped with the time its states were
measured (header.stamp): `measurement_age()` says how old they are, so a skill can allow for it.
"""
from __future__ import annotations

import threading
import time

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data

from hardware.arm import WorldView
from hardware.ros import messages
from hardware.ros.backend import HardwareTimeout
from hardware.types import ObjectState


class RosWorldView(WorldView):
    """The latest ObjectStates message; stale or missing data raises HardwareTimeout.

    A stale message is not an error by itself: a busy moment in this process (or the publisher's)
    delays delivery, and the next message is already queued. A read waits up to `state_timeout` for a
    fresh one and raises only if none comes, as RosArm.step does for joint states.
    """

    def __init__(self, node: Node, topic: str = "objects", state_timeout: float = 1.0,
                 callback_group=None) -> None:
        from skill_stack_interfaces.msg import ObjectStates

        self.state_timeout = state_timeout
        self._node = node
        self._cond = threading.Condition()
        self._msg = None
        self._received: float | None = None
        self._measured_ns = 0  # header.stamp of the latest message, ROS time in ns (0: unstamped)
        self._cache: tuple[object, dict[str, ObjectState], dict[str, set[str]], set[str]] | None = None
        self._sub = node.create_subscription(ObjectStates, topic, self._on_objects, qos_profile_sensor_data,
                                             callback_group=callback_group)

    def _on_objects(self, msg) -> None:
        with self._cond:
            self._msg, self._received = msg, time.monotonic()
            self._measured_ns = msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec
            self._cond.notify_all()

    def age(self) -> float | None:
        """Seconds since the latest message arrived; None if none has."""
        with self._cond:
            return None if self._received is None else time.monotonic() - self._received

    def measurement_age(self) -> float:
        """Seconds since the latest states were measured, from their stamp (clocks of the publisher's machine
        and this one must agree, as on any ROS robot); the arrival age for an unstamped publisher."""
        with self._cond:
            measured, received = self._measured_ns, self._received
        if received is None:
            return 0.0
        if not measured:
            return time.monotonic() - received
        return max(0.0, (self._node.get_clock().now().nanoseconds - measured) * 1e-9)

    def _latest(self) -> tuple[dict[str, ObjectState], dict[str, set[str]], set[str]]:
        def fresh() -> bool:
            return self._received is not None and time.monotonic() - self._received <= self.state_timeout

        with self._cond:
            self._cond.wait_for(fresh, timeout=self.state_timeout)
            msg, received = self._msg, self._received
        if msg is None or time.monotonic() - received > self.state_timeout:
            since = "ever" if received is None else f"{time.monotonic() - received:.1f} s"
            raise HardwareTimeout(f"no object states on {self._sub.topic_name} for {since}: "
                                  "is the simulator (hardware node) or perception running?")
        if self._cache is None or self._cache[0] is not msg:
            objects = {o.name: messages.object_from_msg(o) for o in msg.objects}
            touching = {o.name: set(o.touching) for o in msg.objects}
            grasped = {o.name for o in msg.objects if o.grasped}
            self._cache = (msg, objects, touching, grasped)
        return self._cache[1], self._cache[2], self._cache[3]

    def objects(self) -> dict[str, ObjectState]:
        return dict(self._latest()[0])

    def contacts(self, a: str, b: str) -> bool:
        objects, touching, _ = self._latest()
        if a in objects:
            return b in touching[a]
        if b in objects:
            return a in touching[b]
        return False  # e.g. gripper-table: not reported by the topic

    def is_grasped(self, name: str) -> bool:
        objects, _, grasped = self._latest()
        if name not in objects:
            raise KeyError(f"no object named {name!r}; known: {', '.join(sorted(objects))}")
        return name in grasped

    def close(self) -> None:
        self._node.destroy_subscription(self._sub)
