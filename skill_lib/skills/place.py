"""place: put the held object on top of another object or into a container, or on the table beside one (at
the offset from it), then let go."""
from __future__ import annotations

import numpy as np

from hardware.arm import RELEASE_OPENING, ArmInterface
from hardware.types import ObjectState
from skill_lib import predicates as P
from skill_lib.controllers import CLOSED, Waypoint, WaypointPolicy, above, gripper_action_for_width
from skill_lib.skills.common import OBJECT, SPEED, exists
from skill_lib.spec import Condition, LearningSpec, ParamSpec, RetryContext, RetryStep, SkillContext, SkillSpec

CLEARANCE = 0.06  # metres of air between the held object and the target while carrying
DROP_GAP = 0.006  # release this far above the support
RETREAT = 0.10
#: the fingers open this much wider than the held object to let go (metres, both sides): fully open, they pushed a
#: neighbour set down beside the spot (planners/placement.py's BESIDE_GAP) by 1-4 cm; a world that sees only the
#: fingers' width takes the object for let go past RELEASE_OPENING
RELEASE_MARGIN = RELEASE_OPENING + 0.005
#: a place is done once the hand is this far above the placed object's top, open and off it: clear of it
#: before the next skill moves (the learned place's end state, in training and in the scene)
HAND_CLEAR = 0.05
#: a place on the table beside the target lands within this of its spot (metres)
TABLE_SPOT_TOLERANCE = 0.025
SURFACES = ("target", "table")
#: The tray's walls slope inwards: its floor spans this fraction of its rim (pybullet_data tray/traybox.urdf at
#: the scene's scale 0.4: walls tilted 33 degrees from 0.10 m out, floor edge at 0.084 m of the 0.121 m rim).
FLOOR_FRACTION = 0.69
#: the traybox's floor is this share of its height thick (measured at scales 0.3 and 0.4: 8.3 of 43 mm, 10.7 of 57)
FLOOR_SHARE = 0.19


def release_width(arm: ArmInterface) -> float:
    """How wide the fingers open to let go of what they hold now (RELEASE_MARGIN)."""
    return arm.gripper_width() + RELEASE_MARGIN


def container_floor_z(container: ObjectState) -> float:
    """Height of a container's floor, where what is put in it rests."""
    return container.bottom_z + FLOOR_SHARE * (container.top_z - container.bottom_z)


def _waypoints(ctx: SkillContext) -> list[Waypoint]:
    held = ctx.world.object(ctx.params["object"])
    target = ctx.world.object(ctx.params["target"])
    tcp = ctx.arm.ee_pose().position
    grip_offset = tcp[2] - held.position[2]  # where the tool holds the object, vertically
    if ctx.params["surface"] == "table":
        support_z = P.TABLE_Z
    elif target.is_container:
        # Floor of a tray: its bottom plus a few mm; the walls are what the AABB top measures.
        support_z = target.bottom_z + 0.012 + 0.02
    else:
        support_z = target.top_z
    release_z = support_z + held.half_extents[2] + DROP_GAP + grip_offset
    carry_z = max(tcp[2], target.top_z + 2 * held.half_extents[2] + CLEARANCE + grip_offset)
    release = gripper_action_for_width(release_width(ctx.arm), ctx.arm.gripper_max_width)

    def aim(z: float):
        """Tool position that puts the held object's centre over the target's centre, now.

        The object shifts in the hand while it is carried (mm to over a cm), which matters when
        the target is a 3 cm cube, so the offset is measured every step, not once.
        """
        def position(c: SkillContext) -> np.ndarray:
            in_hand = c.world.object(c.params["object"]).position - c.arm.ee_pose().position
            offset = np.array([c.params["offset_x"], c.params["offset_y"]])
            xy = c.world.object(c.params["target"]).position[:2] + offset - in_hand[:2]
            c.memory["release_xy"] = xy
            return np.array([xy[0], xy[1], z])
        return position

    def fixed(dz: float):
        """Once the fingers open the object is no longer in the hand: hold the last aim."""
        return lambda c: np.array([*c.memory["release_xy"], release_z + dz])

    return [
        Waypoint(above(tcp, carry_z), CLOSED, tolerance=0.015),
        Waypoint(aim(carry_z), CLOSED, tolerance=0.008),
        Waypoint(aim(release_z), CLOSED, speed=0.4, tolerance=0.003, hold_steps=3),
        Waypoint(fixed(0.0), release, tolerance=0.01, hold_steps=6),
        Waypoint(fixed(RETREAT), release, tolerance=0.015),
    ]


def _placed(ctx: SkillContext) -> bool:
    obj, target = ctx.params["object"], ctx.params["target"]
    if ctx.params["surface"] == "table":
        spot = ctx.world.object(target).position[:2] + [ctx.params["offset_x"], ctx.params["offset_y"]]
        return P.rests_on_table(ctx.world, obj) and \
            bool(np.linalg.norm(ctx.world.object(obj).position[:2] - spot) < TABLE_SPOT_TOLERANCE)
    if ctx.world.object(target).is_container:
        return P.is_in(ctx.world, obj, target)
    return P.is_on(ctx.world, obj, target)


def _retry(ctx: RetryContext) -> tuple[RetryStep, ...]:
    """Place again; if the object slipped out of the hand, pick it up first, with the reference controller:
    it may now lie where no policy was trained."""
    obj = ctx.params["object"]
    if P.is_held(ctx.world, obj):
        return (ctx.again(),)
    return (RetryStep("pick", {"object": obj}, scripted=True, note="re-pick before place"), ctx.again())


SKILL = SkillSpec(
    name="place",
    description=("put or place the held object onto another object or into a container "
                 "(tray, bowl, box, bin, basket), then release it"),
    phrasings=("put it in the container", "place it on top of the other object", "set it down",
               "drop it into the container", "stack it on top", "put it down there",
               "put the object inside the bin", "place the item into the box"),
    params=(OBJECT, ParamSpec("target", "object", "object or container to place onto/into", required=True),
            ParamSpec("offset_x", "float", "metres from the target's centre along x (forward)", default=0.0,
                      low=-0.15, high=0.15),
            ParamSpec("offset_y", "float", "metres from the target's centre along y (left)", default=0.0,
                      low=-0.15, high=0.15),
            ParamSpec("surface", "str", "what the object is set down on: the target ('target': onto or into "
                      "it) or the table beside it ('table', at the offsets)", default="target", choices=SURFACES),
            SPEED),
    preconditions=(exists("object"), exists("target"),
                   Condition("object and target differ", lambda c: c.params["object"] != c.params["target"]),
                   Condition("object is held", lambda c: P.is_held(c.world, c.params["object"]))),
    postconditions=(Condition("object rests on/in the target", _placed),
                    Condition("gripper has let go", lambda c: not c.world.contacts("gripper", c.params["object"]))),
    timeout_s=15.0,
    scripted=lambda: WaypointPolicy(_waypoints),
    learning=LearningSpec("SkillStack/Place-v0", "skill_lib.learning.envs.place:PlaceEnv",
                          "skill_lib.learning.policy:LearnedPlace"),
    retry=_retry,
)
