"""push: slide an object along the table by a distance in a direction, with the closed gripper."""
from __future__ import annotations

import numpy as np

from hardware.types import ObjectState
from skill_lib import predicates as P
from skill_lib.controllers import CLOSED, Waypoint, WaypointPolicy, above
from skill_lib.skills.common import DIRECTIONS, OBJECT, REACH_MAX, REACH_MIN, SPEED, exists, not_container
from skill_lib.spec import Condition, LearningSpec, ParamSpec, RetryContext, RetryStep, SkillContext, SkillSpec

FINGER_HALF = 0.011  # half the thickness of the closed fingers along the push
GAP = 0.03  # start this far behind the object's face
# Low on the object: pushed at 18 mm, a 5 cm cube turned up to 39 degrees under the fingers and landed up to 26 mm
# off (3 of 20 seeds); at 12 mm, under 17 degrees and 7 mm (the same on 30 seeds held out).
PUSH_HEIGHT = 0.012
LEAD = 0.002  # stop this short of the distance: the object slides a little after contact ends
#: a push is done with the hand this far above the object's top, off it: the next skill starts clear of it
HAND_CLEAR = 0.04


def push_height(obj: ObjectState) -> float:
    """The hand's height while it pushes `obj`: PUSH_HEIGHT, or the object's middle where that is lower."""
    return min(PUSH_HEIGHT, float(obj.position[2]))


def tool_yaw(direction: np.ndarray) -> float:
    """Push with the fingers' flat side edges: the hand turns so the fingers line up with the push."""
    return float(np.pi / 2 if direction[1] else (np.pi if direction[0] < 0 else 0.0))


def _offset(ctx: SkillContext) -> np.ndarray:
    return np.asarray(DIRECTIONS[ctx.params["direction"]]) * ctx.params["distance"]


def _pushed_far_enough(ctx: SkillContext) -> bool:
    direction = np.asarray(DIRECTIONS[ctx.params["direction"]])
    moved = (ctx.world.object(ctx.params["object"]).position - ctx.memory["start"])[:2] @ direction
    return bool(moved >= ctx.params["distance"] - LEAD)


def _waypoints(ctx: SkillContext) -> list[Waypoint]:
    obj = ctx.world.object(ctx.params["object"])
    ctx.memory["start"] = obj.position.copy()
    direction = np.asarray(DIRECTIONS[ctx.params["direction"]])
    half = float(np.abs(obj.half_extents[:2] @ np.abs(direction)))  # object extent along the push
    z = push_height(obj)
    contact = obj.position[:2] - direction * (half + FINGER_HALF)
    start = np.append(contact - direction * GAP, z)
    end = np.append(contact + direction * ctx.params["distance"], z)
    yaw = tool_yaw(direction)
    return [
        Waypoint(above(start, obj.top_z + 0.06), CLOSED, tolerance=0.01, yaw=yaw),
        Waypoint(start, CLOSED, speed=0.5, tolerance=0.005, yaw=yaw),
        Waypoint(end, CLOSED, speed=0.3, tolerance=0.003, hold_steps=2, max_steps=120, yaw=yaw,
                 until=_pushed_far_enough),
        Waypoint(end - np.append(direction * 0.02, 0.0), CLOSED, speed=0.3, tolerance=0.006, yaw=yaw),
        Waypoint(above(end, obj.top_z + 0.08), CLOSED, tolerance=0.015, yaw=yaw),
    ]


def _end_reachable(ctx: SkillContext) -> bool:
    end = ctx.world.object(ctx.params["object"]).position[:2] + _offset(ctx)
    return bool(np.all(end >= REACH_MIN) and np.all(end <= REACH_MAX))


DISTANCE = ParamSpec("distance", "float", "metres to move the object", default=0.10, low=0.02, high=0.25)


def _retry(ctx: RetryContext) -> tuple[RetryStep, ...]:
    """A push is not idempotent: pushing the full distance again from where the object now is would overshoot
    (a 10 cm push became 21 cm), so the retry pushes only the rest, and nothing when less than the shortest
    push is left."""
    obj, direction = ctx.params.get("object"), ctx.params.get("direction")
    if not isinstance(obj, str) or obj not in ctx.start or direction not in DIRECTIONS:
        return (ctx.again(),)  # nothing to subtract (bad parameters fail again, with their own message)
    moved = float((ctx.world.object(obj).position - ctx.start[obj])[:2] @ np.asarray(DIRECTIONS[direction]))
    left = float(ctx.params.get("distance") or DISTANCE.default) - moved
    shortest, longest = DISTANCE.bounds
    if left < shortest:
        return ()
    return (RetryStep("push", {**ctx.params, "distance": min(left, longest)}, note="push the remaining distance"),)


SKILL = SkillSpec(
    name="push",
    description="push an object along the table surface in a direction (left, right, forward, backward) by a distance",
    phrasings=("push it to the left", "shove it across the table", "slide it sideways along the table",
               "nudge it towards the robot", "push it away"),
    params=(OBJECT,
            ParamSpec("direction", "str", "left, right, forward or backward (robot base frame)", required=True,
                      choices=tuple(DIRECTIONS)),
            DISTANCE, SPEED),
    preconditions=(exists("object"), not_container("object"),
                   Condition("object is on the table", lambda c: c.world.contacts(c.params["object"], "table")),
                   Condition("the end position is within reach", _end_reachable)),
    postconditions=(Condition("object moved by the asked distance and direction",
                              lambda c: P.displaced_as_asked(c.memory["start"],
                                                             c.world.object(c.params["object"]).position,
                                                             _offset(c))),),
    timeout_s=15.0,
    scripted=lambda: WaypointPolicy(_waypoints),
    learning=LearningSpec("SkillStack/Push-v0", "skill_lib.learning.envs.push:PushEnv",
                          "skill_lib.learning.policy:LearnedPush"),
    retry=_retry,
)
