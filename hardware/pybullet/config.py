"""Dataclass config of the PyBullet backend (robot descriptions: hardware.robots)."""
from __future__ import annotations

from dataclasses import dataclass, field

from hardware.safety import SafetyConfig


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
