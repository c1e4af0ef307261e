"""The link frames of a robot from its URDF and joint positions, as ROS 2's robot_state_publisher computes them.

Plain Python and numpy (no PyBullet, no ROS): recordings draw the arm in Foxglove's 3D panel with these frames,
in-process and from a ROS graph's joint states alike. Each joint gives one transform, parent link -> child
link: fixed joints once (tf_static), moving joints from their positions (tf); a joint without a position that
mimics another (the xArm's gripper linkage) follows it, and one without either is left out with the links below
it, as robot_state_publisher does.

    frames = UrdfFrames.for_robot(load_robot("panda"))
    frames.fixed()                                  # [(parent, child, 4x4), ...] for fixed joints
    frames.moving({"panda_joint1": 0.3, ...})       # [(parent, child, 4x4), ...] for joints with a position
    frames.link_poses({...})["panda_hand"]          # 4x4: the link in the root link's frame
"""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hardware.robots import RobotConfig

#: joint types and how they move: about the axis (angle) or along it (metres); fixed ones do not
ROTATING = ("revolute", "continuous")
SLIDING = ("prismatic",)
FIXED = ("fixed",)

Transform = tuple[str, str, np.ndarray]


def rotation_from_rpy(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """URDF's fixed-axis roll, pitch, yaw: R = Rz(yaw) Ry(pitch) Rx(roll)."""
    cr, sr, cp, sp, cy, sy = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    return np.array([[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                     [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                     [-sp, cp * sr, cp * cr]])


def rotation_about(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues: the rotation by `angle` about the unit vector `axis`."""
    x, y, z = axis
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + np.sin(angle) * k + (1.0 - np.cos(angle)) * (k @ k)


def quaternion_from_matrix(rotation: np.ndarray) -> np.ndarray:
    """(x, y, z, w) of a rotation matrix, w >= 0 (Shepperd's method: stable for every rotation)."""
    m = rotation
    trace = m[0, 0] + m[1, 1] + m[2, 2]
    if trace > 0:
        s = 2.0 * np.sqrt(trace + 1.0)
        q = np.array([(m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s, 0.25 * s])
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = np.array([0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s, (m[2, 1] - m[1, 2]) / s])
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = np.array([(m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s, (m[0, 2] - m[2, 0]) / s])
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = np.array([(m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s, (m[1, 0] - m[0, 1]) / s])
    q = q / np.linalg.norm(q)
    return -q if q[3] < 0 else q


def matrix_from_quaternion(quaternion: np.ndarray) -> np.ndarray:
    """The rotation matrix of (x, y, z, w), normalised here."""
    x, y, z, w = np.asarray(quaternion, float) / np.linalg.norm(quaternion)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def _numbers(text: str | None, default: tuple[float, float, float]) -> np.ndarray:
    return np.array([float(v) for v in text.split()]) if text else np.array(default, float)


def _link(joint: ElementTree.Element, tag: str, urdf: str | Path) -> str:
    """The link a joint's <parent> or <child> names."""
    found = joint.find(tag)
    if found is None or not found.get("link"):
        raise ValueError(f"{urdf}: joint {joint.get('name')!r} has no <{tag} link=...>")
    return str(found.get("link"))


@dataclass(frozen=True)
class UrdfJoint:
    """One joint: where its child link sits in its parent link's frame at position 0, and how it moves."""

    name: str
    kind: str
    parent: str
    child: str
    #: parent link -> joint frame at position 0 (the URDF's <origin>), 4x4
    origin: np.ndarray
    axis: np.ndarray
    #: (joint, multiplier, offset) of a <mimic> joint: position = multiplier * that joint's + offset
    mimic: tuple[str, float, float] | None = None

    def transform(self, position: float) -> np.ndarray:
        """parent link -> child link at `position` (radians or metres; ignored for a fixed joint)."""
        motion = np.eye(4)
        if self.kind in ROTATING:
            motion[:3, :3] = rotation_about(self.axis, position)
        elif self.kind in SLIDING:
            motion[:3, 3] = self.axis * position
        return self.origin @ motion


class UrdfFrames:
    """The joint tree of one URDF; see the module docstring."""

    def __init__(self, urdf: str | Path) -> None:
        root = ElementTree.parse(str(urdf)).getroot()
        joints = []
        for element in root.findall("joint"):  # direct children: <transmission> names joints too
            kind = element.get("type", "")
            if kind not in (*ROTATING, *SLIDING, *FIXED):
                raise ValueError(f"{urdf}: joint {element.get('name')!r} is {kind!r}; only revolute, continuous, "
                                 f"prismatic and fixed joints are supported")
            origin_element = element.find("origin")
            xyz = _numbers(origin_element.get("xyz") if origin_element is not None else None, (0.0, 0.0, 0.0))
            rpy = _numbers(origin_element.get("rpy") if origin_element is not None else None, (0.0, 0.0, 0.0))
            origin = np.eye(4)
            origin[:3, :3], origin[:3, 3] = rotation_from_rpy(*rpy), xyz
            axis_element = element.find("axis")
            axis = _numbers(axis_element.get("xyz") if axis_element is not None else None, (1.0, 0.0, 0.0))
            if kind not in FIXED:
                axis = axis / np.linalg.norm(axis)
            mimic_element = element.find("mimic")
            mimic = None if mimic_element is None else (
                str(mimic_element.get("joint")), float(mimic_element.get("multiplier", 1.0)),
                float(mimic_element.get("offset", 0.0)))
            joints.append(UrdfJoint(str(element.get("name")), kind, _link(element, "parent", urdf),
                                    _link(element, "child", urdf), origin, axis, mimic))
        self.joints: tuple[UrdfJoint, ...] = tuple(joints)
        links = [str(link.get("name")) for link in root.findall("link")]
        children = {j.child for j in self.joints}
        roots = [name for name in links if name not in children]
        if len(roots) != 1:
            raise ValueError(f"{urdf}: a URDF has one root link; found {roots}")
        #: the link every other hangs from (the frame the arm is placed by)
        self.root: str = roots[0]
        self.links: tuple[str, ...] = tuple(links)

    @classmethod
    def for_robot(cls, robot: RobotConfig) -> UrdfFrames:
        """The robot's URDF, from pybullet_data as every backend loads it (a data package: no PyBullet import)."""
        import pybullet_data
        path = Path(robot.urdf)
        return cls(path if path.is_absolute() else Path(pybullet_data.getDataPath()) / path)

    def _position(self, joint: UrdfJoint, positions: Mapping[str, float]) -> float | None:
        if joint.name in positions:
            return float(positions[joint.name])
        if joint.mimic is not None and joint.mimic[0] in positions:
            source, multiplier, offset = joint.mimic
            return multiplier * float(positions[source]) + offset
        return None

    def fixed(self) -> list[Transform]:
        """(parent, child, parent <- child) of every fixed joint: they never change."""
        return [(j.parent, j.child, j.origin.copy()) for j in self.joints if j.kind in FIXED]

    def moving(self, positions: Mapping[str, float]) -> list[Transform]:
        """(parent, child, parent <- child) of every moving joint that has a position in `positions` (by joint
        name) or mimics one that has."""
        found = []
        for joint in self.joints:
            if joint.kind not in FIXED and (position := self._position(joint, positions)) is not None:
                found.append((joint.parent, joint.child, joint.transform(position)))
        return found

    def link_poses(self, positions: Mapping[str, float]) -> dict[str, np.ndarray]:
        """Every link reachable through joints with positions, as root <- link (4x4)."""
        by_child = {child: (parent, transform) for parent, child, transform in [*self.fixed(),
                                                                               *self.moving(positions)]}
        poses: dict[str, np.ndarray] = {self.root: np.eye(4)}

        def pose(link: str) -> np.ndarray | None:
            if link not in poses:
                if link not in by_child:
                    return None
                parent, transform = by_child[link]
                above = pose(parent)
                if above is None:
                    return None
                poses[link] = above @ transform
            return poses[link]

        for link in self.links:
            pose(link)
        return poses
