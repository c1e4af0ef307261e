"""Propose: a curriculum of training tasks from the analysis, ordered by expected gain, each with its evidence.

Each weak spot becomes one proposal:
- a skill with no learned policy (in the logs and in the registry now): learn one, on the objects, parameters and
  regions it was asked for;
- attempts a learned policy declined, grouped by the first way the context lies outside what the policy was
  trained on (read from the policies and environments below): the object, a container (or the table beside an
  object) as the place target, the parameter range, the region of the table (where a push ends, too), else the
  start state (where the hand was, a corrected
  parameter): widen training along that axis. Given the promoted policies, a decline the promoted policy of its
  skill would now take is no weak spot any more (recheck.py);
- learned attempts that failed, per object category: fine-tune there;
- attempts that ran as they should but needed operator corrections, per category and corrected parameter;
- evaluations (`skillstack eval --json`) below TARGET_SUCCESS: fine-tune in the skill's environment.
Expected gain is the share of all logged skill attempts the task would turn into learned, uncorrected
successes if it worked: each attempt counts 1, each corrected-only attempt 0.5; an evaluation counts its
shortfall times the skill's share of attempts. Ties are broken by the proposal's id, so the order is
reproducible from the report.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from typing import Any

import numpy as np

from skill_lib.learning.envs.place import CONTAINER_BOX, DEFAULT_TARGETS
from skill_lib.learning.envs.push import DISTANCES, PushEnv
from skill_lib.learning.experimenter.analyse import Analysed, Analysis, AttemptKind, region
from skill_lib.learning.experimenter.logs import Evaluation
from skill_lib.learning.experimenter.recheck import Recheck, recheck
from skill_lib.learning.policy import CUBE_EDGES, trained_area
from skill_lib.skills.common import DIRECTIONS
from skill_lib.spec import Policy

#: what the learned policies were trained on (skill_lib/learning/policy.py, skill_lib/learning/envs)
CUBE_SKILLS = ("pick", "place", "push")
#: where a policy trained on the environments' default object box takes objects from (outside it: a region to train)
TRAINED_AREA = trained_area({})
#: parameter ranges the skills' environments train on by default (their recipes). A policy trained with other
#: environment options has its own (trainable.trained_parameters reads the promoted ones from the registry)
TRAINED_PARAMETERS: dict[tuple[str, str], tuple[float, float]] = {("push", "distance"): DISTANCES}
#: (skill, parameter) -> (low, high) the current policies were trained on
TrainedRanges = Mapping[tuple[str, str], tuple[float, float]]
#: a held-out success rate below this is a weak spot (issue #18's target for a committed policy)
TARGET_SUCCESS = 0.95
CORRECTION_WEIGHT = 0.5
#: how many decline reasons and example runs a proposal quotes
QUOTED = 3
#: how a region where pushes end is named (the push environment's `goal_box` option trains it)
PUSH_ENDS = "(where the push ends)"


class WeakSpot(Enum):
    """What kind of weak spot a proposal is about (the second part of its id)."""

    NEW_POLICY = "new policy"
    OBJECTS = "objects"
    TARGETS = "targets"
    PARAMETERS = "parameters"
    REGIONS = "regions"
    START_STATES = "start states"
    FAILURES = "failures"
    CORRECTIONS = "corrections"
    EVALUATION = "evaluation"


@dataclass(frozen=True)
class TrainingTask:
    """What to train on: object categories, place targets, parameter ranges (metres) and table regions; for the
    regions where pushes end, the (x, y) min and max corners of the logged ends (`push_ends`, metres)."""

    skill: str
    objects: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    parameter_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    regions: tuple[str, ...] = ()
    push_ends: tuple[tuple[float, float], tuple[float, float]] | None = None


@dataclass(frozen=True)
class Proposal:
    id: str
    skill: str
    what: str
    evidence: tuple[str, ...]
    gain: float
    task: TrainingTask
    axis: WeakSpot

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "skill": self.skill, "what": self.what, "evidence": list(self.evidence),
                "gain": round(self.gain, 4), "task": asdict(self.task), "axis": self.axis.value}


def push_end(item: Analysed) -> np.ndarray | None:
    """Where a logged push would have ended ((x, y), metres), when the log tells where the object was; else None."""
    direction = DIRECTIONS.get(str(item.attempt.params.get("direction")))
    distance = item.attempt.params.get("distance")
    if item.attempt.skill != "push" or item.context.position is None or direction is None \
            or not isinstance(distance, (int, float)):
        return None
    return np.asarray(item.context.position) + np.asarray(direction) * distance


def outside_training(item: Analysed, trained: TrainedRanges = TRAINED_PARAMETERS,
                     place_targets: Collection[str] = DEFAULT_TARGETS) -> tuple[str, str]:
    """(axis, value): the first way a declined attempt's context lies outside the policy's training (parameter
    ranges: `trained`, the current policies'; what the current place sets cubes down on: `place_targets`, the place
    environment's targets)."""
    skill, context = item.attempt.skill, item.context
    if skill in CUBE_SKILLS and (context.category != "cube" or context.edge is None
                                 or not CUBE_EDGES[0] <= context.edge <= CUBE_EDGES[1]):
        return "objects", context.category
    if skill == "place" and context.target_is_container and "container" not in place_targets:
        return "targets", str(context.target_category)
    if skill == "place" and item.attempt.params.get("surface") == "table" and "beside" not in place_targets:
        return "targets", "table beside an object"
    if context.parameter is not None and (skill, context.parameter[0]) in trained:
        low, high = trained[(skill, context.parameter[0])]
        value = item.attempt.params.get(context.parameter[0])
        if isinstance(value, (int, float)) and not low <= value <= high:
            return "parameters", context.parameter[0]
    if context.position is not None and skill in CUBE_SKILLS:  # the learned move_to takes any place
        (x0, y0), (x1, y1) = CONTAINER_BOX if skill == "place" and context.target_is_container else TRAINED_AREA
        x, y = context.position
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            return "regions", context.region
        end = push_end(item)
        if end is not None:
            (x0, y0), (x1, y1) = PushEnv.goal_box
            if not (x0 <= end[0] <= x1 and y0 <= end[1] <= y1):
                return "regions", f"{region(end)} {PUSH_ENDS}"
    held = context.objects.get(str(item.attempt.params.get("object"))) if skill == "place" else None
    if held is not None:  # a place also declines a cube it takes from outside the area (out of a tray)
        (x0, y0), (x1, y1) = TRAINED_AREA
        if not (x0 <= held.position[0] <= x1 and y0 <= held.position[1] <= y1):
            return "regions", f"{region(held.position)} (where the cube is taken from)"
    return "start states", "other contexts"


def _observed_ranges(items: Sequence[Analysed]) -> dict[str, tuple[float, float]]:
    values: dict[str, list[float]] = {}
    for item in items:
        for name, value in item.attempt.params.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and name != "speed":
                values.setdefault(name, []).append(float(value))
    return {name: (round(min(v), 3), round(max(v), 3)) for name, v in sorted(values.items())}


def _evidence(items: Sequence[Analysed], total: int, runs: int) -> tuple[str, ...]:
    skill = items[0].attempt.skill
    kinds = Counter(item.kind.value for item in items)
    lines = [f"{len(items)} of {total} {skill} attempts in {runs} runs: "
             + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))]
    reasons = Counter(str(item.attempt.fallback) for item in items if item.kind is AttemptKind.DECLINED)
    lines += [f"declined {n}x: {reason}" for reason, n in reasons.most_common(QUOTED)]
    corrections = Counter(f"{c['parameter']} ({c['text']})" for item in items for c in item.attempt.corrections)
    if corrections:
        lines.append("operator corrections: " + ", ".join(f"{n}x {what}" for what, n in corrections.most_common(QUOTED)))
    categories = Counter(item.context.category for item in items)
    regions = Counter(item.context.region for item in items)
    lines.append("objects: " + ", ".join(f"{c} {n}" for c, n in sorted(categories.items())) + "; regions: "
                 + ", ".join(f"{r} {n}" for r, n in sorted(regions.items())))
    runs_seen = sorted({item.attempt.run for item in items})
    lines.append("e.g. runs " + ", ".join(runs_seen[:QUOTED]) + (" ..." if len(runs_seen) > QUOTED else ""))
    return tuple(lines)


def _task(skill: str, items: Sequence[Analysed], *, objects: Sequence[str] = (), targets: Sequence[str] = (),
          ranges: dict[str, tuple[float, float]] | None = None) -> TrainingTask:
    seen = sorted({item.context.category for item in items if item.context.category != "unknown"})
    return TrainingTask(skill, tuple(dict.fromkeys([*objects, *seen])), tuple(targets),
                        ranges if ranges is not None else _observed_ranges(items),
                        tuple(sorted({item.context.region for item in items})))


def _widened(skill: str, items: Sequence[Analysed], trained: TrainedRanges) -> dict[str, tuple[float, float]]:
    """The observed ranges, each merged with the one the current policy was trained on: widening never narrows."""
    ranges = _observed_ranges(items)
    for (trained_skill, name), (low, high) in trained.items():
        if trained_skill == skill and name in ranges:
            ranges[name] = (min(low, ranges[name][0]), max(high, ranges[name][1]))
    return ranges


def _from_group(key: tuple[str, str, str], items: list[Analysed], trained: TrainedRanges) -> tuple[str, TrainingTask]:
    """(what, task) of one weak spot."""
    skill, axis, value = key
    learned = sum(1 for item in items if item.kind is AttemptKind.LEARNED_FAILED)
    if axis == "new policy":
        return f"learn a {skill} policy: none exists, so the scripted controller ran", _task(skill, items)
    if axis == "objects":
        cubes = ["cube"] if skill in CUBE_SKILLS else []
        return (f"train {skill} on {value} objects too (its policy was trained on 3-5 cm cubes)",
                _task(skill, items, objects=cubes))
    if axis == "targets":
        if value.startswith("table"):
            return (f"train {skill} to set objects on the table beside another (its policy sets them onto cubes "
                    f"and the table only)", _task(skill, items, targets=("cube", "table", value)))
        return (f"train {skill} into a {value} (its policy was trained onto cubes and the table)",
                _task(skill, items, targets=("cube", "table", value)))
    if axis == "parameters":
        low, high = trained.get((skill, value), (0.0, 0.0))
        ranges = _widened(skill, items, trained)
        wide = ranges.get(value, (low, high))
        return (f"widen {skill}'s {value} to {wide[0] * 100:.0f}-{wide[1] * 100:.0f} cm (its policy was trained on "
                f"{low * 100:.0f}-{high * 100:.0f} cm)", _task(skill, items, ranges=ranges))
    if axis == "regions":
        task = _task(skill, items)
        ends = [end for end in map(push_end, items) if end is not None] if value.endswith(PUSH_ENDS) else []
        if ends:
            low, high = np.min(ends, axis=0).round(3), np.max(ends, axis=0).round(3)
            task = replace(task, push_ends=((float(low[0]), float(low[1])), (float(high[0]), float(high[1]))))
        return f"train {skill} over the {value} of the table, outside its training area", task
    if axis == "start states":
        return f"train {skill} from the start states its policy declined", _task(skill, items)
    if axis == "failures":
        return f"fine-tune {skill} on {value}: its learned policy failed {learned} of {len(items)}", _task(skill, items)
    return f"learn what operators correct in {skill} on {value}", _task(skill, items)


def _group_key(item: Analysed, learned: Collection[str] | None, trained: TrainedRanges,
               place_targets: Collection[str], policies: Mapping[str, Policy] | None) -> tuple[str, str, str] | None:
    skill = item.attempt.skill
    if item.kind is AttemptKind.NO_POLICY:
        # a skill that has a policy now ran without it by configuration (a node's learned_skills), or before it had one
        return None if learned is not None and skill in learned else (skill, "new policy", "")
    if item.kind is AttemptKind.DECLINED:
        if policies is not None and recheck(item, policies) is Recheck.TAKEN_NOW:
            return None
        return (skill, *outside_training(item, trained, place_targets))
    if item.kind is AttemptKind.LEARNED_FAILED:
        return skill, "failures", item.context.category
    if item.attempt.corrections:
        parameters = "/".join(sorted({c["parameter"] for c in item.attempt.corrections}))
        return skill, "corrections", f"{item.context.category} ({parameters})"
    return None


def propose(analysis: Analysis, evaluations: Sequence[Evaluation] = (),
            learned: Collection[str] | None = None, trained: TrainedRanges = TRAINED_PARAMETERS,
            place_targets: Collection[str] = DEFAULT_TARGETS,
            policies: Mapping[str, Policy] | None = None) -> list[Proposal]:
    """The curriculum, highest expected gain first. `learned`: the skills that have a learned policy now (the
    registry's); attempts that ran without one are not proposed for those (None: every such attempt is).
    `trained`: the parameter ranges the current policies were trained on (trainable.trained_parameters; default:
    the environments' own); `place_targets`: what the current place was trained to set cubes down on
    (trainable.trained_place_targets); `policies`: the promoted policies (recheck.promoted_policies), whose
    declines are asked again (None: every logged decline is a weak spot)."""
    total = len(analysis.items)
    groups: dict[tuple[str, str, str], list[Analysed]] = {}
    for item in analysis.items:
        key = _group_key(item, learned, trained, place_targets, policies)
        if key is not None:
            groups.setdefault(key, []).append(item)
    proposals = []
    for key, items in groups.items():
        skill = key[0]
        what, task = _from_group(key, items, trained)
        weight = CORRECTION_WEIGHT if key[1] == "corrections" else 1.0
        skill_total = analysis.by_skill[skill].attempts
        proposals.append(Proposal("/".join(k.replace(" ", "_") for k in key if k), skill, what,
                                  _evidence(items, skill_total, analysis.runs), weight * len(items) / max(total, 1),
                                  task, WeakSpot(key[1])))
    for evaluation in evaluations:
        if evaluation.success_rate < TARGET_SUCCESS:
            share = analysis.by_skill[evaluation.skill].attempts / total if evaluation.skill in analysis.by_skill \
                and total else 1.0 / max(len(analysis.by_skill), 1)
            proposals.append(Proposal(
                f"{evaluation.skill}/evaluation", evaluation.skill,
                f"fine-tune {evaluation.skill} in its environment: held-out success {evaluation.success_rate:.2f} "
                f"< {TARGET_SUCCESS}", (f"skillstack eval: {evaluation.success_rate:.2f} over {evaluation.episodes} "
                                        f"episodes of {evaluation.policy} ({evaluation.source})",),
                (1.0 - evaluation.success_rate) * share, TrainingTask(evaluation.skill), WeakSpot.EVALUATION))
    return sorted(_merged(proposals), key=lambda p: (-p.gain, p.id))


def _merged(proposals: list[Proposal]) -> list[Proposal]:
    """One proposal per id (two evaluations of one skill: the worse kept)."""
    best: dict[str, Proposal] = {}
    for proposal in proposals:
        if proposal.id not in best or proposal.gain > best[proposal.id].gain:
            best[proposal.id] = proposal
    return list(best.values())


#: a proposer: (analysis, evaluations) -> curriculum; the deterministic default is `propose`
Proposer = Callable[[Analysis, Sequence[Evaluation]], list[Proposal]]
