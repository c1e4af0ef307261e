"""Perception node: colour + depth + CameraInfo in, ObjectStates out (hardware.perception on ROS).

It pairs the newest colour and depth images with the same stamp, perceives them with the camera's intrinsics
(CameraInfo) and extrinsic (a parameter, as calibration gives it), and publishes every object seen or held,
named after the scene's descriptions, at most `rate` times a second. Contacts are not perceived: `touching` and
`grasped` stay empty. Parameters: hardware.perception.node_config.PerceptionNodeConfig.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from hardware.camera import CameraModel, RGBDFrame
from hardware.perception.node_config import PerceptionNodeConfig
from hardware.perception.tracker import Perception
from hardware.ros import messages
from hardware.ros.common import STATE_PUB_QOS, declare_config, spin_node
from hardware.scene import load_scene


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


class PerceptionNode(Node):
    def __init__(self, node_name: str = "perception", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        from skill_stack_interfaces.msg import ObjectStates

        self.config = cfg = declare_config(self, PerceptionNodeConfig)
        if cfg.rate <= 0:
            raise ValueError(f"rate must be positive, got {cfg.rate}")
        base_from_camera(list(cfg.camera_pose), cfg.scene, 2, 2)  # a bad pose or scene fails now, not per frame
        self.perception = Perception(cfg.scene)
        self._objects_type = ObjectStates
        self._latest: dict[str, Any] = {}
        self._done_stamp: tuple[int, int] | None = None
        for key, kind, topic in (("rgb", Image, cfg.color_topic), ("depth", Image, cfg.depth_topic),
                                 ("info", CameraInfo, cfg.camera_info_topic)):
            self.create_subscription(kind, topic, lambda msg, key=key: self._latest.__setitem__(key, msg),
                                     qos_profile_sensor_data)
        self._pub = self.create_publisher(ObjectStates, cfg.objects_topic, STATE_PUB_QOS)
        self.create_timer(1.0 / cfg.rate, self._tick)
        self.frames = 0

    def _frame(self) -> RGBDFrame | None:
        """The newest colour and depth of one stamp with their intrinsics, if not perceived yet."""
        rgb, depth, info = (self._latest.get(k) for k in ("rgb", "depth", "info"))
        if rgb is None or depth is None or info is None:
            return None
        stamp = (rgb.header.stamp.sec, rgb.header.stamp.nanosec)
        if stamp != (depth.header.stamp.sec, depth.header.stamp.nanosec) or stamp == self._done_stamp:
            return None
        self._done_stamp = stamp
        pose = base_from_camera(list(self.config.camera_pose), self.config.scene, info.width, info.height)
        camera = messages.camera_model_from_info(info, pose)
        return RGBDFrame(messages.rgb_from_image(rgb), messages.depth_from_image(depth), camera,
                         stamp=stamp[0] + stamp[1] * 1e-9)

    def _tick(self) -> None:
        try:
            frame = self._frame()
        except ValueError as err:  # an encoding or size this node cannot read: say so, keep serving
            self.get_logger().warning(f"camera frame skipped: {err}", throttle_duration_sec=5.0)
            return
        if frame is None:
            return
        started = time.monotonic()
        result = self.perception.update(frame)
        msg = self._objects_type()
        msg.header.stamp = self._latest["rgb"].header.stamp
        msg.header.frame_id = self.config.frame_id
        msg.objects = [messages.object_to_msg(state, [], False) for state in result.objects.values()]
        self._pub.publish(msg)
        self.frames += 1
        if self.frames == 1:
            self.get_logger().info(f"first frame: {len(result.detections)} objects seen, "
                                   f"{len(result.unmatched)} unmatched, {1000 * (time.monotonic() - started):.0f} ms")


def main(args: list[str] | None = None) -> int:
    return spin_node(PerceptionNode, PerceptionNodeConfig, args=args)


if __name__ == "__main__":
    raise SystemExit(main())
