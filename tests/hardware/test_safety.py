"""Unit tests of the safety filter and the watchdog: pure numpy, no physics.

A fake planar forward-kinematics function stands in for the arm: joints 0 and 1 move the tool centre
point in the x-y plane (two links), joint 2 lifts it, the other joints do nothing.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from hardware.safety import EStopActive, SafetyConfig, SafetyError, SafetyFilter, Watchdog

N_JOINTS = 7
LOWER = np.array([-2.9, -1.8, -2.9, -3.0, -2.9, -0.1, -2.9])
UPPER = np.array([2.9, 1.8, 2.9, -0.1, 2.9, 3.7, 2.9])
WS_MIN = np.array([0.2, -0.3, 0.1])
WS_MAX = np.array([0.65, 0.3, 0.5])
DT = 0.05
L1, L2 = 0.4, 0.3


def fake_fk(q: np.ndarray) -> np.ndarray:
    """Planar two-link arm in x-y plus a lift joint: joint positions -> tool centre point."""
    q = np.asarray(q, float)
    x = L1 * math.cos(q[0]) + L2 * math.cos(q[0] + q[1])
    y = L1 * math.sin(q[0]) + L2 * math.sin(q[0] + q[1])
    z = 0.3 + 0.25 * math.sin(q[2])
    return np.array([x, y, z])


def always_inside(q: np.ndarray) -> np.ndarray:
    """A tcp_of that never trips the workspace check (isolates the joint clamps)."""
    return (WS_MIN + WS_MAX) / 2


def make_config(**overrides) -> SafetyConfig:
    kw = dict(joint_lower=LOWER.tolist(), joint_upper=UPPER.tolist(), joint_margin=0.02,
              max_joint_velocity=1.5, max_ee_step=0.04, workspace_min=tuple(WS_MIN),
              workspace_max=tuple(WS_MAX), gripper_max_width=0.08, watchdog_timeout=0.5)
    kw.update(overrides)
    return SafetyConfig(**kw)


@pytest.fixture
def filt() -> SafetyFilter:
    return SafetyFilter(make_config(), DT)


def home() -> np.ndarray:
    """A joint position well inside the limits whose fake tcp is inside the workspace box."""
    q = np.array([0.0, 1.0, 0.0, -1.5, 0.0, 1.5, 0.0])
    assert np.all(WS_MIN < fake_fk(q)) and np.all(fake_fk(q) < WS_MAX)
    return q


def inside(p: np.ndarray, tol: float = 1e-9) -> bool:
    return bool(np.all(p >= WS_MIN - tol) and np.all(p <= WS_MAX + tol))


# -- non-finite and malformed commands ---------------------------------------------------------------

@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("index", [0, 3, 6])
def test_nonfinite_joint_target_rejected(filt, bad, index):
    q = home()
    target = q.copy()
    target[index] = bad
    with pytest.raises(SafetyError, match="NaN or inf"):
        filt.filter_joint_target(target, q, fake_fk)
    assert filt.stats.rejected == 1
    assert filt.stats.clamped == 0


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_nonfinite_measured_state_moves_nothing(filt, bad):
    """A broken state reading (a NaN from a sensor or a driver) must not become the step's reference: the
    step limit would be skipped for a Cartesian target, and a NaN current position returned as the target."""
    q = home()
    broken_q, broken_tcp = q.copy(), fake_fk(q)
    broken_q[2], broken_tcp[1] = bad, bad
    with pytest.raises(SafetyError, match="measured joint state"):
        filt.filter_joint_target(q, broken_q, fake_fk)
    with pytest.raises(SafetyError, match="measured tool position"):
        filt.filter_ee_target(fake_fk(q) + 0.3, broken_tcp)
    assert filt.stats.rejected == 2


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("index", [0, 1, 2])
def test_nonfinite_cartesian_target_rejected(filt, bad, index):
    current = fake_fk(home())
    target = current.copy()
    target[index] = bad
    with pytest.raises(SafetyError):
        filt.filter_ee_target(target, current)
    assert filt.stats.rejected == 1


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nonfinite_gripper_rejected(filt, bad):
    with pytest.raises(SafetyError):
        filt.filter_gripper(bad)
    assert filt.stats.rejected == 1


def test_rejections_accumulate(filt):
    q = home()
    for k in range(1, 6):
        with pytest.raises(SafetyError):
            filt.filter_joint_target([math.nan] * N_JOINTS, q, fake_fk)
        assert filt.stats.rejected == k


@pytest.mark.parametrize("length", [0, 1, 6, 8, 14])
def test_wrong_length_joint_target_rejected(filt, length):
    with pytest.raises(SafetyError, match="expected 7"):
        filt.filter_joint_target(np.zeros(length), home(), fake_fk)
    assert filt.stats.rejected == 1


@pytest.mark.parametrize("length", [0, 2, 4, 6])
def test_wrong_length_cartesian_target_rejected(filt, length):
    with pytest.raises(SafetyError, match="expected 3"):
        filt.filter_ee_target(np.full(length, 0.4), fake_fk(home()))
    assert filt.stats.rejected == 1


def test_gripper_clamped_to_range(filt):
    assert filt.filter_gripper(-1.0) == 0.0
    assert filt.filter_gripper(0.0) == 0.0
    assert filt.filter_gripper(0.03) == pytest.approx(0.03)
    assert filt.filter_gripper(0.08) == pytest.approx(0.08)
    assert filt.filter_gripper(5.0) == pytest.approx(0.08)
    assert filt.stats.rejected == 0


# -- joint targets -----------------------------------------------------------------------------------

def test_joint_target_clamped_to_limits_minus_margin():
    # a huge velocity limit so only the position limits act
    f = SafetyFilter(make_config(max_joint_velocity=1e6), DT)
    current = (LOWER + UPPER) / 2
    out = f.filter_joint_target(UPPER + 5.0, current, always_inside)
    np.testing.assert_allclose(out, UPPER - 0.02)
    out = f.filter_joint_target(LOWER - 5.0, current, always_inside)
    np.testing.assert_allclose(out, LOWER + 0.02)
    assert f.stats.clamped == 2


def test_joint_target_within_reach_passes_unchanged(filt):
    q = home()
    target = q + 0.5 * 1.5 * DT * np.array([1, -1, 0.5, 0, 0.2, -0.3, 1])
    out = filt.filter_joint_target(target, q, fake_fk)
    np.testing.assert_allclose(out, target)
    assert filt.stats.clamped == 0 and filt.stats.workspace_limited == 0


def test_joint_step_bounded_for_random_huge_targets(filt):
    rng = np.random.default_rng(1234)
    max_step = 1.5 * DT
    lo, hi = LOWER + 0.02, UPPER - 0.02
    for _ in range(500):
        current = rng.uniform(lo, hi)
        target = rng.uniform(-100, 100, N_JOINTS) * rng.choice([1e-3, 1.0, 1e3])
        out = filt.filter_joint_target(target, current, always_inside)
        step = out - current
        assert np.all(np.abs(step) <= max_step + 1e-12)
        assert np.all(out >= lo - 1e-12) and np.all(out <= hi + 1e-12)
        # the step keeps the direction of the (limit-clamped) request: it is only shortened
        wanted = np.clip(target, lo, hi) - current
        if np.linalg.norm(step) > 1e-12:
            cos = step @ wanted / (np.linalg.norm(step) * np.linalg.norm(wanted))
            assert cos == pytest.approx(1.0, abs=1e-9)
            assert np.linalg.norm(step) <= np.linalg.norm(wanted) + 1e-12
    assert filt.stats.rejected == 0


def test_joint_step_bound_scales_with_dt_and_velocity():
    f = SafetyFilter(make_config(max_joint_velocity=0.5), 0.01)
    current = home()
    out = f.filter_joint_target(current + 3.0, current, always_inside)
    assert np.max(np.abs(out - current)) == pytest.approx(0.005)


def test_current_outside_limits_moves_back_toward_them(filt):
    # e.g. after a physics overshoot; the filter must not push further out
    current = UPPER + 0.05
    out = filt.filter_joint_target(UPPER + 1.0, current, always_inside)
    assert np.all(out <= current + 1e-12)
    assert np.all(np.abs(out - current) <= 1.5 * DT + 1e-12)


# -- Cartesian targets -------------------------------------------------------------------------------

def test_cartesian_target_clamped_into_workspace():
    f = SafetyFilter(make_config(max_ee_step=10.0), DT)
    current = (WS_MIN + WS_MAX) / 2
    np.testing.assert_allclose(f.filter_ee_target([5.0, -5.0, -5.0], current),
                               [WS_MAX[0], WS_MIN[1], WS_MIN[2]])
    np.testing.assert_allclose(f.filter_ee_target([-5.0, 5.0, 5.0], current),
                               [WS_MIN[0], WS_MAX[1], WS_MAX[2]])
    np.testing.assert_allclose(f.clamp_to_workspace([0.3, 0.0, 0.2]), [0.3, 0.0, 0.2])


def test_cartesian_step_limited(filt):
    current = np.array([0.4, 0.0, 0.3])
    out = filt.filter_ee_target([0.6, 0.0, 0.3], current)
    np.testing.assert_allclose(out, [0.44, 0.0, 0.3])
    assert filt.stats.clamped == 1
    near = filt.filter_ee_target([0.41, 0.01, 0.31], current)
    np.testing.assert_allclose(near, [0.41, 0.01, 0.31])
    assert filt.stats.clamped == 1


def test_cartesian_random_targets_stay_in_box_and_step(filt):
    rng = np.random.default_rng(99)
    for _ in range(500):
        current = rng.uniform(WS_MIN, WS_MAX)
        target = rng.uniform(-5, 5, 3)
        out = filt.filter_ee_target(target, current)
        assert inside(out)
        assert np.linalg.norm(out - current) <= 0.04 + 1e-12
        # on the segment from current to the clamped goal
        goal = np.clip(target, WS_MIN, WS_MAX)
        d_goal, d_out = goal - current, out - current
        if np.linalg.norm(d_out) > 1e-12:
            assert np.linalg.norm(np.cross(d_goal, d_out)) <= 1e-9 * np.linalg.norm(d_goal)
            assert d_goal @ d_out > 0


# -- workspace limit on joint targets (bisection) ----------------------------------------------------

def test_joint_target_leaving_workspace_is_shortened():
    f = SafetyFilter(make_config(max_joint_velocity=100.0), DT)  # 5 rad per step: only the box acts
    current = home()
    target = current.copy()
    target[2] = 1.5  # lifts z to ~0.55 > WS_MAX z = 0.5
    assert not inside(fake_fk(target))
    out = f.filter_joint_target(target, current, fake_fk)
    assert inside(fake_fk(out))
    assert f.stats.workspace_limited == 1
    # shortened along the segment, to close to the boundary (10 bisection steps)
    frac = (out - current)[2] / (target - current)[2]
    np.testing.assert_allclose(out, current + frac * (target - current), atol=1e-12)
    assert fake_fk(out)[2] == pytest.approx(WS_MAX[2], abs=2e-3)


def test_workspace_bisection_random():
    rng = np.random.default_rng(7)
    f = SafetyFilter(make_config(max_joint_velocity=20.0), DT)  # 1 rad per step: many exits
    limited = 0
    for _ in range(400):
        while True:
            current = rng.uniform(LOWER + 0.02, UPPER - 0.02)
            if inside(fake_fk(current)):
                break
        target = rng.uniform(-10, 10, N_JOINTS)
        before = f.stats.workspace_limited
        out = f.filter_joint_target(target, current, fake_fk)
        assert inside(fake_fk(out)), (current, target, out)
        assert np.all(np.abs(out - current) <= 1.0 + 1e-12)
        limited += f.stats.workspace_limited - before
    assert limited > 50  # the test really exercised the bisection


def test_outside_workspace_only_holds_still_or_comes_back(filt):
    current = home()
    current[2] = 1.5  # z above the box
    assert not inside(fake_fk(current))
    target = current.copy()
    target[0] += 0.05  # a move that stays as far outside
    out = filt.filter_joint_target(target, current, fake_fk)
    np.testing.assert_allclose(out, current)
    out[0] = 99.0  # the returned array is a copy
    assert current[0] != 99.0
    deeper = current.copy()
    deeper[2] = 1.52  # further out (and within the velocity bound)
    np.testing.assert_allclose(filt.filter_joint_target(deeper, current, fake_fk), current)
    back = current.copy()
    back[2] = 1.45  # toward the box, still outside: allowed, or a sagging arm could never come back
    assert not inside(fake_fk(back))
    np.testing.assert_allclose(filt.filter_joint_target(back, current, fake_fk), back)


def test_a_shortened_tool_step_from_outside_the_box_ends_inside(filt):
    """A tool a hair below the floor, asked to go far along it: the shortened step ends on the floor, not at
    the depth it starts from (targets followed from below the floor walked the hand down into the table)."""
    current = np.array([0.3, 0.0, WS_MIN[2] - 0.001])
    out = filt.filter_ee_target([0.6, 0.2, -1.0], current)
    assert inside(out) and out[2] == pytest.approx(WS_MIN[2])


# -- e-stop ------------------------------------------------------------------------------------------

def test_estop_latches_until_reset(filt):
    q = home()
    filt.estop()
    assert filt.estopped
    for _ in range(3):  # latched: it stays active, whatever is asked
        with pytest.raises(EStopActive):
            filt.filter_joint_target(q, q, fake_fk)
        with pytest.raises(EStopActive):
            filt.filter_ee_target(fake_fk(q), fake_fk(q))
        with pytest.raises(EStopActive):
            filt.filter_gripper(0.04)
    assert filt.stats.rejected == 9
    assert issubclass(EStopActive, SafetyError)
    filt.estop()  # a second e-stop is harmless
    filt.reset_estop()
    assert not filt.estopped
    np.testing.assert_allclose(filt.filter_joint_target(q, q, fake_fk), q)
    filt.filter_ee_target(fake_fk(q), fake_fk(q))
    assert filt.filter_gripper(0.04) == pytest.approx(0.04)


def test_estop_refuses_even_valid_targets(filt):
    filt.estop()
    with pytest.raises(EStopActive, match="e-stop"):
        filt.filter_joint_target(home(), home(), always_inside)


# -- watchdog ----------------------------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_watchdog_fires_once_after_timeout_and_rearms():
    clock, fired = FakeClock(), []
    dog = Watchdog(0.5, lambda: fired.append(clock.t), clock=clock)
    clock.t += 0.4
    assert not dog.check() and fired == []
    clock.t += 0.09
    assert not dog.check() and fired == []
    clock.t += 0.02  # 0.51 s since the start
    assert dog.check() and dog.tripped
    assert len(fired) == 1
    for _ in range(5):
        clock.t += 1.0
        assert dog.check()
    assert len(fired) == 1  # once, not on every check
    dog.feed()
    assert not dog.tripped and not dog.check()
    clock.t += 0.3
    dog.feed()  # fed in time: the timeout counts from here
    clock.t += 0.4
    assert not dog.check()
    clock.t += 0.2
    assert dog.check()
    assert len(fired) == 2


def test_watchdog_regular_feeding_never_fires():
    clock, fired = FakeClock(), []
    dog = Watchdog(0.5, lambda: fired.append(1), clock=clock)
    for _ in range(100):
        clock.t += 0.05
        dog.feed()
        assert not dog.check()
    assert fired == []


@pytest.mark.parametrize("timeout", [0.0, -1.0])
def test_watchdog_rejects_nonpositive_timeout(timeout):
    with pytest.raises(ValueError):
        Watchdog(timeout, lambda: None)


# -- configuration -----------------------------------------------------------------------------------

@pytest.mark.parametrize("lower, upper", [
    ([0.0] * 7, [0.0] * 7),                    # equal
    ([1.0] * 7, [0.0] * 7),                    # swapped
    ([0.0] * 7, [0.03] * 7),                   # margin 0.02 on each side leaves nothing
    ([0.0] * 7, [1.0] * 6),                    # different lengths
    ([0.0] * 6 + [math.nan], [1.0] * 7),       # not a number
])
def test_inconsistent_joint_limits_raise(lower, upper):
    with pytest.raises(ValueError):
        SafetyFilter(make_config(joint_lower=lower, joint_upper=upper), DT)


@pytest.mark.parametrize("overrides", [
    dict(workspace_min=(0.5, -0.3, 0.1), workspace_max=(0.4, 0.3, 0.5)),   # min above max
    dict(workspace_min=(0.2, -0.3, 0.5), workspace_max=(0.65, 0.3, 0.5)),  # empty in z
    dict(workspace_min=(0.2, -0.3), workspace_max=(0.65, 0.3)),            # not 3-D
    dict(max_joint_velocity=0.0),
    dict(max_joint_velocity=-1.5),
    dict(max_ee_step=-0.04),
    dict(max_ee_step=math.nan),
    dict(gripper_max_width=0.0),
    dict(joint_margin=-0.1),
    dict(watchdog_timeout=0.0),
])
def test_inconsistent_config_raises(overrides):
    with pytest.raises(ValueError):
        SafetyFilter(make_config(**overrides), DT)


@pytest.mark.parametrize("dt", [0.0, -0.05, math.inf])
def test_bad_control_dt_raises(dt):
    with pytest.raises(ValueError):
        SafetyFilter(make_config(), dt)


def test_default_config_is_valid():
    f = SafetyFilter(SafetyConfig(joint_lower=LOWER.tolist(), joint_upper=UPPER.tolist()), 1 / 20)
    assert not f.estopped
    assert f.in_workspace(np.array([0.5, 0.0, 0.3]))
    assert not f.in_workspace(np.array([0.5, 0.0, -0.01]))
