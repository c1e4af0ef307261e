"""Held-out episodes of one policy, for the judge: a learned checkpoint or the scripted reference controller (what
runs when a skill has no promoted policy), on the seeds `skillstack eval SKILL --seed N` uses, episode by episode.

The seeds are checked first against every seed a policy was trained or selected on (its demonstrations, its RL
episodes, its training evaluations): a comparison on those would favour it.

The episodes may come from an environment with options (a candidate trained on a wider push range is compared on
that range). A learned policy whose checkpoint was trained on a narrower range would decline the episodes outside
it on the robot (skill_lib/learning/policy.py): such an episode is not run and counts as its failure, with returns
(-episode limit, 0, 0) (the task term's -1 every step; no safety cost and no effort spent), and HeldOut.declined
marks it. The scripted reference controller declines nothing.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym

from skill_lib.learning.envs.base import SkillEnv
from skill_lib.learning.experimenter.judge import HeldOut
from skill_lib.learning.mcsac import TrainConfig, make_env
from skill_lib.learning.policy import as_on_the_robot
from skill_lib.learning.train import demonstration, eval_seeds, load_policy, run_episode, training_seeds

SCRIPTED = "the scripted reference controller"


def held_out_seeds(eval_seed: int, episodes: int) -> tuple[int, ...]:
    return tuple(eval_seeds(eval_seed, episodes))


def reused_seeds(seeds: Sequence[int], config: TrainConfig) -> list[int]:
    """The held-out seeds a run with this config trained on or chose its policy on (empty: none)."""
    trained, selected = training_seeds(config), set(eval_seeds(config.seed, config.eval_episodes))
    return [s for s in seeds if s in trained or s in selected]


def declines(config: TrainConfig, env: gym.Env) -> bool:
    """Whether a policy trained with `config` would decline the episode `env` was just reset to: a push outside the
    distances its environment options gave it, a place onto a target they did not (what LearnedPush.declines and
    LearnedPlace.declines check on the robot)."""
    from skill_lib.learning.envs.place import PlaceEnv, trained_targets
    from skill_lib.learning.envs.push import PushEnv, trained_distances

    push = env.unwrapped
    if isinstance(push, PlaceEnv):
        return push.target not in trained_targets(config.env_options)
    if not isinstance(push, PushEnv):
        return False
    low, high = trained_distances(config.env_options)
    distance = push.direction_and_distance()[1]  # from a float32 goal: a drawn low or high may read 1e-8 beyond it
    return not low - 1e-6 <= distance <= high + 1e-6


def run_held_out(skill: str, checkpoint: Path | None, seeds: Sequence[int],
                 env_options: Mapping[str, Any] | None = None) -> HeldOut:
    """The policy in `checkpoint` (None: the scripted reference controller) on each seed's episode, in the skill's
    environment with `env_options`; episodes it would decline count as failures (the module doc)."""
    env = make_env(skill, env_options)
    successes: list[bool] = []
    returns: list[tuple[float, ...]] = []
    declined: list[bool] = []
    try:
        agent = None if checkpoint is None else load_policy(checkpoint)
        if agent is not None:
            as_on_the_robot(env, agent.config)
        for seed in seeds:
            if agent is not None:
                env.reset(seed=seed)
                if declines(agent.config, env):
                    successes.append(False)
                    assert isinstance(env.unwrapped, SkillEnv)  # only a skill environment's policy declines
                    returns.append((-float(env.unwrapped.max_steps), 0.0, 0.0))
                    declined.append(True)
                    continue
            if agent is None:
                episode, success = demonstration(env, seed)[:2]
            else:
                episode, success = run_episode(env, lambda obs: agent.act(obs, deterministic=True), seed)[:2]
            successes.append(success)
            returns.append(tuple(float(r) for r in episode.terms.sum(0)))
            declined.append(False)
    finally:
        env.close()
    return HeldOut(SCRIPTED if checkpoint is None else str(checkpoint), tuple(seeds), tuple(successes),
                   tuple(returns), tuple(declined))
