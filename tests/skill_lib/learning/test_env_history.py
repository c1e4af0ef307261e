"""The learning environments are history-independent: every reset restores the world as it was built, so a
seed's episode is the same, bit for bit, whatever ran before it in the same environment. Evaluations then do
not depend on the order of their episodes, and a resumed run equals an uninterrupted one. Without the restore,
contacts, their solver warm starts and objects' sleep carried over, and these episodes differed."""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import skill_lib.learning  # noqa: F401  (registers the environments)
from skill_lib.learning.train import demonstration


def _observations(env: gym.Env, seed: int) -> np.ndarray:
    """Every observation of the scripted demonstrator's episode from `seed`."""
    episode, _, _ = demonstration(env, seed)
    return episode.obs


@pytest.mark.parametrize("env_id", ["SkillStack/Place-v0", "SkillStack/Push-v0"])
def test_an_episode_does_not_depend_on_the_episodes_before_it(env_id):
    after_others, alone = gym.make(env_id), gym.make(env_id)
    try:
        _observations(after_others, 2)
        np.testing.assert_array_equal(_observations(after_others, 3), _observations(alone, 3))
    finally:
        after_others.close()
        alone.close()
