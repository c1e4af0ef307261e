"""Scripted reference controllers: waypoint followers over the tool position and gripper.

They are the demonstrators for learned policies and the explicit fallback when no learned policy
exists. Each skill turns the world at reset time into a list of waypoints; the follower emits the
same action space a learned policy does ([dx, dy, dz, gripper] in [-1, 1]).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from skill_lib.spec import ACTION_SCALE, Policy, SkillContext

OPEN, CLOSED = 1.0, -1.0


@dataclass(frozen=True)
class Waypoint:
    #: a fixed point, or a function of the live world (closed loop, re-evaluated every step)
    position: np.ndarray | Callable[[SkillContext], np.ndarray]
    gripper: float
    #: metres; the waypoint counts as reached within this distance
    tolerance: float = 0.005
    #: control steps to stay after reaching it (lets the gripper close or an object settle)
    hold_steps: int = 0
    #: fraction of the full action scale, for slow approaches and pushes
    speed: float = 1.0
    #: give up on this waypoint after this many steps (the success detector judges the result)
    max_steps: int = 60
    #: tool rotation about the vertical, radians
    yaw: float = 0.0
    #: closed-loop exit: the waypoint also counts as reached when this says so (e.g. an object
    #: has moved far enough), so the motion ends on what the world shows, not on dead reckoning
    until: Callable[[SkillContext], bool] | None = None


def gripper_action_for_width(width: float, max_width: float = 0.08) -> float:
    return float(np.clip(2.0 * width / max_width - 1.0, -1.0, 1.0))


#: how fast (action units) a scripted end of a learned skill moves the hand: a place's rise, a push's retreat
RETREAT_SPEED = 0.3


def towards(aim: np.ndarray, tcp: np.ndarray, gripper: float, dtype=np.float32) -> np.ndarray:
    """An action that moves the tool straight towards `aim` at RETREAT_SPEED, the gripper at `gripper`."""
    move = np.clip((aim - tcp) / ACTION_SCALE, -RETREAT_SPEED, RETREAT_SPEED)
    return np.append(move, gripper).astype(dtype)


class WaypointPolicy(Policy):
    """Follows waypoints computed from the world when the skill starts."""

    kind = "scripted"

    def __init__(self, plan: Callable[[SkillContext], list[Waypoint]]) -> None:
        self._plan = plan
        self._waypoints: list[Waypoint] = []
        self._index = self._steps = self._held = 0

    def reset(self, ctx: SkillContext) -> None:
        self._waypoints = self._plan(ctx)
        self._index = self._steps = self._held = 0
        self._aim_yaw()

    def _aim_yaw(self) -> None:
        """The tool's yaw follows the current waypoint (the last one once done)."""
        self.tool_yaw = self._waypoints[min(self._index, len(self._waypoints) - 1)].yaw if self._waypoints else 0.0

    def act(self, ctx: SkillContext) -> np.ndarray:
        if self.done(ctx):  # hold still, and keep the hand as it was (0 would mean half open)
            return np.append(np.zeros(3), self._waypoints[-1].gripper if self._waypoints else OPEN)
        wp = self._waypoints[self._index]
        goal = wp.position(ctx) if callable(wp.position) else wp.position
        error = goal - ctx.arm.ee_pose().position
        self._steps += 1
        if np.linalg.norm(error) <= wp.tolerance or (wp.until is not None and wp.until(ctx)):
            self._held += 1
        if self._held > wp.hold_steps or self._steps >= wp.max_steps:
            self._index, self._steps, self._held = self._index + 1, 0, 0
            self._aim_yaw()
        if wp.until is not None and self._held:
            return np.append(np.zeros(3), wp.gripper)  # stop where the condition was met
        # Proportional step, saturated at the waypoint's speed times the skill's `speed` scale
        # (an operator's "slower"), never beyond the action limit.
        speed = min(1.0, wp.speed * float(ctx.params.get("speed") or 1.0))
        move = np.clip(error / ACTION_SCALE, -speed, speed)
        return np.append(move, wp.gripper)

    def done(self, ctx: SkillContext) -> bool:
        return self._index >= len(self._waypoints)

    def progress(self) -> float:
        return self._index / max(1, len(self._waypoints))


def above(point: np.ndarray, height: float) -> np.ndarray:
    return np.array([point[0], point[1], height])
