"""Robot descriptions (config/robots/*.yaml), shared by every backend: which URDF, joints and tool link.

Two things a URDF may not say the way the stack needs them are described here once, so that every backend
(PyBullet, ROS 2 with hardware/kinematics.py) reads them alike:
- where the tool centre point is, when the URDF has no link between the fingertips (`tcp_offset`);
- how finger joint positions map to an opening width, for a linkage gripper whose joints are angles
  (`gripper_width_map`); prismatic fingers need no map.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import yaml

from hardware.resources import resolve_config


def _rotate(quaternion: npt.ArrayLike, vector: npt.ArrayLike) -> np.ndarray:
    """`vector` rotated by the quaternion (x, y, z, w), normalised here."""
    x, y, z, w = np.asarray(quaternion, float) / np.linalg.norm(quaternion)
    u, v = np.array([x, y, z]), np.asarray(vector, float)
    return v + 2.0 * np.cross(u, np.cross(u, v) + w * v)


@dataclass(frozen=True)
class RobotConfig:
    """One arm: its URDF in pybullet_data and which joints and link matter (config/robots/*.yaml)."""

    name: str
    urdf: str
    arm_joints: tuple[str, ...]
    #: every joint of the gripper; for a linkage (gripper_width_map) the first is the drive and the rest follow it
    finger_joints: tuple[str, ...]
    tcp_link: str
    home: tuple[float, ...]
    max_joint_force: float = 87.0
    #: per finger motor: N for prismatic fingers, N m for a linkage's drive
    max_finger_force: float = 40.0
    gripper_max_width: float = 0.08
    tool_down_rpy: tuple[float, float, float] = (3.14159265, 0.0, 0.0)
    #: tool centre point in `tcp_link`'s frame, metres; (0, 0, 0) when `tcp_link` itself is between the fingertips
    tcp_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    #: links that touch a grasped object, one per side; empty: the finger joints' own links
    finger_links: tuple[str, ...] = ()
    #: (joint position, opening width in metres) samples, for a linkage gripper whose finger joints all take the
    #: same position (the URDF's mimic joints, multiplier 1). Empty: prismatic fingers, each at width / count.
    gripper_width_map: tuple[tuple[float, float], ...] = ()

    def finger_targets(self, width: float) -> list[float]:
        """Finger joint positions that open the gripper to `width` metres (clamped to what the map covers)."""
        n = len(self.finger_joints)
        if not self.gripper_width_map:
            return [width / n] * n
        positions, widths = self._samples(by_width=True)
        return [float(np.interp(width, widths, positions))] * n

    def width_of(self, finger_positions: Sequence[float]) -> float:
        """Opening width in metres from finger joint positions (a linkage gripper: from its drive, the first)."""
        if not self.gripper_width_map:
            return float(sum(finger_positions))
        if not len(finger_positions):
            return 0.0
        positions, widths = self._samples(by_width=False)
        return float(np.interp(finger_positions[0], positions, widths))

    def _samples(self, by_width: bool) -> tuple[np.ndarray, np.ndarray]:
        """The map's joint positions and widths, sorted by width or by position (np.interp wants increasing x)."""
        samples = np.array(self.gripper_width_map, float)
        samples = samples[np.argsort(samples[:, 1] if by_width else samples[:, 0])]
        return samples[:, 0], samples[:, 1]

    def tcp_from_link(self, position: npt.ArrayLike, orientation: npt.ArrayLike) -> np.ndarray:
        """The tool centre point, given the pose of `tcp_link`."""
        if not any(self.tcp_offset):  # no arithmetic at all: bit-identical poses for arms without an offset
            return np.array(position, float)  # a copy: callers may change what they get
        return np.asarray(position, float) + _rotate(orientation, self.tcp_offset)

    def link_from_tcp(self, position: npt.ArrayLike, orientation: npt.ArrayLike) -> np.ndarray:
        """Where `tcp_link` must be for the tool centre point to be at `position` with `orientation` (for IK)."""
        if not any(self.tcp_offset):
            return np.array(position, float)
        return np.asarray(position, float) - _rotate(orientation, self.tcp_offset)


def _xyz(value: object, file: Path) -> tuple[float, float, float]:
    """Three finite numbers (a tcp offset), or a ValueError that names the file."""
    try:
        x, y, z = (float(v) for v in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError) as err:
        raise ValueError(f"{file}: tcp_offset must be three numbers (x, y, z in metres)") from err
    if not np.all(np.isfinite((x, y, z))):
        raise ValueError(f"{file}: tcp_offset must be finite")
    return x, y, z


def _validated(config: RobotConfig, file: Path) -> RobotConfig:
    """Refuse a gripper map the backends would misread (not one-to-one, or short of the widest opening)."""
    if config.gripper_width_map:
        samples = np.array(config.gripper_width_map, float)
        if samples.ndim != 2 or samples.shape[1] != 2 or len(samples) < 2:
            raise ValueError(f"{file}: gripper_width_map must be at least two [joint position, width] pairs")
        steps = np.diff(samples[np.argsort(samples[:, 0]), 1])
        if not (np.all(steps > 0) or np.all(steps < 0)):
            raise ValueError(f"{file}: gripper_width_map must be monotonic (one joint position per width)")
        if samples[:, 1].max() < config.gripper_max_width - 1e-6:
            raise ValueError(f"{file}: gripper_width_map does not reach gripper_max_width")
    return config


def load_robot(name_or_path: str | Path) -> RobotConfig:
    """A robot by name (config/robots/<name>.yaml) or from a YAML file."""
    file = resolve_config(name_or_path, "robots")
    raw = yaml.safe_load(file.read_text())
    return _validated(RobotConfig(
        name=raw["name"], urdf=raw["urdf"], arm_joints=tuple(raw["arm_joints"]),
        finger_joints=tuple(raw.get("finger_joints", ())), tcp_link=raw["tcp_link"],
        home=tuple(raw["home"]), max_joint_force=float(raw.get("max_joint_force", 87.0)),
        max_finger_force=float(raw.get("max_finger_force", 40.0)),
        gripper_max_width=float(raw.get("gripper_max_width", 0.08)),
        tool_down_rpy=tuple(raw.get("tool_down_rpy", (3.14159265, 0.0, 0.0))),
        tcp_offset=_xyz(raw.get("tcp_offset", (0.0, 0.0, 0.0)), file),
        finger_links=tuple(raw.get("finger_links", ())),
        gripper_width_map=tuple((float(q), float(w)) for q, w in raw.get("gripper_width_map", ())),
    ), file)
