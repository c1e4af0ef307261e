"""Learned policies in the skill layer's policy slot.

A policy trained in a skill's environment sees the same observation here, built from the live arm and
world instead of the training scene, so a checkpoint drives the real skill. Checkpoints live in
`checkpoints/<skill>/policy.pt`; skills without one keep their scripted controller, and the episode log
says which ran.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from hardware.resources import config_dir
from skill_lib.spec import SkillContext, SkillSpec

CHECKPOINTS = config_dir().parent / "checkpoints"


def _observation(ctx: SkillContext, obj_position: np.ndarray, obj_size: np.ndarray, touching: bool,
                 last_action: np.ndarray, step: int, max_steps: int) -> np.ndarray:
    """The training environments' observation (skill_lib/learning/envs/base.py), from the live world."""
    tcp = ctx.arm.ee_pose().position
    return np.concatenate([
        tcp, [ctx.arm.gripper_width()], obj_position, obj_position - tcp, obj_size, last_action, [float(touching)],
        [step / max_steps],
    ]).astype(np.float32)


#: reach ignores the training cube, but the network still sees it: show a typical one, not the target
#: (a 24 cm tray is far outside the cube sizes it was trained with and threw the policy off)
STAND_IN_CUBE = (np.array([0.5, 0.0, 0.02]), np.array([0.04, 0.04, 0.04]))


class LearnedMoveTo:
    """move_to driven by the reach policy: goal = above the target object by `height`."""

    kind = "learned"
    tool_yaw = 0.0

    def __init__(self, agent, max_steps: int = 50, tolerance: float = 0.01) -> None:
        self.agent, self.max_steps, self.tolerance = agent, max_steps, tolerance

    def _goal(self, ctx: SkillContext) -> np.ndarray:
        obj = ctx.world.object(ctx.params["target"])
        return np.array([obj.position[0], obj.position[1], obj.top_z + ctx.params["height"]], dtype=np.float32)

    def reset(self, ctx: SkillContext) -> None:
        self._step, self._settled = 0, 0
        self._last = np.zeros(4, dtype=np.float32)

    def act(self, ctx: SkillContext) -> np.ndarray:
        goal, tcp = self._goal(ctx), ctx.arm.ee_pose().position.astype(np.float32)
        self._settled = self._settled + 1 if np.linalg.norm(goal - tcp) < self.tolerance else 0
        obs = {"observation": _observation(ctx, *STAND_IN_CUBE, False, self._last, self._step, self.max_steps),
               "achieved_goal": tcp, "desired_goal": goal}
        action = self.agent.act(obs, deterministic=True)
        action[:3] *= float(ctx.params.get("speed") or 1.0)  # an operator's "slower" still applies
        self._last, self._step = action.astype(np.float32), self._step + 1
        return action

    def done(self, ctx: SkillContext) -> bool:
        return self._settled >= 3 or self._step >= self.max_steps

    def progress(self) -> float:
        return min(1.0, self._step / self.max_steps)


#: skill name -> adapter class, for the skills whose learned policy can drive the real skill
ADAPTERS = {"move_to": LearnedMoveTo}


def with_learned_policies(skills: list[SkillSpec], directory: Path = CHECKPOINTS) -> list[SkillSpec]:
    """The skills, with the policy slot filled wherever a checkpoint and an adapter exist."""
    from skill_lib.learning.train import load_policy

    out = []
    for spec in skills:
        path = directory / spec.name / "policy.pt"
        if spec.name in ADAPTERS and path.is_file():
            agent = load_policy(path)
            adapter = ADAPTERS[spec.name]
            spec = dataclasses.replace(spec, policy=lambda agent=agent, adapter=adapter: adapter(agent))
        out.append(spec)
    return out
