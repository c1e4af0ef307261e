"""Runs one skill: checks preconditions, steps its policy in the control loop, checks postconditions."""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hardware.arm import ArmInterface, WorldView
from hardware.safety import SafetyError
from skill_lib.spec import ACTION_SCALE, Policy, SkillContext, SkillParamError, SkillSpec

#: control steps to let the world settle after the policy finishes, before judging success
SETTLE_STEPS = 4


@dataclass
class SkillOutcome:
    skill: str
    params: dict[str, Any]
    success: bool
    message: str
    steps: int = 0
    sim_seconds: float = 0.0
    #: 'scripted' or 'learned': which controller actually ran
    policy: str = "scripted"
    failed_conditions: list[str] = field(default_factory=list)


def apply_action(arm: ArmInterface, action: np.ndarray, yaw: float = 0.0) -> None:
    """Turn a policy action [dx, dy, dz, gripper] in [-1, 1] into arm commands (through safety)."""
    action = np.asarray(action, dtype=float).reshape(-1)
    if action.shape != (4,) or not np.all(np.isfinite(action)):
        raise SafetyError(f"policy produced an invalid action: {action.tolist()}")
    action = np.clip(action, -1.0, 1.0)
    arm.command_ee(arm.ee_pose().position + action[:3] * ACTION_SCALE, arm.tool_down(yaw))
    arm.command_gripper((action[3] + 1.0) / 2.0 * arm.gripper_max_width)


def choose_policy(spec: SkillSpec) -> Policy:
    """The learned policy if the slot is filled, else the scripted reference controller."""
    return spec.policy() if spec.policy is not None else spec.scripted()


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
    try:
        bound = spec.bind(params)
    except SkillParamError as err:
        return SkillOutcome(spec.name, dict(params), False, f"bad parameters: {err}")
    ctx = SkillContext(arm, world, bound)
    failed = spec.failed_conditions(ctx, "pre")
    if failed:
        return SkillOutcome(spec.name, bound, False, "precondition failed: " + "; ".join(failed),
                            failed_conditions=failed)
    policy = policy or choose_policy(spec)
    policy.reset(ctx)
    max_steps = math.ceil(spec.timeout_s / arm.control_dt)
    steps = 0
    while steps < max_steps and not policy.done(ctx):
        if should_stop is not None and should_stop():
            return SkillOutcome(spec.name, bound, False, "stopped", steps, steps * arm.control_dt, policy.kind)
        if param_updates is not None and (updates := param_updates()):
            ctx.params.update(spec.bind({**ctx.params, **updates}))
        apply_action(arm, policy.act(ctx), getattr(policy, "tool_yaw", 0.0))
        arm.step()
        steps += 1
        if on_step is not None:
            on_step(steps, policy.progress())
    for _ in range(SETTLE_STEPS):
        arm.step()
    failed = spec.failed_conditions(ctx, "post")
    timed_out = not policy.done(ctx)
    if not failed:
        message = "ok"
    else:
        message = ("timed out; " if timed_out else "") + "postcondition failed: " + "; ".join(failed)
    return SkillOutcome(spec.name, bound, not failed, message, steps, steps * arm.control_dt, policy.kind, failed)
