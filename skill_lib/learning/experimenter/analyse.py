"""Analyse: what each skill attempt was (learned and succeeded, learned and failed, declined by the learned
policy, no learned policy, scripted on request, a scripted retry) and where (object category, target, region of
the table, parameter range), tallied per skill and per each of those.

Where an object was is not in the log: it is the scene's nominal position (config/scenes, jitter at most a few
cm; its size as the simulator builds it), moved across the table by the run's earlier successful places and pushes
of it (its height is left as the scene has it).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import lru_cache

import numpy as np

from hardware.scene import SceneError, nominal_objects
from hardware.types import ObjectState
from skill_lib.learning.experimenter.logs import NO_LEARNED_POLICY, SkillAttempt
from skill_lib.skills.common import DIRECTIONS


class AttemptKind(Enum):
    LEARNED_SUCCEEDED = "learned succeeded"
    LEARNED_FAILED = "learned failed"
    #: a learned policy exists but declined the context: the scripted controller ran
    DECLINED = "declined"
    #: the skill has no learned policy: the scripted controller ran
    NO_POLICY = "no learned policy"
    #: the scripted controller in a retry or a recovery step (after the learned one failed, a re-pick, ...)
    SCRIPTED_RETRY = "scripted retry"
    #: the scripted controller because someone asked for it (`skillstack run --scripted`)
    SCRIPTED_ON_REQUEST = "scripted on request"

    @property
    def weak(self) -> bool:
        """The learned skill did not deliver here."""
        return self in (AttemptKind.LEARNED_FAILED, AttemptKind.DECLINED, AttemptKind.NO_POLICY)


def kind_of(attempt: SkillAttempt) -> AttemptKind:
    if attempt.policy == "learned":
        return AttemptKind.LEARNED_SUCCEEDED if attempt.success else AttemptKind.LEARNED_FAILED
    if attempt.fallback == NO_LEARNED_POLICY:
        return AttemptKind.NO_POLICY
    if attempt.fallback:
        return AttemptKind.DECLINED
    return AttemptKind.SCRIPTED_RETRY if attempt.attempt > 0 else AttemptKind.SCRIPTED_ON_REQUEST


#: table regions, seen from the robot (x forward, y to its left), metres
NEAR_X, FAR_X, SIDE_Y = 0.40, 0.55, 0.12
#: parameter ranges are binned by these widths (metres)
PARAMETER_BINS = {"distance": 0.05, "height": 0.05}


def region(position: np.ndarray) -> str:
    depth = "near" if position[0] < NEAR_X else "far" if position[0] >= FAR_X else "middle"
    side = "right" if position[1] < -SIDE_Y else "left" if position[1] > SIDE_Y else "centre"
    return f"{depth} {side}"


def parameter_range(params: dict) -> tuple[str, float, float] | None:
    """(parameter, low, high) of the bin the call's binned parameter falls in, or None."""
    for name, width in PARAMETER_BINS.items():
        value = params.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            low = np.floor(value / width + 1e-9) * width
            return name, round(float(low), 3), round(float(low + width), 3)
    return None


def describe_range(found: tuple[str, float, float] | None) -> str:
    return "-" if found is None else f"{found[0]} {found[1] * 100:.0f}-{found[2] * 100:.0f} cm"


@dataclass(frozen=True)
class Context:
    """Where an attempt ran: the object it handled, the place target, the region and the parameter range."""

    category: str
    target_category: str | None
    target_is_container: bool
    region: str
    parameter: tuple[str, float, float] | None
    #: the handled object's edge (largest extent) in metres, when the scene says
    edge: float | None
    #: where the handled object (or, for place and move_to, the target) was, when known
    position: tuple[float, float] | None
    #: the scene's objects where they were when the attempt began, as far as the log tells (see the module doc)
    objects: dict[str, ObjectState] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Analysed:
    attempt: SkillAttempt
    kind: AttemptKind
    context: Context


@lru_cache(maxsize=32)
def _scene(name: str) -> dict[str, ObjectState]:
    """The scene's objects at their nominal places, with the sizes the simulator measures (the scene file gives
    cubes' edges only; a tray's or a mug's size is its mesh's)."""
    from hardware.pybullet.backend import PyBulletArm, PyBulletConfig

    try:
        nominal = nominal_objects(name)
        with PyBulletArm(PyBulletConfig(scene=name)) as arm:
            built = arm.objects()
    except (SceneError, OSError):
        return {}
    return {n: replace(built[n], position=np.append(o.position[:2], built[n].position[2])) if n in built else o
            for n, o in nominal.items()}


def _contexts(attempts: list[SkillAttempt]) -> list[Context]:
    """The context of each attempt of one run (in log order), following the objects the run moved."""
    objects = _scene(attempts[0].scene) if attempts else {}
    where = {name: obj.position[:2].copy() for name, obj in objects.items()}
    out = []
    for attempt in attempts:
        params = attempt.params
        name = params.get("object") if attempt.skill != "move_to" else params.get("target")
        target = params.get("target") if attempt.skill == "place" else None
        obj, goal = objects.get(str(name)), objects.get(str(target))
        placed = goal if goal is not None else obj
        at = where.get(str(target if attempt.skill == "place" else name))
        out.append(Context(
            category=obj.category if obj else "unknown", target_category=goal.category if goal else None,
            target_is_container=bool(goal and goal.is_container), region=region(at) if at is not None else "unknown",
            parameter=parameter_range(params), edge=float(obj.half_extents.max() * 2) if obj else None,
            position=(float(at[0]), float(at[1])) if at is not None else None,
            objects={n: replace(o, position=np.append(where[n], o.position[2])) for n, o in objects.items()}))
        if attempt.success and placed is not None and name in where:
            if attempt.skill == "place" and target in where:
                where[name] = where[target] + [params.get("offset_x", 0.0), params.get("offset_y", 0.0)]
            elif attempt.skill == "push" and params.get("direction") in DIRECTIONS:
                where[name] = where[name] + np.asarray(DIRECTIONS[params["direction"]]) * params.get("distance", 0)
    return out


@dataclass
class Tally:
    """Attempts by kind, and operator corrections, for one slice of the logs."""

    kinds: Counter = field(default_factory=Counter)
    corrections: int = 0

    @property
    def attempts(self) -> int:
        return sum(self.kinds.values())

    def add(self, item: Analysed) -> None:
        self.kinds[item.kind] += 1
        self.corrections += len(item.attempt.corrections)


@dataclass
class Analysis:
    items: list[Analysed]
    runs: int
    #: slice -> key -> tally; slices: skill, category, region, parameter range (each keyed by skill first)
    tables: dict[str, dict[tuple[str, str], Tally]]
    by_skill: dict[str, Tally]


def analyse(attempts: Iterable[SkillAttempt], runs: int) -> Analysis:
    by_run: dict[str, list[SkillAttempt]] = {}
    for attempt in attempts:
        by_run.setdefault(attempt.run, []).append(attempt)
    items = [Analysed(a, kind_of(a), c) for run in sorted(by_run) for a, c in zip(by_run[run], _contexts(by_run[run]))]
    tables: dict[str, dict[tuple[str, str], Tally]] = {"category": {}, "region": {}, "parameter range": {}}
    by_skill: dict[str, Tally] = {}
    for item in items:
        skill, context = item.attempt.skill, item.context
        by_skill.setdefault(skill, Tally()).add(item)
        category = context.category + (f" -> {context.target_category}" if context.target_category else "")
        for table, key in (("category", category), ("region", context.region),
                           ("parameter range", describe_range(context.parameter))):
            tables[table].setdefault((skill, key), Tally()).add(item)
    return Analysis(items, runs, tables, dict(sorted(by_skill.items())))
