"""Predicates over the world state, shared by skill postconditions and task goals.

They read the WorldView (ground truth in simulation), never a skill's own report.
"""
from __future__ import annotations

import numpy as np

from hardware.arm import WorldView
from hardware.types import ObjectState

#: an object counts as resting if its bottom is within this of the surface below it
REST_TOLERANCE = 0.015
#: how far an object's bottom must be above the table to count as lifted
LIFT_HEIGHT = 0.04


def _xy_inside(obj: ObjectState, support: ObjectState, margin: float = 0.0) -> bool:
    d = np.abs(obj.position[:2] - support.position[:2])
    return bool(np.all(d <= support.half_extents[:2] - margin))


def inside(o: ObjectState, c: ObjectState) -> bool:
    """o's centre lies within c's footprint, its bottom below the rim, and its centre below the rim too or, for an
    object taller than the walls (a mug in a tray), its bottom in the lower half of the container (not on the rim)."""
    low = o.position[2] < c.top_z or o.bottom_z < (c.bottom_z + c.top_z) / 2
    return _xy_inside(o, c) and o.bottom_z < c.top_z and low


def is_in(world: WorldView, obj: str, container: str) -> bool:
    return inside(world.object(obj), world.object(container))


def is_on(world: WorldView, obj: str, support: str) -> bool:
    """obj rests on top of support: centre over its top face, bottom at its top."""
    o, s = world.object(obj), world.object(support)
    return _xy_inside(o, s) and abs(o.bottom_z - s.top_z) < REST_TOLERANCE


#: the table top's height in the base frame
TABLE_Z = 0.0
#: "beside" means at most this far apart (metres between the two footprints), and in line: the centres at most
#: this far off the side's axis beyond the wider object's half width
BESIDE_WITHIN = 0.08
IN_LINE = 0.02
#: sides of an object in the base frame (x forward, away from the robot; y left): "in front of" is the robot's side
SIDES: dict[str, tuple[float, float]] = {"left": (0.0, 1.0), "right": (0.0, -1.0), "front": (-1.0, 0.0),
                                         "behind": (1.0, 0.0)}


def rests_on_table(world: WorldView, obj: str) -> bool:
    return world.object(obj).bottom_z - TABLE_Z < REST_TOLERANCE


def is_beside(world: WorldView, obj: str, ref: str, side: str | None = None) -> bool:
    """obj rests on the table on `side` of ref (any side when None): not overlapping it, at most BESIDE_WITHIN
    away, and in line with it."""
    o, r = world.object(obj), world.object(ref)
    if not rests_on_table(world, obj):
        return False
    d = o.position[:2] - r.position[:2]
    gaps = np.abs(d) - (o.half_extents[:2] + r.half_extents[:2])
    widths = np.maximum(o.half_extents[:2], r.half_extents[:2])
    for name, (sx, sy) in SIDES.items():
        axis = 0 if sx else 1
        if side in (None, name) and d[axis] * (sx + sy) > 0 and -0.005 <= gaps[axis] <= BESIDE_WITHIN \
                and abs(d[1 - axis]) <= widths[1 - axis] + IN_LINE:
            return True
    return False


def is_between(world: WorldView, obj: str, a: str, b: str) -> bool:
    """obj rests on the table on the segment between a's and b's centres (its middle 60 %, within IN_LINE + its
    half width of the line), touching neither."""
    o, pa, pb = (world.object(n) for n in (obj, a, b))
    if not rests_on_table(world, obj):
        return False
    ab, ao = pb.position[:2] - pa.position[:2], o.position[:2] - pa.position[:2]
    t = float(ao @ ab) / float(ab @ ab)
    off_line = abs(float(ao[0] * ab[1] - ao[1] * ab[0])) / float(np.linalg.norm(ab))
    apart = all(np.any(np.abs(o.position[:2] - n.position[:2]) >= o.half_extents[:2] + n.half_extents[:2] - 0.005)
                for n in (pa, pb))
    return 0.2 <= t <= 0.8 and off_line <= IN_LINE + float(o.half_extents[:2].max()) and apart


def is_lifted(world: WorldView, obj: str) -> bool:
    return world.object(obj).bottom_z > LIFT_HEIGHT


def is_held(world: WorldView, obj: str) -> bool:
    """Both fingers touch the object and it is off the table."""
    return world.is_grasped(obj) and not world.contacts(obj, "table")


def is_free(world: WorldView, obj: str) -> bool:
    """Nothing rests on the object's top face (it can be grasped or stacked on)."""
    return not any(other.name != obj and not other.is_container and is_on(world, other.name, obj)
                   for other in world.objects().values())


def displacement(start: np.ndarray, now: np.ndarray) -> np.ndarray:
    return (np.asarray(now) - np.asarray(start))[:2]


#: metres: a displacement tolerance is at most the distance less this, so an object left where it was never
#: passes a short move (a 2 cm push passed with a 2 cm tolerance without touching the cube)
MIN_MOVE = 0.01


def displacement_tolerance(distance: float) -> float:
    """How far from the asked displacement an object may end: 2 cm or 20 % of the distance, whichever is
    larger, but never more than the distance less MIN_MOVE."""
    return min(max(0.02, 0.2 * distance), distance - MIN_MOVE)


def displaced_as_asked(start: np.ndarray, now: np.ndarray, offset: np.ndarray,
                       tolerance: float | None = None) -> bool:
    """Moved by `offset` (xy) within tolerance (`displacement_tolerance` of its length by default)."""
    offset = np.asarray(offset, float)
    tol = tolerance if tolerance is not None else displacement_tolerance(float(np.linalg.norm(offset)))
    return bool(np.linalg.norm(displacement(start, now) - offset) <= tol)
