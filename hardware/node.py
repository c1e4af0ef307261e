"""Hardware node: any arm backend as a ROS 2 robot, as a lifecycle node.

configure: read the parameters, build the backend (PyBullet: a fresh simulated world) and the publishers.
           Cleanup then configure resets the world: `ros2 param set /hardware seed 3` first gives a new scene.
activate:  step the backend at the control rate (real time), publish joint states, object states and
           camera images (with a depth camera also depth and CameraInfo), accept JointTrajectory commands, run the
           watchdog.

Commands are a stream: one-point trajectories, one per control period. While a stream runs, the watchdog holds
the arm if it stops for `watchdog_timeout` (the commanding node is gone or stalled). An empty trajectory (no
points) ends a stream, as on the topic of ROS 1's joint trajectory controller: the arm holds where it is (at
this tick: a cancel stops it here, within a period) and the watchdog rests until the next command, so a
skill's normal end is not reported as a fault.
deactivate: stop stepping and stop accepting commands (the arm holds its target). cleanup: close the
           backend. The e-stop services work in every state that has a backend.

Simulation only: `~/set_object_pose` moves an object as a person would (tests and benchmarks of replanning);
with a real arm's backend it refuses.
Every command goes through the backend's SafetyFilter (PyBulletArm owns one); the node never bypasses it.
Parameters: hardware.node_config.HardwareNodeConfig (`hardware_node --help` lists them).
"""
from __future__ import annotations

import math
import time
from typing import Any

from rclpy.lifecycle import Node as LifecycleNode
from rclpy.lifecycle import State, TransitionCallbackReturn
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, JointState as JointStateMsg
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from hardware.arm import ArmInterface, WorldView
from hardware.backends import create_backend
from hardware.node_config import HardwareNodeConfig
from hardware.ros import messages
from hardware.ros.common import COMMAND_QOS, STATE_PUB_QOS, STATUS_QOS, declare_config, read_config, spin_node
from hardware.safety import EStopActive, SafetyError, Watchdog


DEPTH_ENCODINGS = ("16UC1", "32FC1")
#: a simulated object is moved no farther than this from the base (metres, any axis)
MAX_OBJECT_REACH_M = 2.0


class HardwareNode(LifecycleNode):
    def __init__(self, node_name: str = "hardware", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        from skill_stack_interfaces.msg import HardwareStatus, ObjectStates

        self._status_type, self._objects_type = HardwareStatus, ObjectStates
        self.config = declare_config(self, HardwareNodeConfig)

        self.backend: ArmInterface | None = None
        self._lifecycle = "unconfigured"
        self._commands = self._rejected = 0
        self._message = "waiting for configure"
        self._watchdog: Watchdog | None = None
        self._streaming = False  # a command stream runs: the watchdog guards it
        self._activity_timers: list = []  # the control loop's (not `_timers`: rclpy's Node keeps its own there)
        self._command_sub = None
        self._pubs: dict = {}
        self._last_camera = 0.0
        self._status_pub = self.create_publisher(HardwareStatus, "~/status", STATUS_QOS)
        self.create_service(Trigger, "~/estop", self._on_estop)
        self.create_service(Trigger, "~/reset_estop", self._on_reset_estop)
        from skill_stack_interfaces.srv import SetObjectPose
        self.create_service(SetObjectPose, "~/set_object_pose", self._on_set_object_pose)
        self.create_timer(1.0 / max(self.config.status_rate, 0.1), self.publish_status)
        self.publish_status()
        if self.config.autostart:
            self.trigger_configure()
            if self._lifecycle == "inactive":
                self.trigger_activate()

    # -- lifecycle ------------------------------------------------------------------------------
    def on_configure(self, state: State) -> TransitionCallbackReturn:
        try:
            cfg = self.config = read_config(self, HardwareNodeConfig)
            if cfg.depth_encoding not in DEPTH_ENCODINGS:
                raise ValueError(f"depth_encoding must be one of {', '.join(DEPTH_ENCODINGS)}, "
                                 f"got {cfg.depth_encoding!r}")
            self.backend = create_backend(cfg.backend, cfg.backend_options())
        except (ValueError, OSError) as err:  # bad backend, robot or scene: stay unconfigured, say why
            self._report(f"configure failed: {err}", error=True)
            return TransitionCallbackReturn.FAILURE
        rc = self._robot = self.backend.robot_config
        self._arm_joints = tuple(rc.arm_joints) if rc else tuple(self.backend.joint_state().names)
        self._finger_joints = tuple(rc.finger_joints) if rc else ()
        self._pubs = {
            "joints": self.create_lifecycle_publisher(JointStateMsg, cfg.joint_states_topic, STATE_PUB_QOS),
            "objects": self.create_lifecycle_publisher(self._objects_type, cfg.objects_topic, STATE_PUB_QOS),
            "camera": self.create_lifecycle_publisher(Image, cfg.camera_topic, qos_profile_sensor_data),
            "depth": self.create_lifecycle_publisher(Image, cfg.depth_topic, qos_profile_sensor_data),
            "camera_info": self.create_lifecycle_publisher(CameraInfo, cfg.camera_info_topic,
                                                           qos_profile_sensor_data),
        }
        self._lifecycle = "inactive"
        self._report(f"configured: {cfg.backend} backend, robot {cfg.options.robot}")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: State) -> TransitionCallbackReturn:
        hz = self.config.options.control_hz
        self._watchdog = Watchdog(self.config.watchdog_timeout, self._on_watchdog)
        self._command_sub = self.create_subscription(JointTrajectory, self.config.command_topic,
                                                     self._on_trajectory, COMMAND_QOS)
        self._activity_timers = [self.create_timer(1.0 / hz, self._tick)]
        self._lifecycle = "active"
        result = super().on_activate(state)
        self._report("active: stepping at %d Hz" % hz)
        return result

    def on_deactivate(self, state: State) -> TransitionCallbackReturn:
        self._stop_activity()
        self._hold()
        self._lifecycle = "inactive"
        result = super().on_deactivate(state)
        self._report("inactive: holding, commands ignored")
        return result

    def on_cleanup(self, state: State) -> TransitionCallbackReturn:
        self._release()
        self._lifecycle = "unconfigured"
        self._report("cleaned up: backend closed")
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: State) -> TransitionCallbackReturn:
        self._stop_activity()
        self._release()
        self._lifecycle = "finalized"
        self._report("shut down")
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: State) -> TransitionCallbackReturn:
        self._stop_activity()
        self._release()
        self._lifecycle = "unconfigured"
        self._report("error: backend released", error=True)
        return TransitionCallbackReturn.SUCCESS

    def _stop_activity(self) -> None:
        for timer in self._activity_timers:
            self.destroy_timer(timer)
        self._activity_timers = []
        if self._command_sub is not None:
            self.destroy_subscription(self._command_sub)
            self._command_sub = None
        self._watchdog = None

    def _release(self) -> None:
        for pub in self._pubs.values():
            self.destroy_lifecycle_publisher(pub)
        self._pubs = {}
        if self.backend is not None:
            self.backend.close()
            self.backend = None

    def close(self) -> None:
        self._stop_activity()
        self._release()

    # -- control loop ---------------------------------------------------------------------------
    def _tick(self) -> None:
        if self.backend is None:
            return
        if self._watchdog is not None and self._streaming:
            self._watchdog.check()
        self.backend.step()
        stamp = self.get_clock().now().to_msg()
        if isinstance(self.backend, WorldView):
            self._pubs["objects"].publish(messages.object_states(self.backend, stamp, self.config.frame_id))
        self._pubs["joints"].publish(self._joint_state_msg(stamp))
        now, cfg = time.monotonic(), self.config
        if cfg.camera_rate > 0 and now - self._last_camera >= 1.0 / cfg.camera_rate:
            self._last_camera = now
            self._publish_camera(stamp)

    def _publish_camera(self, stamp) -> None:
        """Colour, and with a depth camera (PyBulletArm.rgbd) depth and the intrinsics, of one frame."""
        cfg = self.config
        rgbd = getattr(self.backend, "rgbd", None)
        if rgbd is None:
            rgb = self.backend.camera_rgb(cfg.camera_width, cfg.camera_height)
            messages_out = [("camera", messages.image_from_rgb(rgb, cfg.camera_frame))]
        else:
            frame = rgbd(cfg.camera_width, cfg.camera_height)
            messages_out = [("camera", messages.image_from_rgb(frame.rgb, cfg.camera_frame)),
                            ("depth", messages.image_from_depth(frame.depth, cfg.camera_frame,
                                                                cfg.depth_encoding)),
                            ("camera_info", messages.camera_info(frame.camera, cfg.camera_frame))]
        for key, msg in messages_out:
            msg.header.stamp = stamp
            self._pubs[key].publish(msg)

    def _joint_state_msg(self, stamp) -> JointStateMsg:
        state = self.backend.joint_state()
        # joint positions as the robot reports them (a linkage gripper's are angles, not widths)
        robot, width = self._robot, self.backend.gripper_width()
        finger = robot.finger_targets(width) if robot is not None and self._finger_joints else []
        msg = JointStateMsg()
        msg.header.stamp = stamp
        msg.name = [*self._arm_joints, *self._finger_joints]
        msg.position = [*map(float, state.positions), *finger]
        msg.velocity = [*map(float, state.velocities), *([0.0] * len(finger))]
        return msg

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        self._commands += 1
        self._streaming = bool(msg.points)
        if self._watchdog is not None:
            was_tripped = self._watchdog.tripped
            self._watchdog.feed()
            if was_tripped:
                self._report("commands resumed")
        if not msg.points:  # the end of a stream: hold where the arm is
            self._hold()
            return
        if self.backend is None:
            return
        try:
            target = messages.trajectory_target(msg)
            unknown = set(target) - set(self._arm_joints) - set(self._finger_joints)
            if unknown:
                raise ValueError(f"unknown joints {sorted(unknown)}; this arm has "
                                 f"{', '.join(self._arm_joints + self._finger_joints)}")
            if any(n in target for n in self._arm_joints):
                current = self.backend.joint_state().positions
                q = [target.get(n, float(current[i])) for i, n in enumerate(self._arm_joints)]
                self.backend.command_joints(q)
            fingers = [target[n] for n in self._finger_joints if n in target]
            if fingers and self._robot is not None:
                given = sum(fingers) / len(fingers)  # a finger left out moves like the ones given
                self.backend.command_gripper(self._robot.width_of([target.get(n, given) for n in self._finger_joints]))
        except (ValueError, SafetyError) as err:
            self._rejected += 1
            self.get_logger().warning(f"command rejected: {err}", throttle_duration_sec=1.0)
            if isinstance(err, EStopActive):
                self._message = "e-stop active: commands refused"

    def _on_watchdog(self) -> None:
        self._hold()
        self._report(f"watchdog: no command for {self.config.watchdog_timeout:.2f} s; holding position",
                     warn=True)

    def _hold(self) -> None:
        """Hold the arm where it is now (the fingers keep their target: a held object is not dropped)."""
        if self.backend is None or self.backend.estopped:
            return
        try:
            self.backend.command_joints(self.backend.joint_state().positions)
        except SafetyError as err:
            self.get_logger().warning(f"hold refused: {err}")

    # -- e-stop ---------------------------------------------------------------------------------
    def _on_estop(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.backend is None:
            response.success, response.message = False, "no backend (node is not configured)"
            return response
        self.backend.estop()
        response.success, response.message = True, "e-stop engaged: the arm holds; motion refused until reset"
        self._report(response.message, warn=True)
        return response

    def _on_reset_estop(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.backend is None:
            response.success, response.message = False, "no backend (node is not configured)"
            return response
        self.backend.reset_estop()
        response.success, response.message = True, "e-stop reset: motion allowed"
        self._report(response.message)
        return response

    # -- simulation only --------------------------------------------------------------------------
    def _on_set_object_pose(self, request: Any, response: Any) -> Any:
        """Move a simulated object, as a person would (replanning tests); a real backend refuses."""
        move = getattr(self.backend, "set_object_pose", None)
        where = (request.x, request.y, request.z)
        if move is None or not isinstance(self.backend, WorldView):
            response.success, response.message = False, "only a simulated world's objects can be moved this way"
        elif request.name not in self.backend.objects():
            response.success, response.message = False, f"no object '{request.name}' in the scene"
        elif not all(math.isfinite(v) for v in (*where, request.yaw)) or max(map(abs, where)) > MAX_OBJECT_REACH_M:
            response.success, response.message = False, f"pose {where} is not a finite point within " \
                                                        f"{MAX_OBJECT_REACH_M} m of the base"
        else:
            move(request.name, where, request.yaw)
            response.success, response.message = True, f"moved {request.name} to {where}"
            self.get_logger().info(response.message)
        return response

    # -- status ---------------------------------------------------------------------------------
    def _report(self, message: str, warn: bool = False, error: bool = False) -> None:
        self._message = message
        # rclpy ties one severity to each logging call site, hence three calls
        if error:
            self.get_logger().error(message)
        elif warn:
            self.get_logger().warning(message)
        else:
            self.get_logger().info(message)
        self.publish_status()

    def publish_status(self) -> None:
        msg = self._status_type()
        msg.stamp = self.get_clock().now().to_msg()
        msg.lifecycle_state, msg.backend, msg.robot = self._lifecycle, self.config.backend, self.config.options.robot
        msg.estopped = bool(self.backend is not None and self.backend.estopped)
        msg.watchdog_tripped = bool(self._watchdog is not None and self._watchdog.tripped)
        msg.commands_received, msg.commands_rejected = self._commands, self._rejected
        msg.sim_time = float(self.backend.sim_time) if self.backend is not None else 0.0
        msg.message = self._message
        self._status_pub.publish(msg)


def main(args: list[str] | None = None) -> int:
    # the executor's thread steps the arm: it runs at the node's real-time priority
    return spin_node(HardwareNode, HardwareNodeConfig, args=args,
                     realtime_priority=lambda node: node.config.realtime_priority)


if __name__ == "__main__":
    raise SystemExit(main())
