"""Held-out episodes of one policy, for the judge: a learned checkpoint or the scripted reference controller (what
runs when a skill has no promoted policy), on the seeds `skillstack eval SKILL --seed N` uses, episode by episode.

The seeds are checked first against every seed a policy was trained or selected on (its demonstrations, its RL
episodes, its training evaluations): a comparison on those would favour it.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from skill_lib.learning.experimenter.judge import HeldOut
from skill_lib.learning.mcsac import TrainConfig, make_env
from skill_lib.learning.train import (demonstration, eval_seeds, load_policy, run_episode,
                                      training_seeds)

SCRIPTED = "the scripted reference controller"


def held_out_seeds(eval_seed: int, episodes: int) -> tuple[int, ...]:
    return tuple(eval_seeds(eval_seed, episodes))


def reused_seeds(seeds: Sequence[int], config: TrainConfig) -> list[int]:
    """The held-out seeds a run with this config trained on or chose its policy on (empty: none)."""
    trained, selected = training_seeds(config), set(eval_seeds(config.seed, config.eval_episodes))
    return [s for s in seeds if s in trained or s in selected]


def policy_config(checkpoint: Path) -> TrainConfig:
    """The training settings a policy.pt carries."""
    return load_policy(checkpoint).config


def run_held_out(skill: str, checkpoint: Path | None, seeds: Sequence[int]) -> HeldOut:
    """The policy in `checkpoint` (None: the scripted reference controller) on each seed's episode."""
    env = make_env(skill)
    try:
        if checkpoint is None:
            runs = [demonstration(env, seed)[:2] for seed in seeds]
        else:
            agent = load_policy(checkpoint)
            runs = [run_episode(env, lambda obs: agent.act(obs, deterministic=True), seed)[:2] for seed in seeds]
    finally:
        env.close()
    return HeldOut(SCRIPTED if checkpoint is None else str(checkpoint), tuple(seeds),
                   tuple(success for _, success in runs),
                   tuple(tuple(float(r) for r in episode.terms.sum(0)) for episode, _ in runs))
