"""Conversions between ROS 2 messages and the hardware layer's own types (needs the message packages)."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Pose as PoseMsg
from geometry_msgs.msg import Vector3
from sensor_msgs.msg import CameraInfo, Image
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from hardware.arm import WorldView
from hardware.camera import CameraModel
from hardware.types import ObjectState


def trajectory(names: Sequence[str], positions: Sequence[float], seconds: float,
               stamp: Time | None = None) -> JointTrajectory:
    """A one-point trajectory: reach `positions` `seconds` after `stamp` (unstamped: after the controller
    receives it)."""
    msg = JointTrajectory()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.joint_names = list(names)
    point = JointTrajectoryPoint()
    point.positions = [float(p) for p in positions]
    whole = int(seconds)
    point.time_from_start = Duration(sec=whole, nanosec=int(round((seconds - whole) * 1e9)))
    msg.points = [point]
    return msg


def trajectory_target(msg: JointTrajectory) -> dict[str, float]:
    """The final point of a trajectory as {joint: position}. Raises ValueError if it is malformed."""
    if not msg.points:
        raise ValueError("trajectory has no points")
    positions = list(msg.points[-1].positions)
    if len(positions) != len(msg.joint_names):
        raise ValueError(f"trajectory names {len(msg.joint_names)} joints but its last point has "
                         f"{len(positions)} positions")
    if len(set(msg.joint_names)) != len(msg.joint_names):
        raise ValueError("trajectory names a joint twice")
    return dict(zip(msg.joint_names, positions))


def image_from_rgb(rgb: np.ndarray, frame_id: str) -> Image:
    msg = Image()
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = "rgb8"
    msg.step = msg.width * 3
    msg.data = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    return msg


def image_from_depth(depth: np.ndarray, frame_id: str, encoding: str = "32FC1") -> Image:
    """Depth in metres (NaN: no reading) as RGB-D drivers publish it registered to colour: 32FC1 metres, or
    16UC1 millimetres (0: no reading; half the bytes, what a RealSense sends)."""
    msg = Image()
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(depth.shape[0]), int(depth.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    if encoding == "32FC1":
        msg.step = msg.width * 4
        msg.data = np.ascontiguousarray(depth, dtype="<f4").tobytes()
    elif encoding == "16UC1":
        millimetres = np.rint(np.nan_to_num(depth, nan=0.0) * 1000.0)
        msg.step = msg.width * 2
        msg.data = np.where((millimetres > 0) & (millimetres <= 65535), millimetres, 0).astype("<u2").tobytes()
    else:
        raise ValueError(f"unsupported depth encoding {encoding!r} (32FC1 or 16UC1)")
    return msg


def depth_from_image(msg: Image) -> np.ndarray:
    """Metres (float32, NaN: no reading) from 32FC1, or 16UC1 millimetres (0: no reading), as drivers send."""
    if msg.encoding == "32FC1":
        rows = np.frombuffer(bytes(msg.data), dtype=">f4" if msg.is_bigendian else "<f4")
        return rows.reshape(msg.height, msg.step // 4)[:, : msg.width].astype(np.float32)
    if msg.encoding == "16UC1":
        rows = np.frombuffer(bytes(msg.data), dtype=">u2" if msg.is_bigendian else "<u2")
        millimetres = rows.reshape(msg.height, msg.step // 2)[:, : msg.width].astype(np.float32)
        return np.where(millimetres > 0, millimetres / 1000.0, np.nan).astype(np.float32)
    raise ValueError(f"unsupported depth encoding {msg.encoding!r} (need 32FC1 or 16UC1)")


def camera_info(camera: CameraModel, frame_id: str) -> CameraInfo:
    """The camera's intrinsics (no distortion: the image is rectified) as sensor_msgs/CameraInfo."""
    msg = CameraInfo()
    msg.header.frame_id = frame_id
    msg.height, msg.width = camera.height, camera.width
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = [float(v) for v in camera.K.ravel()]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [camera.fx, 0.0, camera.cx, 0.0, 0.0, camera.fy, camera.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def camera_model_from_info(msg: CameraInfo, base_from_camera: np.ndarray) -> CameraModel:
    """A pinhole model from CameraInfo (its rectified K) and the extrinsic from calibration."""
    k = np.asarray(msg.k, float).reshape(3, 3)
    return CameraModel(int(msg.width), int(msg.height), k[0, 0], k[1, 1], k[0, 2], k[1, 2], base_from_camera)


def rgb_from_image(msg: Image) -> np.ndarray:
    if msg.encoding not in ("rgb8", "bgr8"):
        raise ValueError(f"unsupported image encoding {msg.encoding!r} (need rgb8 or bgr8)")
    rows = np.frombuffer(bytes(msg.data), dtype=np.uint8).reshape(msg.height, msg.step)
    img = rows[:, : msg.width * 3].reshape(msg.height, msg.width, 3)
    return img[:, :, ::-1].copy() if msg.encoding == "bgr8" else img.copy()


def object_states(world: WorldView, stamp: Time, frame_id: str):
    """A skill_stack_interfaces/ObjectStates of every object in `world`, with what each touches (each other,
    the table, the gripper) and whether it is grasped: the same facts from the simulator or from perception."""
    from skill_stack_interfaces.msg import ObjectStates

    objects, touching = world.objects(), world.touching()
    names = list(objects)
    msg = ObjectStates()
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    msg.objects = [object_to_msg(objects[n], touching[n], world.is_grasped(n)) for n in names]
    return msg


def object_to_msg(obj: ObjectState, touching: Sequence[str], grasped: bool):
    from skill_stack_interfaces.msg import ObjectState as ObjectStateMsg

    msg = ObjectStateMsg()
    msg.name, msg.category = obj.name, obj.category
    msg.color, msg.size = obj.color or "", obj.size or ""
    msg.is_container, msg.synonyms = bool(obj.is_container), list(obj.synonyms)
    pose = PoseMsg()
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in obj.position)
    pose.orientation.x, pose.orientation.y, pose.orientation.z, pose.orientation.w = (
        float(v) for v in obj.orientation)
    msg.pose = pose
    msg.half_extents = Vector3(x=float(obj.half_extents[0]), y=float(obj.half_extents[1]),
                               z=float(obj.half_extents[2]))
    msg.touching, msg.grasped = list(touching), bool(grasped)
    msg.opening = float("nan") if obj.opening is None else float(obj.opening)
    msg.grasp_point_names = list(obj.grasp_points)
    msg.grasp_points = [float(v) for point in obj.grasp_points.values() for v in point]
    return msg


def object_from_msg(msg) -> ObjectState:
    p, o, h = msg.pose.position, msg.pose.orientation, msg.half_extents
    return ObjectState(
        name=msg.name, category=msg.category, position=np.array([p.x, p.y, p.z]),
        orientation=np.array([o.x, o.y, o.z, o.w]), half_extents=np.array([h.x, h.y, h.z]),
        color=msg.color or None, size=msg.size or None, is_container=msg.is_container,
        synonyms=tuple(msg.synonyms), opening=None if math.isnan(msg.opening) else float(msg.opening),
        grasp_points={name: np.array(msg.grasp_points[4 * i:4 * i + 4], dtype=float)
                      for i, name in enumerate(msg.grasp_point_names)})


def joint_positions(names: Sequence[str], positions: Sequence[float]) -> Mapping[str, float]:
    return dict(zip(names, (float(p) for p in positions)))
