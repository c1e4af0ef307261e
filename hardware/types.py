"""Plain data types shared by every backend: poses, joint states and tracked objects."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def quaternion_yaw(orientation: np.ndarray) -> float:
    """Where a frame's x axis points about the vertical (radians), for a quaternion (x, y, z, w)."""
    x, y, z, w = (float(v) for v in orientation)
    return float(np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z)))


@dataclass(frozen=True)
class Pose:
    """A position in metres and an orientation quaternion (x, y, z, w), in the robot base frame."""

    position: np.ndarray
    orientation: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, 0.0, 1.0]))


@dataclass(frozen=True)
class JointState:
    names: tuple[str, ...]
    positions: np.ndarray
    velocities: np.ndarray


@dataclass(frozen=True)
class ObjectState:
    """What the stack knows about one object in the scene (ground truth in simulation).

    `half_extents` is half the axis-aligned bounding box in the base frame; `top_z` and
    `bottom_z` are its upper and lower faces.
    """

    name: str
    category: str
    position: np.ndarray
    orientation: np.ndarray
    half_extents: np.ndarray
    color: str | None = None
    size: str | None = None
    is_container: bool = False
    synonyms: tuple[str, ...] = ()
    #: articulated objects (drawers): how far open, 0 (closed) .. 1 (at the joint's limit); None otherwise
    opening: float | None = None
    #: named grasps (e.g. "handle") in the base frame as the object lies now: name -> [x, y, z, tool yaw]
    grasp_points: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def top_z(self) -> float:
        return float(self.position[2] + self.half_extents[2])

    @property
    def bottom_z(self) -> float:
        return float(self.position[2] - self.half_extents[2])

    def describe(self) -> str:
        words = [w for w in (self.size, self.color, self.category) if w]
        return " ".join(words)
