"""The place environment's `guarded` option: the policy trains on the hand the skill layer gives it on the arm.

LearnedPlace runs every action through a ReleaseGuard (the fingers open no wider than the scripted place opens them,
never with the cube away from its goal, and once they have let go the hand rises clear). A policy trained without it
learned to leave from fully open fingers; with the option its environment runs the same guard.
"""
from __future__ import annotations

import numpy as np
import pytest

from skill_lib.controllers import CLOSED, OPEN
from skill_lib.learning.mcsac import make_env
from skill_lib.learning.train import run_episode
from skill_lib.skills import place

OPEN_HAND = np.array([0.0, 0.0, 0.0, OPEN], dtype=np.float32)
#: where the observation shows the gripper action that ran last (envs/base.py: tool, width, object, offset, size, action)
LAST_GRIPPER = 3 + 1 + 3 + 3 + 3 + 3


def _demonstrated_until_let_go(env, limit: int = 70) -> int:
    """Follow the demonstrator until the guard has seen the hand let go; the steps taken."""
    controller = env.unwrapped.demonstrator()
    ctx = env.unwrapped.skill_context()
    controller.reset(ctx)
    for step in range(limit):
        env.step(np.asarray(controller.act(ctx), dtype=np.float32))
        if env.unwrapped._guard.let_go_at is not None:
            return step
    raise AssertionError("the demonstrator never let go")


@pytest.mark.parametrize("guarded", [False, True])
def test_the_hand_opens_no_wider_than_the_release_width_only_when_guarded(guarded):
    env = make_env("place", {"guarded": guarded})
    try:
        widest = 0.0  # the most the fingers opened past the release width
        for seed in range(3):
            env.reset(seed=seed)
            release = place.release_width(env.unwrapped.arm)
            controller = env.unwrapped.demonstrator()  # opens fully at the goal
            ctx = env.unwrapped.skill_context()
            controller.reset(ctx)
            for _ in range(env.unwrapped.max_steps):
                env.step(np.asarray(controller.act(ctx), dtype=np.float32))
                widest = max(widest, env.unwrapped.arm.gripper_width() - release)
        assert (widest < 0.003) == guarded, widest  # the fingers stop within a few mm of a width command
    finally:
        env.close()


def test_a_guarded_hand_stays_closed_away_from_the_goal_and_the_observation_shows_it():
    """The episode keeps the policy's action (the learner's); the next observation shows the one that ran, as the
    adapter's does on the arm."""
    env = make_env("place", {"guarded": True})
    try:
        episode, success, _ = run_episode(env, lambda obs: OPEN_HAND, seed=4)
        assert not success and np.all(episode.actions[:, 3] == OPEN)
        assert np.all(episode.obs[1:, LAST_GRIPPER] == CLOSED)
        assert env.unwrapped.arm.contacts("gripper", "cube")  # still held
        unguarded = make_env("place")
        try:
            episode, _, _ = run_episode(unguarded, lambda obs: OPEN_HAND, seed=4)
            assert np.all(episode.obs[1:, LAST_GRIPPER] == OPEN)
            assert not unguarded.unwrapped.arm.contacts("gripper", "cube")
        finally:
            unguarded.close()
    finally:
        env.close()


def test_once_let_go_the_guarded_hand_rises_clear_whatever_the_policy_asks():
    env = make_env("place", {"targets": ["table", "container"], "guarded": True})
    try:
        for seed in range(3):
            env.reset(seed=seed)
            steps = _demonstrated_until_let_go(env)
            down = np.array([0.0, 0.0, -1.0, CLOSED], dtype=np.float32)  # the policy would press down and close
            info, rise = {}, env.unwrapped.arm.ee_pose().position[2]
            for _ in range(env.unwrapped.max_steps - steps - 1):
                _, _, _, truncated, info = env.step(down)
                if info["is_success"] or truncated:
                    break
            assert info["is_success"] and env.unwrapped.arm.ee_pose().position[2] > rise + 0.02
    finally:
        env.close()


def test_the_guarded_option_must_be_a_boolean():
    with pytest.raises(ValueError, match="guarded"):
        make_env("place", {"guarded": "yes"})


def test_evaluations_run_every_place_policy_through_the_guard_as_on_the_robot():
    """LearnedPlace guards policies trained without it too, so held-out evaluations (skillstack eval, the
    experimenter's judge) measure them guarded."""
    from skill_lib.learning.policy import as_on_the_robot
    from skill_lib.learning.mcsac import TrainConfig

    env = make_env("place")  # a policy trained unguarded: its checkpoint's environment
    try:
        as_on_the_robot(env, TrainConfig(skill="place"))
        episode, _, _ = run_episode(env, lambda obs: OPEN_HAND, seed=4)
        assert np.all(episode.obs[1:, LAST_GRIPPER] == CLOSED) and env.unwrapped.arm.contacts("gripper", "cube")
    finally:
        env.close()
