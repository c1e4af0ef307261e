"""Free-space placement: where in a container each object of a task goes, so that objects placed one after
another do not land on each other, and where on the table an object goes beside or between others. A task
whose objects cannot all fit is refused before anything moves.

Spots are planned once for the whole task, from the objects already in the container and every object the
task puts there. One object into an empty container goes to its middle; several are packed from the corners
inwards, largest first, with a gap between footprints. A spot is the place skill's offset from the
container's centre (offset_x forward, offset_y left, in the README's frame).
"""
from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from hardware.types import ObjectState
from planners.grounding import describe_object
from skill_lib.predicates import IN_LINE, SIDES, inside
from skill_lib.skills.place import FLOOR_FRACTION, SKILL as PLACE
from planners.plan import SkillCall, TaskError

#: clearance between two placed objects' footprints, and between a footprint and the floor's edge (metres):
#: a place lands within ~5 mm of its aim
GAP = 0.012
WALL_GAP = 0.004
#: spacing of the candidate spots
GRID = 0.005
#: where the arm sets things down on the table with the tool pointing down (base frame: (x, y) min, max)
TABLE_AREA = ((0.30, -0.35), (0.70, 0.35))
#: air between an object set beside another and it; if something stands there, up to BESIDE_SLACK farther out.
#: The place skill's fingers, opened to let go (its RELEASE_MARGIN), clear a 5 cm neighbour's top edge at this gap,
#: not at 3 cm; gap and slack stay within what the learned place was trained on (its BESIDE_AIR).
BESIDE_GAP = 0.035
BESIDE_SLACK = 0.035
#: how far from a named spot of the table (its middle, a corner) an object may land if the spot itself is taken
TABLE_SLACK = 0.05
#: the sides "next to" tries, in order
NEXT_TO = ("left", "right", "behind", "front")
#: how far from its target the place skill may set an object down (its offset parameters' bounds)
MAX_OFFSET = PLACE.param("offset_x").bounds[1]


@dataclass(frozen=True)
class Footprint:
    """An axis-aligned rectangle on a surface: centre and half sizes (x, y), metres, relative to a container's
    centre on its floor, or in the base frame on the table."""

    centre: tuple[float, float]
    half: tuple[float, float]

    @staticmethod
    def of(obj: ObjectState, centre: Sequence[float] | np.ndarray) -> Footprint:
        return Footprint((float(centre[0]), float(centre[1])), (float(obj.half_extents[0]), float(obj.half_extents[1])))

    def clear_of(self, other: Footprint, gap: float) -> bool:
        apart = np.abs(np.subtract(self.centre, other.centre)) - np.add(self.half, other.half)
        return bool(np.any(apart >= gap))


def occupants(container: ObjectState, objects: Mapping[str, ObjectState]) -> list[str]:
    """Objects in the container (what the 'in' goal checks)."""
    return [o.name for o in objects.values() if o.name != container.name and inside(o, container)]


def _reach(container: ObjectState, obj: ObjectState) -> np.ndarray:
    """How far from the container's centre (x, y) `obj`'s centre may go on its floor; negative: it does not fit."""
    return container.half_extents[:2] * FLOOR_FRACTION - WALL_GAP - obj.half_extents[:2]


def _taken(container: ObjectState, objects: Mapping[str, ObjectState], leaving: Collection[str],
           asked: Sequence[tuple[str, Footprint]]) -> list[Footprint]:
    """Footprints on the container's floor: what is in it (but `leaving`) and the spots asked for in it."""
    here = [Footprint.of(objects[o], objects[o].position[:2] - container.position[:2])
            for o in occupants(container, objects) if o not in leaving]
    return here + [spot for where, spot in asked if where == container.name]


def free_spot(container: ObjectState, obj: ObjectState, taken: Sequence[Footprint],
              edges_first: bool) -> tuple[float, float] | None:
    """The first free spot for `obj`'s footprint on the container's floor (None: no room), scanning the grid
    from the corners inwards (`edges_first`) or from the middle out."""
    reach = _reach(container, obj)
    if np.any(reach < 0):
        return None
    axes = [np.linspace(-r, r, 2 * int(r / GRID) + 1) for r in reach]
    spots = [(float(x), float(y)) for x in axes[0] for y in axes[1]]
    spots.sort(key=lambda s: (-1 if edges_first else 1) * round(s[0] ** 2 + s[1] ** 2, 8))
    for spot in spots:
        if all(Footprint.of(obj, spot).clear_of(t, GAP) for t in taken):
            return spot
    return None


def assign_spots(calls: Sequence[SkillCall], objects: Mapping[str, ObjectState]) -> tuple[SkillCall, ...]:
    """The calls with each place into a container given its spot (offset_x, offset_y). Raises TaskError when
    a container cannot take every object the task puts in it."""
    movers_by_container: dict[str, list[str]] = {}
    for call in calls:
        target = str(call.params.get("target"))
        known_size = target in objects and bool(np.all(objects[target].half_extents[:2] > 0))
        into = call.skill == "place" and call.params.get("surface", "target") == "target"
        chosen = "offset_x" in call.params or "offset_y" in call.params  # a spot asked for: it stays
        if into and known_size and objects[target].is_container and not chosen:  # unknown size: its middle
            movers = movers_by_container.setdefault(target, [])
            if call.params["object"] not in movers:
                movers.append(call.params["object"])
    moving = {name for call in calls for name in [call.params.get("object")] if name}
    asked = [(str(c.params["target"]), Footprint.of(objects[c.params["object"]], (c.params.get("offset_x", 0.0),
                                                                                   c.params.get("offset_y", 0.0))))
             for c in calls if c.skill == "place" and ("offset_x" in c.params or "offset_y" in c.params)
             and c.params.get("surface", "target") == "target"]
    spots: dict[tuple[str, str], tuple[float, float]] = {}
    for name, movers in movers_by_container.items():
        container = objects[name]
        taken = _taken(container, objects, moving, asked)
        packing = len(movers) + len(taken) > 1
        for mover in sorted(movers, key=lambda m: -float(np.prod(objects[m].half_extents[:2]))):
            spot = free_spot(container, objects[mover], taken, edges_first=packing)
            if spot is None:
                label = describe_object(container, objects)
                raise TaskError(f"the {label} has no room for the {describe_object(objects[mover], objects)} "
                                f"({len(taken)} object(s) in it by then, each needing a "
                                f"{GAP * 100:.1f} cm gap); nothing was moved")
            taken.append(Footprint.of(objects[mover], spot))
            spots[(mover, name)] = spot
    out = []
    for call in calls:
        spot = spots.get((call.params.get("object", ""), call.params.get("target", ""))) \
            if call.skill == "place" and call.params.get("surface", "target") == "target" else None
        if spot is not None and spot != (0.0, 0.0):
            call = replace(call, params={**call.params, "offset_x": spot[0], "offset_y": spot[1]})
        out.append(call)
    return tuple(out)


def _clear_on_table(obj: ObjectState, xy: np.ndarray, objects: Mapping[str, ObjectState],
                    planned: Sequence[Footprint]) -> bool:
    """The object's footprint at `xy` (base frame) is inside TABLE_AREA and GAP clear of every other object
    and of the spots planned earlier in the task."""
    (x0, y0), (x1, y1) = TABLE_AREA
    if not (x0 <= xy[0] <= x1 and y0 <= xy[1] <= y1):
        return False
    here = Footprint.of(obj, xy)
    others = [Footprint.of(o, o.position[:2]) for o in objects.values() if o.name != obj.name]
    return all(here.clear_of(t, GAP) for t in [*others, *planned])


def beside_spot(obj: ObjectState, ref: ObjectState, side: str | None, objects: Mapping[str, ObjectState],
                planned: Sequence[Footprint] = ()) -> tuple[str, tuple[float, float]] | None:
    """(side, offset from ref's centre) where `obj` can be set down on `side` of `ref` (the first free of
    NEXT_TO when None), BESIDE_GAP apart, or up to BESIDE_SLACK farther out and IN_LINE to either side when
    something stands there; None when there is no room."""
    for name in (side,) if side else NEXT_TO:
        direction = np.asarray(SIDES[name])
        across = direction[::-1]
        axis = 0 if direction[0] else 1
        base = ref.half_extents[axis] + obj.half_extents[axis] + BESIDE_GAP
        for extra in np.arange(0.0, BESIDE_SLACK + 1e-9, GRID):
            for shift in (0.0, GRID, -GRID, 2 * GRID, -2 * GRID, 3 * GRID, -3 * GRID, IN_LINE, -IN_LINE):
                offset = direction * (base + extra) + across * shift
                if np.all(np.abs(offset) <= MAX_OFFSET) and \
                        _clear_on_table(obj, ref.position[:2] + offset, objects, planned):
                    return name, (float(offset[0]), float(offset[1]))
    return None


def aim_from(point: np.ndarray, obj: ObjectState, objects: Mapping[str, ObjectState], preferred: Sequence[str] = (),
             moving: Collection[str] = ()) -> tuple[str, tuple[float, float]] | None:
    """(reference, offset from its centre) to set `obj` down at `point` on the table: the place skill aims
    relative to an object at most MAX_OFFSET away, the `preferred` ones first, then the nearest the task does
    not move (`moving`); None when none is that close."""
    others = sorted((o for o in objects.values() if o.name not in {obj.name, *preferred, *moving}),
                    key=lambda o: float(np.linalg.norm(o.position[:2] - point)))
    for ref in (*(objects[n] for n in preferred), *others):
        offset = point - ref.position[:2]
        if np.all(np.abs(offset) <= MAX_OFFSET):
            return ref.name, (float(offset[0]), float(offset[1]))
    return None


def between_spot(obj: ObjectState, a: ObjectState, b: ObjectState, objects: Mapping[str, ObjectState],
                 planned: Sequence[Footprint] = (), moving: Collection[str] = ()
                 ) -> tuple[str, tuple[float, float]] | None:
    """(reference, offset from its centre) of the point midway between a and b, if `obj` fits there (None
    otherwise), aimed from a or b or another object (aim_from)."""
    middle = (a.position[:2] + b.position[:2]) / 2
    if not _clear_on_table(obj, middle, objects, planned):
        return None
    return aim_from(middle, obj, objects, (a.name, b.name), moving)


def table_spot(obj: ObjectState, corners: Sequence[tuple[float, float]], objects: Mapping[str, ObjectState],
               planned: Sequence[Footprint] = ()) -> tuple[float, float] | None:
    """Where on the table `obj` goes at the first of `corners` of TABLE_AREA (signs (x, y); (0, 0): its middle)
    with room for it: as close to that corner or the middle as is free, up to TABLE_SLACK away; None: no room.
    The place skill aims from an object near the spot: see aim_from."""
    (x0, y0), (x1, y1) = TABLE_AREA
    centre, half = np.array([(x0 + x1) / 2, (y0 + y1) / 2]), np.array([(x1 - x0) / 2, (y1 - y0) / 2])
    reach = half - obj.half_extents[:2] - GAP
    steps = np.concatenate([np.arange(0.0, TABLE_SLACK + 1e-9, GRID), -np.arange(GRID, TABLE_SLACK + 1e-9, GRID)])
    nearby = sorted(((dx, dy) for dx in steps for dy in steps), key=lambda d: float(np.hypot(*d)))
    for sx, sy in corners:
        for dx, dy in nearby:
            spot = centre + np.array([sx, sy]) * reach + (dx, dy)
            if np.all(np.abs(spot - centre) <= reach) and _clear_on_table(obj, spot, objects, planned):
                return float(spot[0]), float(spot[1])
    return None


def corner_spot(container: ObjectState, obj: ObjectState, corners: Sequence[tuple[float, float]],
                objects: Mapping[str, ObjectState], asked: Sequence[tuple[str, Footprint]] = ()
                ) -> tuple[float, float] | None:
    """The first free of `corners` (signs (x, y); (0, 0): the middle) for `obj` on the container's floor, as an
    offset from its centre, clear of what is in it and of spots asked for earlier (None: no room there)."""
    reach = _reach(container, obj)
    if np.any(reach < 0):
        return None
    taken = _taken(container, objects, {obj.name}, asked)
    for sx, sy in corners:
        spot = (float(sx * reach[0]), float(sy * reach[1]))
        if all(Footprint.of(obj, spot).clear_of(t, GAP) for t in taken):
            return spot
    return None
