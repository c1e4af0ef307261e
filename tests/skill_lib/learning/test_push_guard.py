"""The push floor: a learned push never sends the hand below the height the scripted push pushes at.

The clones of the push demonstrator dip their fingers onto the table while they push, where the workspace floor
clamps the command (an unsafe step). LearnedPush raises such an action to the push height on the arm; the push
environment's `guarded` option runs the same rule, and evaluations (as_on_the_robot) run it.
"""
from __future__ import annotations

import numpy as np
import pytest

from hardware.pybullet import PyBulletArm, PyBulletConfig
from skill_lib.controllers import CLOSED
from skill_lib.learning.envs.push import kept_above
from skill_lib.learning.mcsac import make_env
from skill_lib.learning.policy import LearnedPush
from skill_lib.skills import push
from skill_lib.spec import ACTION_SCALE, SkillContext

DOWN = np.array([0.0, 0.0, -1.0, CLOSED], dtype=np.float32)


def test_kept_above_raises_only_what_would_go_below_the_floor():
    tcp = np.array([0.5, 0.0, 0.02])
    assert kept_above(0.012, tcp, np.array([0.3, 0.0, -0.1, CLOSED]))[2] == pytest.approx(-0.1)  # 1.7 cm: above
    raised = kept_above(0.012, tcp, DOWN)
    assert tcp[2] + raised[2] * ACTION_SCALE == pytest.approx(0.012) and DOWN[2] == -1.0  # the input is not changed
    assert kept_above(0.012, np.array([0.5, 0.0, -0.5]), DOWN)[2] == 1.0  # far below: up, within the action range


@pytest.mark.parametrize("guarded", [False, True])
def test_a_policy_pressing_down_reaches_the_table_only_unguarded(guarded):
    env = make_env("push", {"guarded": guarded})
    try:
        env.reset(seed=3)
        unsafe, lowest = 0, np.inf
        for _ in range(80):  # the hand turns to the push's yaw first, slowly
            _, _, _, _, info = env.step(DOWN)
            unsafe += info["unsafe"]
            lowest = min(lowest, env.unwrapped.arm.ee_pose().position[2])
        floor = push.push_height(env.unwrapped.arm.object("cube"))
        assert (unsafe == 0) == guarded, unsafe
        assert (lowest > floor - 0.003) == guarded, (lowest, floor)  # the hand settles within a few mm of a target
    finally:
        env.close()


class FakePressingAgent:
    """A trained agent that always presses the hand down: isolates the learned push's floor."""

    config = None

    def act(self, obs, deterministic=True):
        return DOWN.copy()


def test_the_learned_push_never_sends_the_hand_below_the_push_height():
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        ctx = SkillContext(arm, arm, {"object": "red_cube", "direction": "left", "distance": 0.1})
        policy = LearnedPush(FakePressingAgent())
        policy.reset(ctx)
        floor = push.push_height(arm.object("red_cube"))
        for _ in range(80):
            action = policy.act(ctx)
            assert arm.ee_pose().position[2] + action[2] * ACTION_SCALE >= floor - 1e-6
            arm.command_ee(arm.ee_pose().position + action[:3] * ACTION_SCALE, arm.tool_down(policy.tool_yaw))
            arm.step()
        assert floor - 0.003 < arm.ee_pose().position[2] < floor + 0.005  # down to it, not below
