"""Runs one skill: checks preconditions, steps its policy in the control loop, checks postconditions."""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from hardware.arm import ArmInterface, WorldView
from hardware.safety import SafetyError
from skill_lib.outcome import OutcomeKind, SkillOutcome
from skill_lib.spec import ACTION_SCALE, Policy, SkillContext, SkillParamError, SkillSpec

#: control steps to let the world settle after the policy finishes, before judging success
SETTLE_STEPS = 4


def apply_action(arm: ArmInterface, action: np.ndarray, yaw: float = 0.0) -> None:
    """Turn a policy action [dx, dy, dz, gripper] in [-1, 1] into arm commands (through safety)."""
    action = np.asarray(action, dtype=float).reshape(-1)
    if action.shape != (4,) or not np.all(np.isfinite(action)):
        raise SafetyError(f"policy produced an invalid action: {action.tolist()}")
    action = np.clip(action, -1.0, 1.0)
    arm.command_ee(arm.ee_pose().position + action[:3] * ACTION_SCALE, arm.tool_down(yaw))
    arm.command_gripper((action[3] + 1.0) / 2.0 * arm.gripper_max_width)


def choose_policy(spec: SkillSpec, world: WorldView, params: Mapping[str, Any],
                  tool: np.ndarray | None = None) -> tuple[Policy, str | None]:
    """The policy for this attempt, and why the scripted controller runs (None when the learned one does):
    the learned policy runs if the skill's slot is filled and it does not decline the context (`tool`: where
    the tool centre point starts)."""
    if spec.policy is None:
        return spec.scripted(), "no learned policy"
    policy = spec.policy()
    try:
        declined = policy.declines(world, params, tool)
    except KeyError:  # an object that is not there: the skill's preconditions say so
        declined = None
    return (spec.scripted(), declined) if declined else (policy, None)


def run_skill(
    spec: SkillSpec,
    params: Mapping[str, Any],
    arm: ArmInterface,
    world: WorldView,
    *,
    policy: Policy | None = None,
    on_step: Callable[[int, float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    param_updates: Callable[[], Mapping[str, Any] | None] | None = None,
) -> SkillOutcome:
    """Run `spec` until its policy finishes or it times out; success is read from the world.

    `param_updates` is polled every control step; parameters it returns (an operator's correction
    arriving mid-skill) are validated and take effect in the running loop. Controllers read
    `ctx.params` every step, so e.g. `speed` and place offsets change the motion at once.
    """
    chosen: list[Policy] = []  # the policy that ran, for the outcome of a safety stop
    try:
        return _run(spec, params, arm, world, policy, on_step, should_stop, param_updates, chosen)
    except SafetyError as err:  # e-stop, a refused command, the arm gone: the attempt ends here
        return SkillOutcome(spec.name, dict(params), OutcomeKind.SAFETY_STOP, f"safety stop: {err}",
                            policy=chosen[0].kind if chosen else SkillOutcome.policy)


def _run(spec: SkillSpec, params: Mapping[str, Any], arm: ArmInterface, world: WorldView, policy: Policy | None,
         on_step: Callable[[int, float], None] | None, should_stop: Callable[[], bool] | None,
         param_updates: Callable[[], Mapping[str, Any] | None] | None, chosen: list[Policy]) -> SkillOutcome:
    try:
        bound = spec.bind(params)
    except SkillParamError as err:
        return SkillOutcome(spec.name, dict(params), OutcomeKind.BAD_PARAMETERS, f"bad parameters: {err}")
    ctx = SkillContext(arm, world, bound)
    failed = spec.failed_conditions(ctx, "pre")
    if failed:
        return SkillOutcome(spec.name, bound, OutcomeKind.PRECONDITION_FAILED,
                            "precondition failed: " + "; ".join(failed), failed_conditions=failed)
    policy = policy or choose_policy(spec, world, bound, arm.ee_pose().position)[0]
    chosen.append(policy)
    policy.reset(ctx)
    max_steps = math.ceil(spec.timeout_s / arm.control_dt)
    steps = 0
    while steps < max_steps and not policy.done(ctx):
        if should_stop is not None and should_stop():
            return SkillOutcome(spec.name, bound, OutcomeKind.STOPPED, "stopped", steps, steps * arm.control_dt,
                                policy.kind)
        if param_updates is not None and (updates := param_updates()):
            ctx.params.update(spec.bind({**ctx.params, **updates}))
        apply_action(arm, policy.act(ctx), policy.tool_yaw)
        arm.step()
        steps += 1
        if on_step is not None:
            on_step(steps, policy.progress())
    for _ in range(SETTLE_STEPS):
        if should_stop is not None and should_stop():
            break  # stop now; the outcome is still read from the world
        arm.step()
    failed = spec.failed_conditions(ctx, "post")
    if not failed:
        kind, message = OutcomeKind.SUCCEEDED, "ok"
    elif policy.done(ctx):
        kind, message = OutcomeKind.POSTCONDITION_FAILED, "postcondition failed: " + "; ".join(failed)
    else:
        kind, message = OutcomeKind.TIMED_OUT, "timed out; postcondition failed: " + "; ".join(failed)
    return SkillOutcome(spec.name, bound, kind, message, steps, steps * arm.control_dt, policy.kind, failed)


#: called once the policy is chosen, before the first step: (policy kind, why the scripted one runs or None)
StartHook = Callable[[str, str | None], None]


class SkillRunner(ABC):
    """Runs one skill attempt where the control loop is: in this process (LocalSkillRunner: the CLI, tests,
    benchmarks) or in the skill server next to the arm (the scheduler node's ExecuteSkill client)."""

    @abstractmethod
    def run(self, skill: str, params: Mapping[str, Any], *, scripted: bool = False,
            on_start: StartHook | None = None, on_step: Callable[[int, float], None] | None = None,
            should_stop: Callable[[], bool] | None = None,
            param_updates: Callable[[], Mapping[str, Any] | None] | None = None) -> SkillOutcome:
        """One attempt of `skill`; `scripted` runs the reference controller even where a learned policy exists.
        The hooks are run_skill's, plus `on_start`."""


class LocalSkillRunner(SkillRunner):
    """The control loop in this process, on `arm` and `world`."""

    def __init__(self, skills: Mapping[str, SkillSpec], arm: ArmInterface, world: WorldView) -> None:
        self.skills, self.arm, self.world = skills, arm, world

    def run(self, skill: str, params: Mapping[str, Any], *, scripted: bool = False,
            on_start: StartHook | None = None, on_step: Callable[[int, float], None] | None = None,
            should_stop: Callable[[], bool] | None = None,
            param_updates: Callable[[], Mapping[str, Any] | None] | None = None) -> SkillOutcome:
        spec = self.skills.get(skill)
        if spec is None:
            return SkillOutcome(skill, dict(params), OutcomeKind.BAD_PARAMETERS,
                                f"bad parameters: unknown skill {skill!r}; known: {', '.join(self.skills)}")
        policy, fallback = (spec.scripted(), None) if scripted else \
            choose_policy(spec, self.world, params, self.arm.ee_pose().position)
        if on_start is not None:
            on_start(policy.kind, fallback)
        return run_skill(spec, params, self.arm, self.world, policy=policy, on_step=on_step,
                         should_stop=should_stop, param_updates=param_updates)
