"""The arm interface every backend implements, and the world view that reports objects.

Skills and planners talk only to these two protocols, so they cannot tell a simulated arm from a
real one. Every command goes through the backend's SafetyFilter; there is no unfiltered path.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from hardware.types import JointState, ObjectState, Pose


class ArmInterface(ABC):
    """A position-controlled arm with a parallel gripper and an RGB camera."""

    #: seconds of robot time per control step (one call to `step`)
    control_dt: float
    #: widest finger opening in metres
    gripper_max_width: float

    @abstractmethod
    def joint_state(self) -> JointState: ...

    @abstractmethod
    def ee_pose(self) -> Pose:
        """Pose of the tool centre point (between the fingertips)."""

    @abstractmethod
    def command_joints(self, positions: Sequence[float]) -> np.ndarray:
        """Set a joint position target; returns the target actually applied after safety."""

    @abstractmethod
    def command_ee(self, position: Sequence[float], orientation: Sequence[float] | None = None) -> np.ndarray:
        """Set a Cartesian target for the tool centre point (IK); returns the applied joint target."""

    @abstractmethod
    def tool_down(self, yaw: float = 0.0) -> np.ndarray:
        """Quaternion (x, y, z, w) with the tool pointing down, rotated by `yaw` about z."""

    @abstractmethod
    def command_gripper(self, width: float) -> float:
        """Set the finger opening in metres (0 = closed); returns the applied width."""

    @abstractmethod
    def gripper_width(self) -> float: ...

    @abstractmethod
    def camera_rgb(self, width: int = 320, height: int = 240) -> np.ndarray:
        """An HxWx3 uint8 image from the scene camera."""

    @abstractmethod
    def step(self) -> None:
        """Advance one control period (simulation: physics substeps; real arm: wait for the rate)."""

    @abstractmethod
    def estop(self) -> None:
        """Stop the arm now and refuse further motion until `reset_estop`."""

    @abstractmethod
    def reset_estop(self) -> None: ...

    @property
    @abstractmethod
    def estopped(self) -> bool: ...

    def close(self) -> None:
        """Release the backend's resources."""


class WorldView(ABC):
    """Where objects are. Ground truth in simulation; perception on a real robot."""

    @abstractmethod
    def objects(self) -> dict[str, ObjectState]: ...

    def object(self, name: str) -> ObjectState:
        objs = self.objects()
        if name not in objs:
            raise KeyError(f"no object named {name!r} in the scene; known: {', '.join(sorted(objs))}")
        return objs[name]

    @abstractmethod
    def contacts(self, a: str, b: str) -> bool:
        """True if objects (or 'gripper'/'table') `a` and `b` touch."""

    def object_pixels(self, name: str) -> np.ndarray | None:
        """The RGB pixels (N x 3, uint8) where the camera sees `name`, for visual descriptors; None
        when this world cannot segment its camera image (the default: e.g. object states over ROS)."""
        return None
