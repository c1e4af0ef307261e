"""The arm interface every backend implements, and the world view that reports objects.

Skills and planners talk only to these two protocols, so they cannot tell a simulated arm from a
real one. Every command goes through the backend's SafetyFilter; there is no unfiltered path.
What a backend may leave out is declared here with its default, so callers use it without probing.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import numpy.typing as npt

from hardware.robots import RobotConfig
from hardware.types import JointState, ObjectState, Pose

#: a gripper closed narrower than this (metres) holds nothing: the fingers met, nothing stopped them
HOLD_MIN_WIDTH = 0.005
#: a hand has let go of an object once its fingers are this much wider than when they closed on it, and closes on one
#: when they are this much narrower than they were open (metres: what a world that sees only the width goes by)
RELEASE_OPENING = 0.01


class ArmInterface(ABC):
    """A position-controlled arm with a parallel gripper and an RGB camera."""

    #: seconds of robot time per control step (one call to `step`)
    control_dt: float
    #: widest finger opening in metres
    gripper_max_width: float
    #: optional: the robot description (joint names, tool link, home pose). None (the default) for a backend
    #: without one: its arm joints are then the names in `joint_state()`, and it reports no finger joints
    robot_config: RobotConfig | None = None
    #: optional: seconds of simulated time since start; 0.0 (the default) for a backend without a simulation
    #: clock, such as a real arm
    sim_time: float = 0.0

    @abstractmethod
    def joint_state(self) -> JointState: ...

    @abstractmethod
    def ee_pose(self) -> Pose:
        """Pose of the tool centre point (between the fingertips)."""

    @abstractmethod
    def command_joints(self, positions: npt.ArrayLike) -> np.ndarray:
        """Set a joint position target; returns the target actually applied after safety."""

    @abstractmethod
    def command_ee(self, position: npt.ArrayLike, orientation: npt.ArrayLike | None = None) -> np.ndarray:
        """Set a Cartesian target for the tool centre point (IK); returns the applied joint target."""

    @abstractmethod
    def tool_down(self, yaw: float = 0.0) -> np.ndarray:
        """Quaternion (x, y, z, w) with the tool pointing down, rotated by `yaw` about z."""

    @abstractmethod
    def command_gripper(self, width: float) -> float:
        """Set the finger opening in metres (0 = closed); returns the applied width."""

    @abstractmethod
    def gripper_width(self) -> float: ...

    def gripper_holds(self) -> bool | None:
        """Whether the gripper reports something between its fingers (a real gripper's object detection: the
        fingers stopped on an object), None when this arm cannot tell."""
        return None

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

    def touching(self) -> dict[str, list[str]]:
        """What each object touches: the other objects, "table" and "gripper" (as ObjectState messages carry it)."""
        names = list(self.objects())
        found: dict[str, list[str]] = {n: [] for n in names}
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                if self.contacts(a, b):
                    found[a].append(b)
                    found[b].append(a)
            found[a] += [s for s in ("table", "gripper") if self.contacts(a, s)]
        return found

    def is_grasped(self, name: str) -> bool:
        """True if the gripper holds `name`. The default is any contact with the gripper; a world that can
        tell a grasp from a touch (both fingers on the object) overrides it."""
        return self.contacts("gripper", name)

    def measurement_age(self) -> float:
        """Seconds since the object states were measured (their stamp), so a skill can allow for their age: 0
        for a world read when asked (a simulator in the same process)."""
        return 0.0

    def object_pixels(self, name: str) -> np.ndarray | None:
        """The RGB pixels (N x 3, uint8) where the camera sees `name`, for visual descriptors; None
        when this world cannot segment its camera image (the default: e.g. object states over ROS)."""
        return None
