"""A mock backend with only what ArmInterface and WorldView require: no robot description, no simulation
clock, no grasp detection of its own. Loaded by the hardware node as `mock_arm:make_mock_arm`."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hardware.arm import ArmInterface, WorldView
from hardware.backends import BackendOptions
from hardware.types import JointState, ObjectState, Pose

JOINTS = ("shoulder", "elbow")


class MockArm(ArmInterface, WorldView):
    """Two joints that go where they are told; one cube, touching the gripper."""

    def __init__(self, control_hz: int = 20) -> None:
        self.control_dt = 1.0 / control_hz
        self.gripper_max_width = 0.08
        self._q = np.zeros(len(JOINTS))
        self._width = 0.08
        self._estopped = False
        self.cube = ObjectState("cube", "cube", np.array([0.5, 0.0, 0.02]), np.array([0.0, 0.0, 0.0, 1.0]),
                                np.full(3, 0.02))

    def joint_state(self) -> JointState:
        return JointState(JOINTS, self._q.copy(), np.zeros(len(JOINTS)))

    def ee_pose(self) -> Pose:
        return Pose(np.array([0.4, 0.0, 0.3]))

    def command_joints(self, positions: Sequence[float]) -> np.ndarray:
        self._q = np.asarray(positions, float)
        return self._q.copy()

    def command_ee(self, position: Sequence[float], orientation: Sequence[float] | None = None) -> np.ndarray:
        return self._q.copy()

    def tool_down(self, yaw: float = 0.0) -> np.ndarray:
        return np.array([1.0, 0.0, 0.0, 0.0])

    def command_gripper(self, width: float) -> float:
        self._width = float(width)
        return self._width

    def gripper_width(self) -> float:
        return self._width

    def camera_rgb(self, width: int = 320, height: int = 240) -> np.ndarray:
        return np.zeros((height, width, 3), np.uint8)

    def step(self) -> None:
        pass

    def estop(self) -> None:
        self._estopped = True

    def reset_estop(self) -> None:
        self._estopped = False

    @property
    def estopped(self) -> bool:
        return self._estopped

    def objects(self) -> dict[str, ObjectState]:
        return {"cube": self.cube}

    def contacts(self, a: str, b: str) -> bool:
        return {a, b} == {"gripper", "cube"}


def make_mock_arm(options: BackendOptions) -> MockArm:
    return MockArm(options.control_hz)
