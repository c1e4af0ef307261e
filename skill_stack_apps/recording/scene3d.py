"""What Foxglove's 3D panel draws from a recording: `tf` (the arm's links, each object), `tf_static`, `markers`.

A ROS 2 robot's robot_state_publisher sends the arm's link frames on /tf from its joint states; the recorder
does the same from the joint states it writes (hardware.urdf_frames, from the robot's URDF), in-process and
from a ROS graph alike, so both recordings have one layout:
- `tf` (tf2_msgs/TFMessage): with every joint state, each moving joint's transform (parent link -> child link),
  stamped with the joint state's stamp; with every object state, `base_link` -> one frame per object, named
  as the object, at the centre of its bounding box, turned as the object is.
- `tf_static` (tf2_msgs/TFMessage, every static transform in each message, as tf2's static broadcaster sends
  them): `base_link` -> the URDF's root link (the arm stands at the origin), the URDF's fixed joints, and
  `base_link` -> the camera's optical frame where the camera's pose is known (in-process).
- `markers` (visualization_msgs/MarkerArray), with every object state: each object as the axis-aligned box the
  stack reasons with (ObjectState.half_extents), in its scene colour (containers see-through), its name above
  it, and the arm as lines from each link's origin to its children's (frame-locked: they follow /tf). Each
  message starts with DELETEALL, so objects gone from the scene disappear.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hardware.robots import RobotConfig
from hardware.scene import COLORS_RGBA
from hardware.types import ObjectState
from hardware.urdf_frames import UrdfFrames, matrix_from_quaternion, quaternion_from_matrix

if TYPE_CHECKING:
    from skill_stack_apps.recording.writer import Recorder

TF = ("tf", "tf2_msgs/msg/TFMessage")
TF_STATIC = ("tf_static", "tf2_msgs/msg/TFMessage")
MARKERS = ("markers", "visualization_msgs/msg/MarkerArray")
BASE_FRAME = "base_link"
#: visualization_msgs/Marker types and actions
CUBE, LINE_LIST, TEXT_VIEW_FACING, DELETEALL = 1, 5, 9, 3
#: an object without a scene colour (perceived, or none given)
GREY = (0.6, 0.6, 0.6, 1.0)
#: containers are drawn see-through: what is inside them stays visible
CONTAINER_ALPHA = 0.35
ARM_COLOUR = {"r": 0.2, "g": 0.2, "b": 0.2, "a": 1.0}
LABEL_HEIGHT_M = 0.02


def stamp(ns: int) -> dict[str, int]:
    return {"sec": ns // 1_000_000_000, "nanosec": ns % 1_000_000_000}


def transform_message(stamp_ns: int, parent: str, child: str, matrix: np.ndarray) -> dict[str, Any]:
    """geometry_msgs/TransformStamped of parent <- child (4x4)."""
    q = quaternion_from_matrix(matrix[:3, :3])
    return {"header": {"stamp": stamp(stamp_ns), "frame_id": parent}, "child_frame_id": child,
            "transform": {"translation": dict(zip("xyz", map(float, matrix[:3, 3]))),
                          "rotation": dict(zip("xyzw", map(float, q)))}}


def object_matrix(obj: ObjectState) -> np.ndarray:
    """base_link <- the object's frame (its bounding box's centre, its own orientation)."""
    matrix = np.eye(4)
    matrix[:3, :3], matrix[:3, 3] = matrix_from_quaternion(np.asarray(obj.orientation, float)), obj.position
    return matrix


class SceneFrames:
    """Writes `tf`, `tf_static` and `markers` into `recorder` (see the module docstring). Without a robot
    description only the objects' frames and boxes are written."""

    def __init__(self, recorder: Recorder, robot: RobotConfig | None) -> None:
        self.recorder = recorder
        self.urdf = UrdfFrames.for_robot(robot) if robot is not None else None
        #: child frame -> (parent, 4x4) of every static transform sent so far
        self.static: dict[str, tuple[str, np.ndarray]] = {}
        if self.urdf is not None:
            if self.urdf.root != BASE_FRAME:
                self.static[self.urdf.root] = (BASE_FRAME, np.eye(4))
            self.static.update({child: (parent, matrix) for parent, child, matrix in self.urdf.fixed()})
        self._static_sent = False

    def _send_static(self, log_ns: int) -> None:
        transforms = [transform_message(log_ns, parent, child, matrix)
                      for child, (parent, matrix) in self.static.items()]
        self.recorder.write_at(TF_STATIC[0], TF_STATIC[1], log_ns, {"transforms": transforms})
        self._static_sent = True

    def arm(self, log_ns: int, stamp_ns: int, names: Sequence[str], positions: Sequence[float]) -> None:
        """/tf of the arm's moving joints for one joint state (and /tf_static before the first)."""
        if not self._static_sent and self.static:
            self._send_static(log_ns)
        if self.urdf is None:
            return
        moving = self.urdf.moving(dict(zip(names, map(float, positions))))
        if moving:
            self.recorder.write_at(TF[0], TF[1], log_ns, {"transforms": [
                transform_message(stamp_ns, parent, child, matrix) for parent, child, matrix in moving]})

    def camera(self, log_ns: int, frame_id: str, base_from_camera: np.ndarray) -> None:
        """base_link -> the camera's optical frame, on /tf_static (again, with the rest) when it is new or moved."""
        known = self.static.get(frame_id)
        if known is None or not np.allclose(known[1], base_from_camera):
            self.static[frame_id] = (BASE_FRAME, np.asarray(base_from_camera, float))
            self._send_static(log_ns)

    def objects(self, log_ns: int, stamp_ns: int, objects: Mapping[str, ObjectState]) -> None:
        """/tf of every object's frame and /markers of the objects and the arm, for one object state."""
        if objects:
            self.recorder.write_at(TF[0], TF[1], log_ns, {"transforms": [
                transform_message(stamp_ns, BASE_FRAME, name, object_matrix(obj)) for name, obj in objects.items()]})
        header = {"stamp": stamp(stamp_ns), "frame_id": BASE_FRAME}
        markers: list[dict[str, Any]] = [{"header": header, "action": DELETEALL}]
        for index, (name, obj) in enumerate(sorted(objects.items())):
            markers += self._object_markers(header, index, name, obj)
        markers += self._arm_markers(stamp_ns)
        self.recorder.write_at(MARKERS[0], MARKERS[1], log_ns, {"markers": markers})

    @staticmethod
    def _object_markers(header: dict[str, Any], index: int, name: str, obj: ObjectState) -> list[dict[str, Any]]:
        r, g, b, a = COLORS_RGBA.get(obj.color or "", GREY)
        size = 2.0 * np.asarray(obj.half_extents, float)
        centre = dict(zip("xyz", map(float, obj.position)))
        box = {"header": header, "ns": "objects", "id": index, "type": CUBE, "pose": {
                   "position": centre, "orientation": {"w": 1.0}},  # the box is axis-aligned in base_link
               "scale": dict(zip("xyz", map(float, size))),
               "color": {"r": r, "g": g, "b": b, "a": CONTAINER_ALPHA if obj.is_container else a}}
        label = {"header": header, "ns": "object_names", "id": index, "type": TEXT_VIEW_FACING, "text": name,
                 "pose": {"position": {**centre, "z": centre["z"] + float(size[2]) / 2 + LABEL_HEIGHT_M},
                          "orientation": {"w": 1.0}},
                 "scale": {"z": LABEL_HEIGHT_M}, "color": {"r": 1.0, "g": 1.0, "b": 1.0, "a": 1.0}}
        return [box, label]

    def _arm_markers(self, stamp_ns: int) -> list[dict[str, Any]]:
        """One LINE_LIST per link with children: from its origin to each child link's origin at position 0
        (a joint moves the child about or along an axis through that point, never the point itself)."""
        if self.urdf is None:
            return []
        segments: dict[str, list[dict[str, float]]] = {}
        for joint in self.urdf.joints:
            offset = joint.origin[:3, 3]
            if np.linalg.norm(offset) > 1e-6:
                segments.setdefault(joint.parent, []).extend(
                    [{"x": 0.0, "y": 0.0, "z": 0.0}, dict(zip("xyz", map(float, offset)))])
        return [{"header": {"stamp": stamp(stamp_ns), "frame_id": link}, "ns": "arm", "id": index,
                 "type": LINE_LIST, "pose": {"orientation": {"w": 1.0}}, "scale": {"x": 0.01},
                 "color": ARM_COLOUR, "frame_locked": True, "points": points}
                for index, (link, points) in enumerate(sorted(segments.items()))]
