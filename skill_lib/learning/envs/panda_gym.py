"""panda-gym's environments (optional: `pip install -e '.[bench]'`) in the learner's interface, for the
flat-policy baseline: the same learner, from scratch, on PandaReach / PandaPush / PandaPickAndPlace /
PandaStack. panda-gym has one sparse reward, so it becomes the task term; safety and effort are 0.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np

PREFIX = "panda:"


class PandaGymTerms(gym.Wrapper):
    """Adds `info["reward_terms"]` and the `max_steps` / `compute_reward` the training loop reads."""

    def __init__(self, env_id: str) -> None:
        try:
            import panda_gym  # noqa: F401  (registers the environments)
        except ImportError as err:
            raise ImportError("panda-gym is not installed: pip install -e '.[bench]'") from err
        env = gym.make(env_id)
        super().__init__(env)
        self.max_steps = env.spec.max_episode_steps
        self.compute_reward = env.unwrapped.compute_reward

    @property
    def unwrapped(self):  # train.py reads max_steps and compute_reward from env.unwrapped
        return self

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = {**info, "reward_terms": np.array([reward, 0.0, 0.0], dtype=np.float32)}
        return obs, reward, terminated, truncated, info

    def demonstrator(self):
        raise NotImplementedError("panda-gym has no scripted demonstrator: train it from scratch (--demos 0)")
