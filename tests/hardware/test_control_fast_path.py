"""The fast control step gives the same joint targets as the path it replaced, and refuses what it refused.

The reference is the pre-optimisation code kept here verbatim: the safety filter written with np.allclose,
np.clip and np.linalg.norm, and forward kinematics that sets each joint with its own resetJointState call.
Equality is exact (bit for bit): a faster filter must not move the arm anywhere else.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pybullet as pb
import pybullet_data
import pytest

from hardware.kinematics import Kinematics
from hardware.pybullet import PyBulletArm, PyBulletConfig
from hardware.robots import RobotConfig
from hardware.safety import EStopActive, SafetyConfig, SafetyError, SafetyFilter
from skill_lib.runner import apply_action

PANDA_LOWER = [-2.9, -1.76, -2.9, -3.07, -2.9, -0.02, -2.9]
PANDA_UPPER = [2.9, 1.76, 2.9, -0.07, 2.9, 3.75, 2.9]


class ReferenceFilter(SafetyFilter):
    """SafetyFilter as it was before the fast path (the numpy-wrapper versions of the same checks)."""

    def in_workspace(self, tcp: np.ndarray) -> bool:
        return bool(np.all(tcp >= self._ws_min - 1e-9) and np.all(tcp <= self._ws_max + 1e-9))

    def clamp_to_workspace(self, position: Sequence[float]) -> np.ndarray:
        pos = np.asarray(position, dtype=float).reshape(-1)
        if not np.all(np.isfinite(pos)):
            raise SafetyError("rejected Cartesian target: contains NaN or inf")
        if pos.shape != (3,):
            raise SafetyError("rejected Cartesian target: expected 3 values")
        return np.clip(pos, self._ws_min, self._ws_max)

    def filter_ee_target(self, target: Sequence[float], current: np.ndarray) -> np.ndarray:
        self._check_estop()
        try:
            goal = self.clamp_to_workspace(target)
        except SafetyError:
            self.stats.rejected += 1
            raise
        if not np.allclose(goal, np.asarray(target, float)):
            self.stats.workspace_limited += 1
        delta = goal - current
        dist = float(np.linalg.norm(delta))
        if dist > self.config.max_ee_step:
            self.stats.clamped += 1
            goal = np.clip(current + delta * (self.config.max_ee_step / dist), self._ws_min, self._ws_max)
        return goal

    def filter_joint_target(self, target: Sequence[float], current: np.ndarray,
                            tcp_of: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        self._check_estop()
        q = np.asarray(target, dtype=float).reshape(-1)
        if not np.all(np.isfinite(q)) or q.shape != self._lower.shape:
            self.stats.rejected += 1
            raise SafetyError("rejected joint target")
        clamped = np.clip(q, self._lower, self._upper)
        max_step = self.config.max_joint_velocity * self.control_dt
        step = clamped - current
        biggest = float(np.max(np.abs(step), initial=0.0))
        if biggest > max_step:
            step = step * (max_step / biggest)
        clamped = current + step
        if not np.allclose(clamped, q):
            self.stats.clamped += 1
        if self.in_workspace(tcp_of(clamped)):
            return clamped
        self.stats.workspace_limited += 1
        if not self.in_workspace(tcp_of(current)):
            closer = self.depth_outside(tcp_of(clamped)) < self.depth_outside(tcp_of(current))
            return clamped if closer else current.copy()
        lo, hi = 0.0, 1.0
        for _ in range(10):
            mid = (lo + hi) / 2
            if self.in_workspace(tcp_of(current + mid * (clamped - current))):
                lo = mid
            else:
                hi = mid
        return current + lo * (clamped - current)


class ReferenceFK:
    """Forward kinematics the old way: a robot-only client, one resetJointState per joint."""

    def __init__(self, robot: RobotConfig) -> None:
        self.robot = robot
        self.client = pb.connect(pb.DIRECT)
        pb.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=self.client)
        self.body = pb.loadURDF(robot.urdf, [0, 0, 0], useFixedBase=True, physicsClientId=self.client)
        info = [pb.getJointInfo(self.body, j, physicsClientId=self.client)
                for j in range(pb.getNumJoints(self.body, physicsClientId=self.client))]
        joints = {i[1].decode(): i[0] for i in info}
        self.arm = [joints[n] for n in robot.arm_joints]
        self.tcp = {i[12].decode(): i[0] for i in info}[robot.tcp_link]

    def __call__(self, q: np.ndarray) -> np.ndarray:
        for j, v in zip(self.arm, q):
            pb.resetJointState(self.body, j, float(v), physicsClientId=self.client)
        s = pb.getLinkState(self.body, self.tcp, computeForwardKinematics=True, physicsClientId=self.client)
        return self.robot.tcp_from_link(s[4], s[5])

    def close(self) -> None:
        pb.disconnect(self.client)


def toy_tcp(q: np.ndarray) -> np.ndarray:
    """A smooth map from joints to a point that leaves the default workspace box for some joint values."""
    return np.array([0.5 + 0.4 * np.sin(q[0]) * np.cos(q[3]), 0.7 * np.sin(q[1] + q[2]),
                     0.35 + 0.45 * np.cos(q[5])])


def same_call(a: Callable[[], np.ndarray], b: Callable[[], np.ndarray]) -> None:
    """Both return bit-identical arrays, or both raise the same exception type."""
    try:
        expected = a()
    except SafetyError as err:
        with pytest.raises(type(err)):
            b()
        return
    got = b()
    assert np.array_equal(expected, got), (expected, got)


def test_filter_matches_reference_on_random_commands():
    cfg = SafetyConfig(PANDA_LOWER, PANDA_UPPER)
    fast, ref = SafetyFilter(cfg, 0.05), ReferenceFilter(cfg, 0.05)
    rng = np.random.default_rng(0)
    lower, upper = np.array(PANDA_LOWER), np.array(PANDA_UPPER)
    mid = (lower + upper) / 2
    for i in range(3000):
        current = mid + rng.uniform(-1, 1, 7) * (upper - lower) / 2
        target = current + rng.normal(scale=[0.01, 0.1, 1.0, 5.0][i % 4], size=7)
        if i % 50 == 0:
            target[rng.integers(7)] = [np.nan, np.inf, -np.inf][i // 50 % 3]
        same_call(lambda: ref.filter_joint_target(target, current, toy_tcp),
                  lambda: fast.filter_joint_target(target, current, toy_tcp))
        tcp = rng.uniform([0.1, -0.7, -0.05], [0.9, 0.7, 0.8])
        goal = tcp + rng.normal(scale=[0.005, 0.05, 0.5][i % 3], size=3)
        if i % 40 == 0:
            goal[rng.integers(3)] = np.nan
        same_call(lambda: ref.filter_ee_target(goal, tcp), lambda: fast.filter_ee_target(goal, tcp))
        assert ref.in_workspace(tcp) == fast.in_workspace(tcp)
    assert ref.stats == fast.stats
    assert fast.stats.workspace_limited > 100 and fast.stats.rejected > 100  # every branch was taken


def test_arm_joint_targets_match_the_reference_path():
    """Two arms from one seed, one on the fast path and one on the reference filter + FK, same commands."""
    fast, ref = PyBulletArm(PyBulletConfig(seed=1)), PyBulletArm(PyBulletConfig(seed=1))
    ref_fk = ReferenceFK(ref.robot_config)
    try:
        ref.safety = ReferenceFilter(ref.safety.config, ref.control_dt)
        ref._tcp_of = ref_fk  # type: ignore[method-assign]
        rng = np.random.default_rng(5)
        home = np.array(fast.robot_config.home)
        for i in range(240):
            kind = i % 8
            if kind < 5:  # policy actions: command_ee + command_gripper, as the skills send them
                action, yaw = rng.uniform(-1, 1, size=4), [0.0, 0.5][i // 80 % 2]
                same_call(lambda: (apply_action(ref, action, yaw), ref._arm_target)[1],
                          lambda: (apply_action(fast, action, yaw), fast._arm_target)[1])
            elif kind == 5:  # far goals, often outside the workspace box
                goal = rng.uniform([-0.2, -1.0, -0.3], [1.2, 1.0, 1.0])
                same_call(lambda: ref.command_ee(goal), lambda: fast.command_ee(goal))
            elif kind == 6:  # joint targets anywhere: limits, velocity bound, workspace bisection
                q = home + rng.uniform(-2.5, 2.5, 7)
                same_call(lambda: ref.command_joints(q), lambda: fast.command_joints(q))
            else:
                same_call(lambda: ref.command_ee([0.4, np.nan, 0.2]), lambda: fast.command_ee([0.4, np.nan, 0.2]))
            ref.step()
            fast.step()
            assert np.array_equal(ref.joint_state().positions, fast.joint_state().positions)
        assert ref.safety.stats == fast.safety.stats
        assert fast.safety.stats.workspace_limited > 0 and fast.safety.stats.clamped > 0
    finally:
        ref_fk.close()
        fast.close()
        ref.close()


def test_kinematics_fk_matches_the_reference():
    """Kinematics sets all joints in one call: the same FK bits as one resetJointState per joint."""
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        kin, ref_fk = Kinematics(arm.robot_config), ReferenceFK(arm.robot_config)
        try:
            rng = np.random.default_rng(2)
            for _ in range(50):
                q = np.array(arm.robot_config.home) + rng.uniform(-0.5, 0.5, 7)
                assert np.array_equal(kin.tcp_position(q), ref_fk(q))
        finally:
            kin.close()
            ref_fk.close()


@pytest.fixture(scope="module")
def arm():
    a = PyBulletArm(PyBulletConfig(seed=0))
    yield a
    a.close()


@pytest.mark.parametrize("command", [
    lambda a: a.command_ee([0.4, np.nan, 0.2]),
    lambda a: a.command_ee([0.4, 0.0, np.inf]),
    lambda a: a.command_ee([0.4, 0.0, 0.2], [np.nan, 0.0, 0.0, 1.0]),
    lambda a: a.command_joints([0.0] * 6 + [np.nan]),
    lambda a: a.command_gripper(float("nan")),
])
def test_fast_path_still_refuses_nan(arm, command):
    target = arm._arm_target.copy()
    with pytest.raises(SafetyError):
        command(arm)
    assert np.array_equal(arm._arm_target, target)  # the last safe target holds


def test_fast_path_keeps_the_tool_in_the_workspace(arm):
    """Far goals outside the box, by Cartesian and by joint command: every target's tool point is inside."""
    ref_fk = ReferenceFK(arm.robot_config)
    try:
        lo = np.asarray(arm.safety.config.workspace_min) - 1e-9
        hi = np.asarray(arm.safety.config.workspace_max) + 1e-9
        rng = np.random.default_rng(9)
        for i in range(120):
            if i % 2:
                target = arm.command_ee(rng.uniform([-1.0, -1.5, -0.5], [1.5, 1.5, 1.5]))
            else:
                target = arm.command_joints(np.array(arm.robot_config.home) + rng.uniform(-3, 3, 7))
            tcp = ref_fk(target)
            assert np.all(tcp >= lo) and np.all(tcp <= hi), tcp
            arm.step()
        assert arm.safety.stats.workspace_limited > 0
    finally:
        ref_fk.close()
        arm.reset_robot()


def test_fast_path_refuses_everything_while_estopped(arm):
    arm.estop()
    try:
        for command in (lambda: arm.command_ee(arm.ee_pose().position),
                        lambda: arm.command_joints(arm.joint_state().positions),
                        lambda: arm.command_gripper(0.04),
                        lambda: apply_action(arm, np.zeros(4))):
            with pytest.raises(EStopActive):
                command()
    finally:
        arm.reset_estop()
    arm.command_ee(arm.ee_pose().position)  # after the reset commands pass again


def test_tool_down_cache_hands_out_copies(arm):
    first = arm.tool_down(0.3)
    first[:] = np.nan  # a caller scribbling on its copy must not reach the next caller
    assert np.all(np.isfinite(arm.tool_down(0.3)))
    roll, pitch, _ = arm.robot_config.tool_down_rpy
    assert np.array_equal(arm.tool_down(0.3), np.array(pb.getQuaternionFromEuler([roll, pitch, 0.3])))
    assert not np.array_equal(arm.tool_down(0.0), arm.tool_down(0.3))
