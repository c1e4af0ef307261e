"""Which proposals can be trained today, and on what.

Every learnable skill trains in its own environment only (skill_lib/learning/envs): 3-5 cm cubes, set onto cubes
and the table, pushes of 5-15 cm, start positions drawn from fixed boxes. No environment has an option to train on
anything else yet, so a proposal is trainable only when what it asks for is more of what the skill's environment
already is: the learned policy's failures on cubes (FAILURES), an evaluation below target (EVALUATION), a skill
that has an environment and no policy (NEW_POLICY). Its candidate is the skill's recipe
(skill_lib/learning/recipes.py) trained anew at the experiment's seeds, in that environment.

Every other proposal is "not trainable yet", and why is said, never trained on something else instead:
- a skill without a learning environment (pull);
- objects other than cubes, place targets other than cubes and the table (OBJECTS, TARGETS, and any proposal
  whose task names them);
- a parameter range outside the environment's (PARAMETERS: pushes of 2-25 cm). PushEnv.distances is a class
  constant, and the learned push declines pushes outside it (skill_lib/learning/policy.py): an environment option
  alone would leave a promoted candidate declining the very pushes it was trained for, so both wait;
- regions and start states outside the environment's boxes (REGIONS, START_STATES);
- operator corrections (CORRECTIONS): they change a skill's parameters, which its policy takes as input, so
  training the policy does not learn them.
"""
from __future__ import annotations

from skill_lib.learning import LEARNABLE
from skill_lib.learning.experimenter.propose import CUBE_SKILLS, TRAINED_PARAMETERS, Proposal, WeakSpot

#: what the cube skills' environments train on
TRAINED_OBJECTS = ("cube",)
TRAINED_TARGETS = ("cube", "table")
#: the weak spots a skill's own environment can train for
TRAINABLE = (WeakSpot.FAILURES, WeakSpot.EVALUATION, WeakSpot.NEW_POLICY)


def _cm(low: float, high: float) -> str:
    return f"{low * 100:.0f}-{high * 100:.0f} cm"


def why_not_trainable(proposal: Proposal) -> str | None:
    """Why the proposal cannot be trained today (one line), or None: it trains in its skill's own environment."""
    skill, task, axis = proposal.skill, proposal.task, proposal.axis
    if skill not in LEARNABLE:
        return f"{skill} has no learning environment (learnable: {', '.join(LEARNABLE)})"
    env = f"the {skill} environment"
    objects = [o for o in task.objects if o not in TRAINED_OBJECTS] if skill in CUBE_SKILLS else []
    if objects:
        return f"{env} has 3-5 cm cubes only, with no option for {', '.join(objects)} objects"
    targets = [t for t in task.targets if t not in TRAINED_TARGETS]
    if targets:
        return f"{env} sets cubes onto cubes and the table, with no option for {', '.join(targets)} as the target"
    for name, (low, high) in task.parameter_ranges.items():
        trained = TRAINED_PARAMETERS.get((skill, name))
        if trained is not None and not (trained[0] <= low and high <= trained[1]):
            return (f"{env} trains {name} {_cm(*trained)}, with no option for {_cm(low, high)} (and the learned "
                    f"{skill} declines {name}s outside {_cm(*trained)}, skill_lib/learning/policy.py, so a promoted "
                    f"candidate would not run on them either)")
    if axis is WeakSpot.PARAMETERS:
        return f"{env} has no option for the parameter ranges {', '.join(task.parameter_ranges) or 'asked for'}"
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


def what_is_trained(skill: str) -> str:
    return f"the {skill} recipe (skill_lib/learning/recipes.py) trained anew in the {skill} environment"
