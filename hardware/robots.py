"""Robot descriptions (config/robots/*.yaml), shared by every backend: which URDF, joints and tool link."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from hardware.resources import resolve_config


@dataclass(frozen=True)
class RobotConfig:
    """One arm: its URDF in pybullet_data and which joints and link matter (config/robots/*.yaml)."""

    name: str
    urdf: str
    arm_joints: tuple[str, ...]
    finger_joints: tuple[str, ...]
    tcp_link: str
    home: tuple[float, ...]
    max_joint_force: float = 87.0
    max_finger_force: float = 40.0
    gripper_max_width: float = 0.08
    tool_down_rpy: tuple[float, float, float] = (3.14159265, 0.0, 0.0)


def load_robot(name_or_path: str | Path) -> RobotConfig:
    """A robot by name (config/robots/<name>.yaml) or from a YAML file."""
    file = resolve_config(name_or_path, "robots")
    raw = yaml.safe_load(file.read_text())
    return RobotConfig(
        name=raw["name"], urdf=raw["urdf"], arm_joints=tuple(raw["arm_joints"]),
        finger_joints=tuple(raw.get("finger_joints", ())), tcp_link=raw["tcp_link"],
        home=tuple(raw["home"]), max_joint_force=float(raw.get("max_joint_force", 87.0)),
        max_finger_force=float(raw.get("max_finger_force", 40.0)),
        gripper_max_width=float(raw.get("gripper_max_width", 0.08)),
        tool_down_rpy=tuple(raw.get("tool_down_rpy", (3.14159265, 0.0, 0.0))),
    )
