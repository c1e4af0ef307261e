"""Hardware layer: one arm interface, a safety filter every command passes, and backends."""
from hardware.arm import ArmInterface, WorldView
from hardware.safety import EStopActive, SafetyConfig, SafetyError, SafetyFilter, Watchdog
from hardware.scene import SceneError, SceneSpec, load_scene
from hardware.types import JointState, ObjectState, Pose

__all__ = ["ArmInterface", "WorldView", "EStopActive", "SafetyConfig", "SafetyError", "SafetyFilter",
           "Watchdog", "SceneError", "SceneSpec", "load_scene", "JointState", "ObjectState", "Pose"]
