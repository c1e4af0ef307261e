"""Every promoted checkpoint (what the skill layer runs: the registry's promoted version) still performs
(success over 20 seeded held-out episodes above a floor) and was trained with its skill's recipe, so the bare
`skillstack train SKILL` reproduces it."""
from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import torch

from skill_lib.learning.mcsac import TrainConfig, make_env
from skill_lib.learning.recipes import recipe
from skill_lib.learning.registry import PolicyRegistry
from skill_lib.learning.train import evaluate, load_policy

REGISTRY = PolicyRegistry()
COMMITTED = REGISTRY.skills()
FLOOR = 0.9


def promoted(skill: str):
    path = REGISTRY.promoted_checkpoint(skill)
    assert path is not None, f"{skill}: no promoted version"
    return path


def test_the_committed_checkpoints_are_the_expected_ones():
    assert {"move_to", "pick", "place", "push"} <= set(COMMITTED)  # reproduce: see README "Learned skills"


@pytest.mark.parametrize("skill", COMMITTED)
def test_committed_checkpoint_success_above_floor(skill):
    env = make_env(skill)
    rate = evaluate(load_policy(promoted(skill)), env, 20, seed=3)
    env.close()
    assert rate >= FLOOR, f"{skill}: {rate:.2f} < {FLOOR}"


#: the settings a warm-start-only run's result depends on, and those its RL phase adds
WARM_START_FIELDS = ("skill", "total_steps", "demo_episodes", "bc_pretrain_steps", "demo_noise", "hidden", "lr",
                     "batch_size")
RL_FIELDS = ("multi_critic", "actor_update", "actor_lr", "eval_every", "eval_episodes", "updates_per_step")


@pytest.mark.parametrize("skill", COMMITTED)
def test_committed_checkpoint_was_trained_with_its_recipe(skill):
    saved = torch.load(promoted(skill), weights_only=False)["config"]
    expected, defaults = asdict(recipe(skill, seed=saved["seed"])), asdict(TrainConfig())
    # a checkpoint older than a setting was trained with its default
    checked = WARM_START_FIELDS + (RL_FIELDS if expected["total_steps"] else ())
    assert {f: saved.get(f, defaults[f]) for f in checked} == {f: expected[f] for f in checked}
    # the environment it was trained in too (JSON gives tuples back as lists)
    assert json.loads(json.dumps(saved.get("env_options") or {})) == json.loads(json.dumps(expected["env_options"] or {}))
