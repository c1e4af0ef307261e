"""Fixtures shared by the hardware tests."""
from __future__ import annotations

import pytest

from hardware.pybullet import PyBulletArm, PyBulletConfig


@pytest.fixture
def make_arm():
    """Factory for fresh arms, all closed at teardown."""
    made = []

    def make(seed: int = 0, **kw) -> PyBulletArm:
        a = PyBulletArm(PyBulletConfig(seed=seed, **kw))
        made.append(a)
        return a

    yield make
    for a in made:
        a.close()


def _sweep(arm: PyBulletArm) -> None:
    """A command sequence that sweeps the gripper through the cubes, so objects really move."""
    for goal in [(0.45, -0.3, 0.02), (0.45, 0.2, 0.02), (0.6, 0.2, 0.02), (0.6, -0.3, 0.02), (0.5, 0.0, 0.3)]:
        for _ in range(25):
            arm.command_ee(goal)
            arm.step()
    arm.command_gripper(0.0)
    for _ in range(10):
        arm.step()


@pytest.fixture
def sweep():
    """_sweep: for tests that need the objects really moved."""
    return _sweep
