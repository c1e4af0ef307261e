"""The safety filter between every command and the arm. On by default; backends cannot skip it.

It rejects non-finite commands, latches an e-stop, clamps joint targets to the joint limits and to a
per-step (velocity) bound, and keeps the tool centre point inside a workspace box. A watchdog stops
the arm when commands stop arriving.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


class SafetyError(RuntimeError):
    """A command was refused; the arm keeps holding its last safe target."""


class EStopActive(SafetyError):
    """Motion is refused until the e-stop is reset."""


@dataclass
class SafetyConfig:
    """Limits applied to every command. Units: metres, radians, seconds."""

    joint_lower: Sequence[float]
    joint_upper: Sequence[float]
    #: margin kept from the mechanical joint limits
    joint_margin: float = 0.02
    #: max joint speed; a target further than max_joint_velocity * control_dt from the current
    #: position is pulled back to that distance
    max_joint_velocity: float = 1.5
    #: max tool-centre-point travel per control step
    max_ee_step: float = 0.04
    #: axis-aligned box the tool centre point must stay in: (xmin, ymin, zmin), (xmax, ymax, zmax). The floor
    #: is above the table top (z = 0): the Panda's fingertips reach 7 mm below its tool centre point.
    workspace_min: Sequence[float] = (0.15, -0.6, 0.008)
    workspace_max: Sequence[float] = (0.85, 0.6, 0.75)
    gripper_max_width: float = 0.08
    #: seconds without a command after which the watchdog stops the arm
    watchdog_timeout: float = 0.5


@dataclass
class SafetyStats:
    rejected: int = 0
    clamped: int = 0
    workspace_limited: int = 0


# The filter runs on every command of a 20 Hz-or-faster loop, on 3- and 7-vectors, where numpy's Python-level
# wrappers (np.allclose, np.clip, np.all) cost more than the arithmetic. The helpers below do the same
# arithmetic with bare ufuncs, so every result is bit-identical to the wrapped form.

def _finite(values: npt.ArrayLike, what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).reshape(-1)
    if not np.isfinite(arr).all():
        raise SafetyError(f"rejected {what}: contains NaN or inf ({arr.tolist()})")
    return arr


def _allclose(a: np.ndarray, b: np.ndarray) -> bool:
    """np.allclose(a, b) with its default tolerances, for finite arrays of one shape."""
    return bool((np.abs(a - b) <= 1e-8 + 1e-5 * np.abs(b)).all())


def _clip(x: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """np.clip(x, lower, upper) for finite x (the same min(max()) it computes)."""
    return np.minimum(np.maximum(x, lower), upper)


@dataclass
class SafetyFilter:
    """Turns a requested command into the command that is safe to apply now."""

    config: SafetyConfig
    control_dt: float
    stats: SafetyStats = field(default_factory=SafetyStats)
    _estopped: bool = False

    def __post_init__(self) -> None:
        cfg = self.config
        lower = np.asarray(cfg.joint_lower, float) + cfg.joint_margin
        upper = np.asarray(cfg.joint_upper, float) - cfg.joint_margin
        if (lower.shape != upper.shape or not np.all(np.isfinite(lower) & np.isfinite(upper))
                or np.any(lower >= upper)):
            raise ValueError("SafetyConfig joint limits are inconsistent (lower must be below upper)")
        self._lower, self._upper = lower, upper
        self._ws_min = np.asarray(cfg.workspace_min, float)
        self._ws_max = np.asarray(cfg.workspace_max, float)
        if (self._ws_min.shape != (3,) or self._ws_max.shape != (3,)
                or not np.all(np.isfinite(self._ws_min) & np.isfinite(self._ws_max))
                or np.any(self._ws_min >= self._ws_max)):
            raise ValueError("SafetyConfig workspace box is inconsistent (3 values each, min below max)")
        # the box with in_workspace's tolerance, computed once (same values as computing it per call)
        self._ws_lo, self._ws_hi = self._ws_min - 1e-9, self._ws_max + 1e-9
        positive = {"max_joint_velocity": cfg.max_joint_velocity, "max_ee_step": cfg.max_ee_step,
                    "gripper_max_width": cfg.gripper_max_width, "watchdog_timeout": cfg.watchdog_timeout,
                    "control_dt": self.control_dt}
        bad = [k for k, v in positive.items() if not (math.isfinite(v) and v > 0)]
        if not (math.isfinite(cfg.joint_margin) and cfg.joint_margin >= 0):
            bad.append("joint_margin")
        if bad:
            raise ValueError(f"SafetyConfig: {', '.join(bad)} must be finite and positive (joint_margin >= 0)")

    # -- e-stop -------------------------------------------------------------------------------
    @property
    def estopped(self) -> bool:
        return self._estopped

    def estop(self) -> None:
        self._estopped = True

    def reset_estop(self) -> None:
        self._estopped = False

    def _check_estop(self) -> None:
        if self._estopped:
            self.stats.rejected += 1
            raise EStopActive("e-stop is active: motion refused until it is reset")

    # -- commands -----------------------------------------------------------------------------
    def in_workspace(self, tcp: np.ndarray) -> bool:
        """The tool centre point is inside the box (1 nm tolerance); NaN is outside."""
        tcp = np.asarray(tcp, float)
        return bool((tcp >= self._ws_lo).all() and (tcp <= self._ws_hi).all())

    def depth_outside(self, tcp: np.ndarray) -> float:
        """How far (metres, worst axis) the tool centre point is outside the box: 0 inside, NaN for NaN."""
        tcp = np.asarray(tcp, float)
        return float(np.maximum(np.maximum(self._ws_lo - tcp, tcp - self._ws_hi).max(), 0.0))  # keeps a NaN

    def clamp_to_workspace(self, position: Sequence[float]) -> np.ndarray:
        return _clip(self._cartesian(position), self._ws_min, self._ws_max)

    @staticmethod
    def _cartesian(position: Sequence[float]) -> np.ndarray:
        pos = _finite(position, "Cartesian target")
        if pos.shape != (3,):
            raise SafetyError(f"rejected Cartesian target: expected 3 values, got {pos.shape[0]}")
        return pos

    def filter_ee_target(self, target: Sequence[float], current: np.ndarray) -> np.ndarray:
        """Workspace clamp plus per-step travel limit for a tool-centre-point target."""
        self._check_estop()
        try:
            requested = self._cartesian(target)
            current = _finite(current, "measured tool position")  # a broken state reading moves nothing
        except SafetyError:
            self.stats.rejected += 1
            raise
        goal = _clip(requested, self._ws_min, self._ws_max)
        if not _allclose(goal, requested):
            self.stats.workspace_limited += 1  # the request pointed outside the box
        delta = goal - current
        dist = math.sqrt(delta.dot(delta))  # what np.linalg.norm computes for a vector
        if dist > self.config.max_ee_step:
            self.stats.clamped += 1
            # back into the box: from a tool a hair outside it, the shortened step could end outside too
            goal = _clip(current + delta * (self.config.max_ee_step / dist), self._ws_min, self._ws_max)
        return goal

    def filter_orientation(self, orientation: Sequence[float]) -> np.ndarray:
        """A tool orientation (quaternion x, y, z, w), normalised; refused if it is not one."""
        orn = np.asarray(orientation, dtype=float).reshape(-1)
        norm = math.sqrt(orn.dot(orn)) if orn.shape == (4,) else 0.0
        if not (math.isfinite(norm) and norm > 1e-6):
            self.stats.rejected += 1
            raise SafetyError(f"rejected orientation: {orn.tolist()}")
        return orn / norm

    def filter_joint_target(
        self,
        target: Sequence[float],
        current: np.ndarray,
        tcp_of: Callable[[np.ndarray], np.ndarray],
    ) -> np.ndarray:
        """Joint limits, velocity bound and workspace box for a joint position target.

        `tcp_of` is the arm's forward kinematics (joint positions -> tool centre point). If the
        clamped target would leave the workspace, the step is shortened to stay inside it.
        """
        self._check_estop()
        try:
            q = _finite(target, "joint target")
            current = _finite(current, "measured joint state")  # a broken state reading moves nothing
        except SafetyError:
            self.stats.rejected += 1
            raise
        if q.shape != self._lower.shape:
            self.stats.rejected += 1
            raise SafetyError(f"rejected joint target: expected {self._lower.size} values, got {q.size}")
        clamped = _clip(q, self._lower, self._upper)
        max_step = self.config.max_joint_velocity * self.control_dt
        # Scale the whole step (not each joint on its own) so the motion keeps its direction in
        # joint space; clipping joints one by one bends the path an IK target asked for.
        step = clamped - current
        biggest = float(np.abs(step).max(initial=0.0))
        if biggest > max_step:
            step = step * (max_step / biggest)
        clamped = current + step
        if not _allclose(clamped, q):
            self.stats.clamped += 1
        if self.in_workspace(tcp_of(clamped)):
            return clamped
        # Shorten the step (bisection on the segment) to the furthest point still inside. An arm already
        # outside (it started there, or sagged a hair past the boundary it was sliding along) may only come
        # back toward the box, or hold still.
        self.stats.workspace_limited += 1
        depth = self.depth_outside(tcp_of(current))
        if not depth <= 0.0:
            return clamped if self.depth_outside(tcp_of(clamped)) < depth else current.copy()
        lo, hi = 0.0, 1.0
        for _ in range(10):
            mid = (lo + hi) / 2
            if self.in_workspace(tcp_of(current + mid * (clamped - current))):
                lo = mid
            else:
                hi = mid
        return current + lo * (clamped - current)

    def filter_gripper(self, width: float) -> float:
        self._check_estop()
        if not math.isfinite(width):
            self.stats.rejected += 1
            raise SafetyError(f"rejected gripper width: {width}")
        return float(min(max(width, 0.0), self.config.gripper_max_width))


class Watchdog:
    """Fires `on_timeout` once when `feed` has not been called for `timeout` seconds."""

    def __init__(self, timeout: float, on_timeout: Callable[[], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        if timeout <= 0:
            raise ValueError("watchdog timeout must be positive")
        self.timeout, self._on_timeout, self._clock = timeout, on_timeout, clock
        self._last = clock()
        self.tripped = False

    def feed(self) -> None:
        self._last = self._clock()
        self.tripped = False

    def check(self) -> bool:
        """Call periodically; returns True if it has (just or earlier) tripped."""
        if not self.tripped and self._clock() - self._last > self.timeout:
            self.tripped = True
            self._on_timeout()
        return self.tripped
