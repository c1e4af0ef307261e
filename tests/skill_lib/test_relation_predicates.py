"""The spatial predicates the 'beside' and 'between' goals check, on objects arranged in the simulator."""
from __future__ import annotations

import numpy as np
import pytest

from hardware.pybullet import PyBulletArm, PyBulletConfig
from skill_lib import predicates as P


@pytest.fixture(scope="module")
def arm():
    with PyBulletArm(PyBulletConfig(seed=0)) as a:
        yield a


def settle_at(arm: PyBulletArm, **xy: tuple[float, float]) -> None:
    for name, (x, y) in xy.items():
        arm.set_object_pose(name, [x, y, arm.object(name).half_extents[2] + 0.002])
    for _ in range(10):
        arm.step()


@pytest.mark.parametrize("dx, dy, side", [(0.0, 0.08, "left"), (0.0, -0.08, "right"), (-0.08, 0.0, "front"),
                                          (0.08, 0.0, "behind")])
def test_beside_each_side_and_only_that_side(arm, dx, dy, side):
    settle_at(arm, blue_cube=(0.45, 0.0), red_cube=(0.45 + dx, dy))
    assert P.is_beside(arm, "red_cube", "blue_cube", side) and P.is_beside(arm, "red_cube", "blue_cube")
    others = [s for s in P.SIDES if s != side]
    assert not any(P.is_beside(arm, "red_cube", "blue_cube", s) for s in others)


@pytest.mark.parametrize("dx, dy", [(0.0, 0.2), (0.06, 0.08)])  # too far, off the line
def test_not_beside(arm, dx, dy):
    settle_at(arm, blue_cube=(0.45, 0.0), red_cube=(0.45 + dx, dy))
    assert not P.is_beside(arm, "red_cube", "blue_cube")


def test_on_top_is_not_beside(arm):
    settle_at(arm, blue_cube=(0.45, 0.0))
    arm.set_object_pose("red_cube", [0.45, 0.0, 0.077])
    settle_at(arm)
    assert P.is_on(arm, "red_cube", "blue_cube") and not P.is_beside(arm, "red_cube", "blue_cube")


def test_beside_needs_the_table_under_it(arm):
    settle_at(arm, blue_cube=(0.45, 0.0), red_cube=(0.45, 0.08))
    arm.set_object_pose("red_cube", [0.45, 0.08, 0.2])  # in the air (the reading, before it falls)
    assert not P.is_beside(arm, "red_cube", "blue_cube")
    settle_at(arm)


def test_between(arm):
    settle_at(arm, red_cube=(0.40, -0.15), yellow_cube=(0.40, 0.15), green_cube=(0.40, 0.0))
    assert P.is_between(arm, "green_cube", "red_cube", "yellow_cube")
    settle_at(arm, green_cube=(0.50, 0.0))  # 10 cm off the line
    assert not P.is_between(arm, "green_cube", "red_cube", "yellow_cube")
    settle_at(arm, green_cube=(0.40, 0.12))  # against the yellow cube, not between
    assert not P.is_between(arm, "green_cube", "red_cube", "yellow_cube")


@pytest.mark.parametrize("distance", [0.02, 0.03, 0.05, 0.25])
def test_an_object_left_where_it_was_is_not_displaced(distance):
    start = np.array([0.5, 0.0, 0.025])
    assert not P.displaced_as_asked(start, start, [0.0, distance])
    assert not P.displaced_as_asked(start, start + [0.0, P.MIN_MOVE - 0.001, 0.0], [0.0, distance])
    assert P.displaced_as_asked(start, start + [0.0, distance - 0.005, 0.0], [0.0, distance])
