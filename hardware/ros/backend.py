"""The arm interface over ROS 2 topics: joint states in, joint trajectories out, camera images in.

Works with any arm that publishes `sensor_msgs/JointState` and follows `trajectory_msgs/JointTrajectory`
(a ros2_control joint trajectory controller, or this package's hardware node). Tool targets become joint
targets by IK in a robot-only PyBullet client (hardware.kinematics, shared with the simulated backend), and
every command passes this side's own SafetyFilter before it is sent, so a real arm gets filtered commands too.

Pacing: commands are sent once per control period, in `step()`, on the loop's own clock, and the loop acts
on the first joint state that arrives after its period ended: a command then goes out right after a state, and
the state the next step acts on was measured after the arm had that command. An arm that reports at the loop's
own rate (the simulated hardware node, 20 Hz) locks the loop to its ticks, as in-process stepping is; acting
on the latest state instead saw the arm before the last command in a share of steps that drifted with the two
timers' phase, and learned policies, trained without that lag, took more steps (places over ROS ran to their step
limit ~1 time in 10). An arm that reports faster (100 Hz and up) delays a step by one of its periods at most.
A state must also be younger than FRESH_STATE_PERIODS periods. Re-sending the current target
every period doubles as the keep-alive the hardware's watchdog expects; `forget_targets()` ends the stream
with an empty trajectory (config `stream_end`). If joint states stop arriving, the arm is reported gone
(`HardwareTimeout`, a SafetyError) instead of waiting forever.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState as JointStateMsg
from trajectory_msgs.msg import JointTrajectory

from hardware.arm import ArmInterface
from hardware.kinematics import Kinematics
from hardware.robots import load_robot
from hardware.ros import messages
from hardware.ros.common import COMMAND_QOS, STATUS_QOS
from hardware.ros.config import RosArmConfig
from hardware.safety import EStopActive, SafetyConfig, SafetyError, SafetyFilter
from hardware.types import JointState, Pose


#: a joint state older than this many control periods is stale: step() waits for a newer one
FRESH_STATE_PERIODS = 1.5


class HardwareTimeout(SafetyError):
    """The arm (or the world view) stopped reporting its state: it is treated as gone."""


class RosArm(ArmInterface):
    """An arm behind ROS 2 topics, driven from `node` (which must be spinning in another thread).

    With `commands=False` it only watches: it reads joint states (and the hardware's e-stop), `step()` waits a
    control period for a fresh state, and it has no command publisher, so the node that commands the arm is
    the one that runs the skills (the skill server), never a node that merely supervises them."""

    def __init__(self, node: Node, config: RosArmConfig | None = None, callback_group=None,
                 commands: bool = True) -> None:
        self.config = config or RosArmConfig()
        self.commands = commands
        self.robot_config = load_robot(self.config.robot)
        self.kinematics = Kinematics(self.robot_config)
        self.control_dt = 1.0 / self.config.control_hz
        self.gripper_max_width = self.robot_config.gripper_max_width
        self.safety = SafetyFilter(
            SafetyConfig(joint_lower=self.kinematics.lower, joint_upper=self.kinematics.upper,
                         gripper_max_width=self.gripper_max_width, **self.config.safety), self.control_dt)
        self._node = node
        self._cond = threading.Condition()
        self._positions: dict[str, float] = {}
        self._velocities: dict[str, float] = {}
        self._state_time: float | None = None  # monotonic time of the last joint state
        self._state_count = 0
        self._image: Image | None = None
        self._remote_estop = False
        self._arm_target: np.ndarray | None = None
        self._gripper_target: float | None = None
        self._last_tick: float | None = None
        self._interrupt = threading.Event()  # set: the waiting step() returns at once (a cancel)
        cfg = self.config
        self._subs = [node.create_subscription(JointStateMsg, cfg.joint_states_topic, self._on_joint_state,
                                               qos_profile_sensor_data, callback_group=callback_group)]
        if cfg.camera_topic:
            self._subs.append(node.create_subscription(Image, cfg.camera_topic, self._on_image,
                                                       qos_profile_sensor_data, callback_group=callback_group))
        if cfg.hardware_status_topic:
            from skill_stack_interfaces.msg import HardwareStatus
            self._subs.append(node.create_subscription(HardwareStatus, cfg.hardware_status_topic,
                                                       self._on_hardware_status, STATUS_QOS,
                                                       callback_group=callback_group))
        self._arm_pub = node.create_publisher(JointTrajectory, cfg.command_topic, COMMAND_QOS) if commands else None
        self._gripper_pub = (node.create_publisher(JointTrajectory, cfg.gripper_command_topic, COMMAND_QOS)
                             if commands and cfg.gripper_command_topic else None)

    # -- subscriptions (executor threads) -------------------------------------------------------
    def _on_joint_state(self, msg: JointStateMsg) -> None:
        with self._cond:
            self._positions.update(zip(msg.name, (float(p) for p in msg.position)))
            if len(msg.velocity) == len(msg.name):
                self._velocities.update(zip(msg.name, (float(v) for v in msg.velocity)))
            if all(n in self._positions for n in self.robot_config.arm_joints):
                self._state_time = time.monotonic()
                self._state_count += 1
                self._cond.notify_all()

    def _on_image(self, msg: Image) -> None:
        self._image = msg

    def _on_hardware_status(self, msg) -> None:
        self._remote_estop = bool(msg.estopped)

    # -- state ----------------------------------------------------------------------------------
    def state_age(self) -> float | None:
        """Seconds since the last complete joint state; None if none has arrived yet."""
        with self._cond:
            return None if self._state_time is None else time.monotonic() - self._state_time

    def wait_ready(self, timeout: float) -> bool:
        """True once a joint state younger than `state_timeout` is at hand (waits up to `timeout`)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._state_time is not None and
                                       time.monotonic() - self._state_time < self.config.state_timeout,
                                       timeout=timeout)

    def _arm_positions(self) -> np.ndarray:
        # a stale state may only mean delivery was delayed by a busy moment: wait for a fresh one first
        self.wait_ready(timeout=self.config.state_timeout)
        age = self.state_age()
        if age is None or age > self.config.state_timeout:
            since = "ever" if age is None else f"{age:.1f} s"
            raise HardwareTimeout(f"no joint states on {self._arm_topic_name()} for {since}: "
                                  "is the arm (hardware node or controller) running?")
        with self._cond:
            return np.array([self._positions[n] for n in self.robot_config.arm_joints])

    def _arm_topic_name(self) -> str:
        return self._subs[0].topic_name

    def joint_state(self) -> JointState:
        q = self._arm_positions()
        with self._cond:
            v = np.array([self._velocities.get(n, 0.0) for n in self.robot_config.arm_joints])
        return JointState(self.robot_config.arm_joints, q, v)

    def _finger_positions(self) -> list[float]:
        with self._cond:
            return [self._positions.get(n, 0.0) for n in self.robot_config.finger_joints]

    def gripper_width(self) -> float:
        self._arm_positions()  # raises if the state is stale
        return self.robot_config.width_of(self._finger_positions())

    def ee_pose(self) -> Pose:
        return self.kinematics.tcp_pose(self._arm_positions())

    def tool_down(self, yaw: float = 0.0) -> np.ndarray:
        return self.kinematics.tool_down(yaw)

    def camera_rgb(self, width: int = 320, height: int = 240) -> np.ndarray:
        if self._image is None:
            raise HardwareTimeout(f"no camera image on {self.config.camera_topic or '(no camera_topic)'}")
        rgb = messages.rgb_from_image(self._image)
        if rgb.shape[:2] != (height, width):
            import cv2
            rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
        return rgb

    # -- commands (all through self.safety; sent in step()) --------------------------------------
    def _check_remote_estop(self) -> None:
        if not self.commands:
            raise SafetyError("this arm is watched, not commanded, from here: skills run in the skill server")
        if self._remote_estop:
            self.safety.stats.rejected += 1
            raise EStopActive("the hardware's e-stop is active: motion refused until it is reset there")

    def command_joints(self, positions: Sequence[float]) -> np.ndarray:
        self._check_remote_estop()
        self._arm_target = self.safety.filter_joint_target(positions, self._arm_positions(),
                                                           self.kinematics.tcp_position)
        return self._arm_target.copy()

    def command_ee(self, position: Sequence[float], orientation: Sequence[float] | None = None) -> np.ndarray:
        self._check_remote_estop()
        q = self._arm_positions()
        goal = self.safety.filter_ee_target(position, self.kinematics.tcp_position(q))
        orn = self.safety.filter_orientation(self.tool_down() if orientation is None else orientation)
        return self.command_joints(self.kinematics.ik(goal, orn, q))

    def command_gripper(self, width: float) -> float:
        self._check_remote_estop()
        self._gripper_target = self.safety.filter_gripper(width)
        return self._gripper_target

    def _publish(self, arm: np.ndarray | None, gripper: float | None) -> None:
        if self._arm_pub is None:  # watching only
            return
        rc, seconds = self.robot_config, self.config.time_from_start
        stamp = self._node.get_clock().now().to_msg()  # sent now: the controller starts the point from here
        fingers = [] if gripper is None or not rc.finger_joints else rc.finger_targets(gripper)
        names, values = [], []
        if arm is not None:
            names, values = list(rc.arm_joints), list(arm)
        if self._gripper_pub is None:
            names, values = names + list(rc.finger_joints[: len(fingers)]), values + fingers
        elif fingers:
            self._gripper_pub.publish(messages.trajectory(rc.finger_joints, fingers, seconds, stamp))
        if names:
            self._arm_pub.publish(messages.trajectory(names, values, seconds, stamp))

    def step(self) -> None:
        """Send the current targets, wait for the end of the control period, then for the first joint state
        that arrives after it (see the module's docstring)."""
        if not self.estopped:
            self._publish(self._arm_target, self._gripper_target)
        now = time.monotonic()
        deadline = now + self.control_dt if self._last_tick is None else self._last_tick + self.control_dt
        if deadline > now and self._interrupt.wait(deadline - now):
            self._interrupt.clear()
            return  # the caller stops now, not at the end of the period
        fresh_for = FRESH_STATE_PERIODS * self.control_dt
        with self._cond:
            fresh = self._cond.wait_for(lambda: self._state_time is not None and self._state_time >= deadline and
                                        time.monotonic() - self._state_time < fresh_for,
                                        timeout=self.config.state_timeout)
        if not fresh:
            raise HardwareTimeout(f"no joint states on {self._arm_topic_name()} for "
                                  f"{self.config.state_timeout:.1f} s: the arm stopped reporting")
        now = time.monotonic()
        # after a late step, restart the schedule instead of rushing to catch up
        self._last_tick = deadline if now - deadline < self.control_dt else now

    def interrupt(self) -> None:
        """Wake a step() that waits for the end of its period (a cancel, from another thread): it returns at
        once, so the loop can send the hold in this period instead of the next."""
        self._interrupt.set()

    def stop_motion(self) -> None:
        """Hold where the arm and fingers are now (cancel, failure). No-op if the arm is gone.

        With `stream_end`, the stream ends here and the hardware holds at its own current pose, at its next tick.
        Otherwise the hold is the last joint state moved on by its velocities for the state's age (up to a
        period and a half): holding the state as it was would pull a moving arm back to where it had been."""
        if self.config.stream_end:
            self.forget_targets()
            return
        try:
            q = self._arm_positions()
        except HardwareTimeout:
            return
        with self._cond:
            v = np.array([self._velocities.get(n, 0.0) for n in self.robot_config.arm_joints])
        age = min(self.state_age() or 0.0, FRESH_STATE_PERIODS * self.control_dt)
        q = np.clip(q + v * age, self.kinematics.lower, self.kinematics.upper)
        self._arm_target, self._gripper_target = q, self.robot_config.width_of(self._finger_positions())
        self._publish(self._arm_target, self._gripper_target)

    def estop(self) -> None:
        self.safety.estop()
        # the hold command is not motion: it is sent even though the filter now refuses targets
        self.stop_motion()

    def reset_estop(self) -> None:
        """Resets this side's latch; an e-stop on the hardware must be reset there."""
        self.safety.reset_estop()

    @property
    def estopped(self) -> bool:
        return self.safety.estopped or self._remote_estop

    def forget_targets(self) -> None:
        """End the command stream: stop re-sending old targets; with `stream_end`, tell the arm with an empty
        trajectory (it holds where it is; the hardware's watchdog rests until the next command)."""
        self._arm_target, self._gripper_target, self._last_tick = None, None, None
        self._interrupt.clear()
        if not self.config.stream_end:
            return
        for pub, names in ((self._arm_pub, self.robot_config.arm_joints),
                           (self._gripper_pub, self.robot_config.finger_joints)):
            if pub is not None:
                pub.publish(JointTrajectory(joint_names=list(names)))

    def close(self) -> None:
        for sub in self._subs:
            self._node.destroy_subscription(sub)
        for pub in (self._arm_pub, self._gripper_pub):
            if pub is not None:
                self._node.destroy_publisher(pub)
        self._subs = []
        self.kinematics.close()
