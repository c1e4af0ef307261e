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


def is_in(world: WorldView, obj: str, container: str) -> bool:
    """obj's centre lies within the container's footprint and below its rim."""
    o, c = world.object(obj), world.object(container)
    return _xy_inside(o, c) and o.bottom_z < c.top_z and o.position[2] < c.top_z


def is_on(world: WorldView, obj: str, support: str) -> bool:
    """obj rests on top of support: centre over its top face, bottom at its top."""
    o, s = world.object(obj), world.object(support)
    return _xy_inside(o, s) and abs(o.bottom_z - s.top_z) < REST_TOLERANCE


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


def displaced_as_asked(start: np.ndarray, now: np.ndarray, offset: np.ndarray,
                       tolerance: float | None = None) -> bool:
    """Moved by `offset` (xy) within tolerance: 2 cm or 20 % of the distance, whichever is larger."""
    offset = np.asarray(offset, float)
    tol = tolerance if tolerance is not None else max(0.02, 0.2 * float(np.linalg.norm(offset)))
    return bool(np.linalg.norm(displacement(start, now) - offset) <= tol)
