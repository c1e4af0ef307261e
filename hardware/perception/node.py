"""Perception node: colour + depth + CameraInfo + joint states in, ObjectStates out (hardware.perception on ROS).

It pairs the newest colour and depth images with the same stamp and perceives them (at most `rate` frames a
second) with the camera's intrinsics (CameraInfo) and extrinsic (a parameter, as calibration gives it). The arm's
joint states say where the tool is and how wide the fingers are: what the hand closed on moves with the tool, as
in-process (hardware.perception.world.PerceivedWorld, which this node runs on ROS topics). It publishes every
object, named after the scene's descriptions, with what it touches and whether it is grasped, `publish_rate`
times a second, stamped with the frame the states were measured in; nothing while the joint states are older
than `state_timeout` or the newest frame than `camera_timeout`. `~/reset` (std_srvs/Trigger) forgets every
object, for a scene changed out of the camera's sight. Parameters: hardware.perception.node_config.
"""
from __future__ import annotations

import time
from collections import deque
from typing import Any

import numpy as np
from builtin_interfaces.msg import Time
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_srvs.srv import Trigger

from hardware.camera import CameraModel, DepthNoise, RGBDFrame
from hardware.perception.node_config import PerceptionNodeConfig
from hardware.perception.tracker import Perception
from hardware.perception.world import PerceivedWorld
from hardware.ros import messages
from hardware.ros.backend import HardwareTimeout, RosArm
from hardware.ros.common import STATE_PUB_QOS, declare_config, spin_node
from hardware.ros.config import RosArmConfig
from hardware.robots import RobotConfig, load_robot
from hardware.scene import load_scene


#: images kept per topic to pair colour with depth by stamp
PAIRING_DEPTH = 4
#: joint states kept to pose the arm at a frame's stamp (2 s at 20 Hz), and how far from the stamp one may be
ARM_HISTORY, ARM_SYNC_S = 40, 0.1


def base_from_camera(pose: list[float], scene: str, width: int, height: int) -> np.ndarray:
    """The extrinsic from `x y z qx qy qz qw`, or the scene's simulated camera for [0.0]."""
    if list(pose) == [0.0]:
        spec = load_scene(scene)
        camera = CameraModel.looking_at(width, height, spec.camera_fov, spec.camera_eye, spec.camera_target)
        return camera.base_from_camera
    if len(pose) != 7 or not np.all(np.isfinite(pose)) or abs(np.linalg.norm(pose[3:]) - 1.0) > 1e-3:
        raise ValueError(f"camera_pose must be x y z qx qy qz qw with a unit quaternion, got {list(pose)}")
    x, y, z, w = pose[3:]
    transform = np.eye(4)
    transform[:3, :3] = [[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                         [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                         [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]]
    transform[:3, 3] = pose[:3]
    return transform


class TopicCamera:
    """The newest RGB-D frame from the topics, as PerceivedWorld asks a camera for one: `sim_time` is its stamp.
    It also keeps the arm's recent joint states, to say where the arm was when the frame was taken."""

    def __init__(self, robot: RobotConfig) -> None:
        self.robot = robot
        self.frame: RGBDFrame | None = None
        self.sim_time = 0.0
        #: monotonic time the frame arrived
        self.received: float | None = None
        #: (stamp in s, arm joint positions, finger width), oldest first
        self._arm: deque[tuple[float, np.ndarray, float]] = deque(maxlen=ARM_HISTORY)

    def show(self, frame: RGBDFrame) -> None:
        self.frame, self.sim_time, self.received = frame, frame.stamp, time.monotonic()

    def joint_state(self, msg: Any) -> None:
        positions = dict(zip(msg.name, msg.position))
        if all(n in positions for n in self.robot.arm_joints):
            width = self.robot.width_of([positions.get(n, 0.0) for n in self.robot.finger_joints])
            self._arm.append((msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9,
                              np.array([positions[n] for n in self.robot.arm_joints]), width))

    @property
    def has_arm(self) -> bool:
        return bool(self._arm)

    def arm_at_frame(self) -> tuple[np.ndarray, float]:
        """The arm's joints and finger width nearest the frame's stamp (the newest if none is near it)."""
        assert self._arm, "no joint states yet"
        stamp, positions, width = min(self._arm, key=lambda entry: abs(entry[0] - self.sim_time))
        if abs(stamp - self.sim_time) > ARM_SYNC_S:
            _, positions, width = self._arm[-1]
        return positions, width

    def rgbd(self, width: int | None = None, height: int | None = None, noise: DepthNoise | None = None,
             frame_index: int = 0) -> RGBDFrame:
        assert self.frame is not None, "no frame yet"
        return self.frame


class PerceptionNode(Node):
    def __init__(self, node_name: str = "perception", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        from skill_stack_interfaces.msg import ObjectStates

        self.config = cfg = declare_config(self, PerceptionNodeConfig)
        if min(cfg.rate, cfg.publish_rate, cfg.state_timeout, cfg.camera_timeout) <= 0:
            raise ValueError(f"rate, publish_rate, state_timeout and camera_timeout must be positive, got "
                             f"{cfg.rate}, {cfg.publish_rate}, {cfg.state_timeout}, {cfg.camera_timeout}")
        base_from_camera(list(cfg.camera_pose), cfg.scene, 2, 2)  # a bad pose or scene fails now, not per frame
        self.perception = Perception(cfg.scene)
        self.arm = RosArm(self, RosArmConfig(robot=cfg.robot, joint_states_topic=cfg.joint_states_topic,
                                             camera_topic="", hardware_status_topic="",
                                             state_timeout=cfg.state_timeout), commands=False)
        self.camera = TopicCamera(load_robot(cfg.robot))
        self.create_subscription(JointState, cfg.joint_states_topic, self.camera.joint_state, qos_profile_sensor_data)
        self.world: PerceivedWorld | None = None  # from the first joint state on (it reads the gripper's width)
        # the last few of each: over a busy network one image of a pair may be lost, the next pair still matches
        self._recent: dict[str, deque] = {key: deque(maxlen=PAIRING_DEPTH) for key in ("rgb", "depth", "info")}
        self._done_stamp: tuple[int, int] | None = None
        self.received = dict.fromkeys(self._recent, 0)
        for key, kind, topic in (("rgb", Image, cfg.color_topic), ("depth", Image, cfg.depth_topic),
                                 ("info", CameraInfo, cfg.camera_info_topic)):
            self.create_subscription(kind, topic, lambda msg, key=key: self._on_image(key, msg),
                                     qos_profile_sensor_data)
        self._pub = self.create_publisher(ObjectStates, cfg.objects_topic, STATE_PUB_QOS)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.create_timer(1.0 / cfg.publish_rate, self._tick)
        self.published = 0
        self._stamp_msg = Time()

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        """Forget every object: the scene was changed while the camera could not see it (a new table, a reset
        simulation). The next frame names them afresh."""
        self.perception.reset()
        self.world = None
        response.success, response.message = True, "tracks forgotten"
        return response

    def _on_image(self, key: str, msg: Any) -> None:
        self._recent[key].append(msg)
        self.received[key] += 1

    def _frame(self) -> RGBDFrame | None:
        """The newest colour and depth of one stamp with the newest intrinsics, if not taken yet."""
        def stamp(msg: Any) -> tuple[int, int]:
            return msg.header.stamp.sec, msg.header.stamp.nanosec

        if not self._recent["info"]:
            return None
        info = self._recent["info"][-1]
        depths = {stamp(d): d for d in self._recent["depth"]}
        pairs = [(stamp(rgb), rgb, depths[stamp(rgb)]) for rgb in self._recent["rgb"] if stamp(rgb) in depths]
        if not pairs:
            return None
        when, rgb, depth = max(pairs, key=lambda pair: pair[0])
        if self._done_stamp is not None and when <= self._done_stamp:
            return None
        self._done_stamp = when
        pose = base_from_camera(list(self.config.camera_pose), self.config.scene, info.width, info.height)
        camera = messages.camera_model_from_info(info, pose)
        return RGBDFrame(messages.rgb_from_image(rgb), messages.depth_from_image(depth), camera,
                         stamp=when[0] + when[1] * 1e-9)

    def _tick(self) -> None:
        log, cfg = self.get_logger(), self.config
        try:
            frame = self._frame()
        except ValueError as err:  # an encoding or size this node cannot read: say so, keep serving
            log.warning(f"camera frame skipped: {err}", throttle_duration_sec=5.0)
            frame = None
        if frame is not None and self._done_stamp is not None:
            self.camera.show(frame)
            self._stamp_msg = Time(sec=self._done_stamp[0], nanosec=self._done_stamp[1])
        arm_age, camera = self.arm.state_age(), self.camera
        if camera.received is None or time.monotonic() - camera.received > cfg.camera_timeout:
            log.warning(f"no colour + depth pair on {cfg.color_topic} + {cfg.depth_topic} for {cfg.camera_timeout} s "
                        f"(received {self.received['rgb']} colour, {self.received['depth']} depth, "
                        f"{self.received['info']} camera info)", throttle_duration_sec=5.0)
            return
        if arm_age is None or arm_age > cfg.state_timeout or not camera.has_arm:
            log.warning(f"no joint states on {cfg.joint_states_topic}", throttle_duration_sec=5.0)
            return
        started = time.monotonic()
        try:
            if self.world is None:
                self.world = PerceivedWorld(camera, self.arm, self.perception, period=1.0 / cfg.rate)
            msg = messages.object_states(self.world, self._stamp_msg, cfg.frame_id)
        except HardwareTimeout as err:  # the joint states stopped between the check and the read
            log.warning(str(err), throttle_duration_sec=5.0)
            return
        self._pub.publish(msg)
        self.published += 1
        if self.published == 1:
            log.info(f"first objects: {len(msg.objects)} from {self.world.frames} frame(s), "
                     f"{1000 * (time.monotonic() - started):.0f} ms")


def main(args: list[str] | None = None) -> int:
    return spin_node(PerceptionNode, PerceptionNodeConfig, args=args)


if __name__ == "__main__":
    raise SystemExit(main())
