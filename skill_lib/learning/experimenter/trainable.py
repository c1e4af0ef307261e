"""Which proposals can be trained today, and on what.

Every learnable skill trains in its own environment (skill_lib/learning/envs): 3-5 cm cubes (and the Lego brick when
asked; for pick, the scenes' mug by its handle too), set onto cubes and the table (beside cubes, into trays and bins
when asked), start positions drawn from fixed boxes, pushes of 5-15 cm unless asked for others; pull, the scenes'
cabinet. A proposal is trainable when what it asks for is more of what the skill's environment already is: the
learned policy's failures on cubes (FAILURES), an evaluation below target
(EVALUATION), a skill that has an environment and no policy (NEW_POLICY); or when it asks for a parameter range, a
place target or an object an environment option gives (PARAMETERS: push distances, the `distances` option; TARGETS:
the table beside an object, a tray or a bin, the place environment's `targets`; OBJECTS: the Lego brick, and for pick
the mug, the `objects` option; REGIONS where pushes end, within the push skill's reach: the push environment's
`goal_box`). Its candidate is the skill's recipe (skill_lib/learning/recipes.py) trained anew at the experiment's
seeds, in the recipe's environment with the options `env_options` gives over it: for a ranged parameter, the range
the current policy was trained on merged with the proposal's, clipped to the skill's bounds; for place targets and
objects, the current policy's and the proposal's (a candidate never covers less than what it would replace; the
learned skills decline by their own checkpoints' options, so a promoted candidate runs what it was trained for); for
the regions where pushes end, the recipe's goal box joined with the logged ends, PUSH_END_MARGIN wider.

Every other proposal is "not trainable yet", and why is said, never trained on something else instead:
- a skill without a learning environment (open_gripper, close_gripper);
- objects other than cubes, the Lego brick and (for pick) the mug, place targets other than cubes, the table and trays
  and bins
  (OBJECTS, TARGETS, and any proposal whose task names them);
- a parameter range no environment option gives (any parameter other than push's distance);
- other regions and start states outside the environment's boxes (REGIONS, START_STATES), and pushes that end beyond
  the push skill's reach (which the skill refuses);
- operator corrections (CORRECTIONS): they change a skill's parameters, which its policy takes as input, so
  training the policy does not learn them.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from skill_lib.learning import LEARNABLE
from skill_lib.learning.envs.base import DEFAULT_OBJECTS, trained_objects
from skill_lib.learning.envs.place import DEFAULT_TARGETS, trained_targets
from skill_lib.learning.envs.push import trained_distances, trained_goal_box
from skill_lib.learning.experimenter.propose import (CUBE_SKILLS, TRAINED_PARAMETERS, Proposal, TrainedRanges,
                                                     WeakSpot)
from skill_lib.learning.registry import PolicyRegistry
from skill_lib.skills import push
from skill_lib.spec import ParamSpec

#: skills whose environment's `objects` option (skill_lib/learning/envs/base.py) a candidate may widen: those whose
#: demonstrator handles every kind their environment takes (the Lego brick with DART noise 0.1: pick 25 of 25 seeds,
#: place 39 of 40, push 20 of 20; pick's mug by its handle: 60 of 60)
OBJECT_OPTION = ("pick", "place", "push")
#: place targets a proposal names -> the place environment's `targets` that train them (its trays and bins are
#: pybullet_data's traybox, what the scenes' trays and bins are)
PLACE_TARGETS = {"cube": "cube", "table": "table", "table beside an object": "beside", "tray": "container",
                 "bin": "container"}
#: how far around the logged ends of pushes a candidate's goal box reaches (metres)
PUSH_END_MARGIN = 0.02
#: the weak spots a skill's own environment can train for (PARAMETERS: those in RANGE_OPTIONS)
TRAINABLE = (WeakSpot.FAILURES, WeakSpot.EVALUATION, WeakSpot.NEW_POLICY, WeakSpot.PARAMETERS, WeakSpot.TARGETS,
             WeakSpot.OBJECTS)
#: (skill, parameter) -> the environment option that sets the range trained on, and the parameter (its bounds)
RANGE_OPTIONS: dict[tuple[str, str], tuple[str, ParamSpec]] = {("push", "distance"): ("distances", push.DISTANCE)}


def trained_range(skill: str, name: str, env_options: Mapping[str, Any]) -> tuple[float, float]:
    """The range of a ranged parameter a policy trained with these environment options covers."""
    if (skill, name) == ("push", "distance"):
        return trained_distances(env_options)
    raise ValueError(f"no environment option sets {skill}'s {name}")


def trained_parameters(registry: PolicyRegistry) -> dict[tuple[str, str], tuple[float, float]]:
    """The parameter ranges the promoted policies were trained on (from their checkpoints' configs); a skill with
    none promoted: its environment's default (what its recipe trains). RegistryError for a missing or changed
    checkpoint."""
    from skill_lib.learning.train import load_config

    ranges = dict(TRAINED_PARAMETERS)
    for skill, name in RANGE_OPTIONS:
        version = registry.promoted(skill)
        if version is not None:
            ranges[(skill, name)] = trained_range(skill, name, load_config(registry.checkpoint(version)).env_options)
    return ranges


def trained_place_targets(registry: PolicyRegistry) -> tuple[str, ...]:
    """What the promoted place was trained to set cubes down on (its checkpoint's `targets`); none promoted: the
    environment's default. RegistryError for a missing or changed checkpoint."""
    from skill_lib.learning.train import load_config

    version = registry.promoted("place")
    return trained_targets(load_config(registry.checkpoint(version)).env_options if version else {})


def promoted_objects(registry: PolicyRegistry) -> dict[str, tuple[str, ...]]:
    """What the promoted policies of OBJECT_OPTION skills were trained to handle (their checkpoints' `objects`); a
    skill with none promoted: cubes. RegistryError for a missing or changed checkpoint."""
    from skill_lib.learning.train import load_config

    objects = {}
    for skill in OBJECT_OPTION:
        version = registry.promoted(skill)
        objects[skill] = trained_objects(load_config(registry.checkpoint(version)).env_options if version else {})
    return objects


def _allowed_objects(skill: str) -> tuple[str, ...]:
    """The object kinds a skill's environment trains on: those of its `objects` option (OBJECT_OPTION skills)."""
    from skill_lib.learning import load_entry_point

    return load_entry_point(LEARNABLE[skill].env_entry_point).object_kinds if skill in OBJECT_OPTION \
        else DEFAULT_OBJECTS


def env_options(proposal: Proposal, trained: TrainedRanges = TRAINED_PARAMETERS,
                place_targets: Sequence[str] = DEFAULT_TARGETS,
                objects: Mapping[str, Sequence[str]] | None = None) -> dict[str, Any]:
    """The environment options its candidate trains with: each ranged parameter's range as the current policy was
    trained on (`trained`), merged with the proposal's, clipped to the skill's bounds; for place, the targets the
    current policy was trained on (`place_targets`) and the proposal's; for OBJECT_OPTION skills, the objects the
    current policy was trained on (`objects`, per skill: promoted_objects) and the proposal's; for the regions where
    pushes end, the push recipe's goal box joined with them (push_goal_box); none where that is the environment's
    default."""
    options: dict[str, Any] = {}
    if proposal.skill in OBJECT_OPTION:
        current = (objects or {}).get(proposal.skill, DEFAULT_OBJECTS)
        allowed = _allowed_objects(proposal.skill)
        kinds = trained_objects({"objects": [*current, *(o for o in proposal.task.objects if o in allowed)]}, allowed)
        if kinds != DEFAULT_OBJECTS:
            options["objects"] = list(kinds)
    if proposal.skill == "place":
        targets = trained_targets({"targets": [*place_targets, *(PLACE_TARGETS[t] for t in proposal.task.targets)]})
        if targets != DEFAULT_TARGETS:
            options["targets"] = list(targets)
    for (skill, name), (option, spec) in RANGE_OPTIONS.items():
        if skill != proposal.skill:
            continue
        low, high = trained.get((skill, name), TRAINED_PARAMETERS[(skill, name)])
        if name in proposal.task.parameter_ranges:
            asked = proposal.task.parameter_ranges[name]
            low, high = min(low, asked[0]), max(high, asked[1])
        shortest, longest = spec.bounds
        wide = (round(max(low, shortest), 3), round(min(high, longest), 3))
        if wide != TRAINED_PARAMETERS[(skill, name)]:
            options[option] = wide
    if proposal.axis is WeakSpot.REGIONS and proposal.skill == "push" and proposal.task.push_ends is not None:
        options["goal_box"] = push_goal_box(proposal.task.push_ends)
    return options


def _cm(low: float, high: float) -> str:
    return f"{low * 100:.0f}-{high * 100:.0f} cm"


def why_not_trainable(proposal: Proposal) -> str | None:
    """Why the proposal cannot be trained today (one line), or None: it trains in its skill's own environment, with
    `env_options`."""
    skill, task, axis = proposal.skill, proposal.task, proposal.axis
    if skill not in LEARNABLE:
        return f"{skill} has no learning environment (learnable: {', '.join(LEARNABLE)})"
    env = f"the {skill} environment"
    allowed = _allowed_objects(skill)
    objects = [o for o in task.objects if o not in allowed] if skill in CUBE_SKILLS else []
    if objects or axis is WeakSpot.OBJECTS and not task.objects:  # (an object the logs could not name: no cube)
        named = ", ".join(objects) or proposal.id.rsplit("/", 1)[-1]
        kinds = "3-5 cm cubes" + (" and the Lego brick" if "lego" in allowed else "") + \
            (" and the mug by its handle" if "mug" in allowed else "")
        return f"{env} has {kinds} only, with no option for {named} objects"
    targets = [t for t in task.targets if t not in PLACE_TARGETS]
    if targets:
        return (f"{env} sets cubes onto cubes and the table, beside cubes and into trays and bins, with no option for "
                f"{', '.join(targets)} as the target")
    if axis is WeakSpot.PARAMETERS:
        unset = [name for name in task.parameter_ranges if (skill, name) not in RANGE_OPTIONS]
        if unset or not task.parameter_ranges:
            return f"{env} has no option for the parameter ranges {', '.join(unset) or 'asked for'}"
    if axis is WeakSpot.REGIONS and skill == "push" and task.push_ends is not None:
        try:
            push_goal_box(task.push_ends)
        except ValueError:
            lo, hi = task.push_ends
            return (f"the pushes end at ({lo[0]:.2f}, {lo[1]:.2f})-({hi[0]:.2f}, {hi[1]:.2f}), beyond the push "
                    f"skill's reach")
        return None
    if axis is WeakSpot.REGIONS:
        return (f"{env} draws its start and goal positions from fixed boxes, with no option for the "
                f"{', '.join(task.regions)}")
    if axis is WeakSpot.START_STATES:
        return (f"{env} draws its start states (the hand, the cube) from fixed boxes, with no option for the ones "
                f"its policy declined")
    if axis is WeakSpot.CORRECTIONS:
        return (f"operators corrected {skill}'s parameters, which its policy takes as input: training the policy does "
                f"not learn them (distilling corrections into training is not built)")
    assert axis in TRAINABLE, axis
    return None


def push_goal_box(ends: tuple[tuple[float, float], tuple[float, float]]) -> list[list[float]]:
    """The push recipe's goal box joined with `ends` (the (x, y) corners of logged push ends), PUSH_END_MARGIN wider
    around them, as the `goal_box` option; ValueError where that leaves the push skill's reach."""
    from skill_lib.learning.recipes import ENVIRONMENTS

    (x0, y0), (x1, y1) = trained_goal_box(ENVIRONMENTS["push"])
    (a0, b0), (a1, b1) = ends
    box = [[round(min(x0, a0 - PUSH_END_MARGIN), 3), round(min(y0, b0 - PUSH_END_MARGIN), 3)],
           [round(max(x1, a1 + PUSH_END_MARGIN), 3), round(max(y1, b1 + PUSH_END_MARGIN), 3)]]
    trained_goal_box({"goal_box": box})
    return box


def what_is_trained(skill: str, options: Mapping[str, Any] | None = None) -> str:
    """`options`: the environment options (env_options) it trains with."""
    with_options = f" with {', '.join(f'{k}={v}' for k, v in options.items())}" if options else ""
    return f"the {skill} recipe (skill_lib/learning/recipes.py) trained anew in the {skill} environment{with_options}"
