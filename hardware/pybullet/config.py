"""Dataclass configs of the PyBullet backend and of the robots it can load."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hardware.resources import resolve_config
from hardware.safety import SafetyConfig


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


@dataclass
class PyBulletConfig:
    """How to run the simulation. Defaults: headless, 240 Hz physics, 20 Hz control."""

    robot: str = "panda"
    scene: str = "default"
    seed: int = 0
    gui: bool = False
    physics_hz: int = 240
    control_hz: int = 20
    camera_width: int = 320
    camera_height: int = 240
    #: overrides of the default safety limits (joint limits always come from the URDF)
    safety: dict = field(default_factory=dict)

    def safety_config(self, lower, upper, gripper_max_width: float) -> SafetyConfig:
        return SafetyConfig(joint_lower=lower, joint_upper=upper,
                            gripper_max_width=gripper_max_width, **self.safety)
