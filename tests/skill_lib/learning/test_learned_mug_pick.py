"""The mug by its handle, learned: the pick environment's `objects` option stands the drawer scene's mug turned any way,
its adapter takes a mug by its handle only, and the promoted pick lifts the scene's mug (judged by the simulator)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pybullet as pb
import pytest

from hardware.pybullet import PyBulletArm, PyBulletConfig
from hardware.scene import load_scene
from hardware.types import quaternion_yaw
from planners.executor import Executor
from planners.plan import Plan, SkillCall
from skill_lib.learning.mcsac import make_env
from skill_lib.learning.policy import LearnedPick, with_learned_policies
from skill_lib.learning.train import expert_demonstration
from skill_lib.skills import default_skills


@pytest.fixture(scope="module")
def drawer_scene():
    return load_scene("drawer")


def test_the_pick_environment_stands_the_mug_any_way_and_its_expert_lifts_it_by_the_handle():
    env = make_env("pick", {"objects": ["mug"]})
    handle_yaws = []
    for seed in range(8):
        obs, _ = env.reset(seed=seed)
        arm, unwrapped = env.unwrapped.arm, env.unwrapped
        mug = arm.object("cube")  # the training object, whatever its kind
        x, y, z, yaw = mug.grasp_points["handle"]
        handle_yaws.append(yaw % (2 * np.pi))
        assert mug.category == "mug" and abs(mug.bottom_z) < 0.005  # standing on the table
        np.testing.assert_allclose(obs["achieved_goal"], [x, y, z], atol=1e-5)  # the policy sees the handle
        assert -np.pi / 2 <= unwrapped.tool_yaw < np.pi / 2  # the gripper's yaw folded: the same grasp
        hand_yaw = quaternion_yaw(arm.ee_pose().orientation)
        assert abs((hand_yaw - unwrapped.tool_yaw + np.pi) % (2 * np.pi) - np.pi) < 0.1  # the hand starts turned
        _, success, _ = expert_demonstration(env, seed, 0.1)  # the recipe's noise
        assert success and arm.contacts("gripper", "cube"), seed
    env.close()
    assert np.ptp(handle_yaws) > np.pi  # turned all ways
    with pytest.raises(ValueError, match="unknown objects"):
        make_env("place", {"objects": ["mug"]})  # place and push set cubes and bricks down only


def trained_on(*objects: str) -> SimpleNamespace:
    """A stand-in agent: only its checkpoint's environment options matter to what the adapter declines."""
    return SimpleNamespace(config=SimpleNamespace(env_options={"objects": list(objects)}))


def test_the_learned_pick_takes_a_mug_by_its_handle_only_when_trained_on_mugs(drawer_scene):
    with_mugs, without = LearnedPick(trained_on("cube", "lego", "mug")), LearnedPick(trained_on("cube", "lego"))
    by_handle = {"object": "mug", "grasp_point": "handle", "grasp_offset": 0.0}
    with PyBulletArm(PyBulletConfig(seed=0), scene=drawer_scene) as arm:
        assert with_mugs.declines(arm, by_handle) is None
        assert "mug" in without.declines(arm, {**by_handle, "grasp_point": ""})
        assert "grasp points" in without.declines(arm, by_handle)
        assert "by its handle" in with_mugs.declines(arm, {**by_handle, "grasp_point": ""})
        assert "grasp offsets" in with_mugs.declines(arm, {**by_handle, "grasp_offset": 0.01})
        assert "grasp points" in with_mugs.declines(arm, {"object": "red_cube", "grasp_point": "top"})
        assert with_mugs.declines(arm, {"object": "red_cube", "grasp_point": "", "grasp_offset": 0.0}) is None


def mug_height(arm: PyBulletArm) -> float:
    return float(pb.getBasePositionAndOrientation(arm.body_id("mug"), physicsClientId=arm.physics_client)[0][2])


def test_the_promoted_pick_lifts_the_scenes_mug_by_its_handle(drawer_scene):
    """Through the executor with no retry or fallback, judged by the mug's height in the simulator, over mug turns the
    scene's cabinet leaves room for (turned 1 rad, the arm's wrist reaches over the cabinet, and the scripted pick
    fails there too)."""
    skills = {s.name: s for s in with_learned_policies(default_skills(), only=["pick"])}
    plan = Plan("pick up the mug by its handle", (SkillCall("pick", {"object": "mug", "grasp_point": "handle"}),), ())
    for seed, yaw in ((0, 0.0), (1, 2.0), (2, -1.5), (3, 3.0)):
        with PyBulletArm(PyBulletConfig(seed=seed), scene=drawer_scene) as arm:
            centre = np.array(pb.getBasePositionAndOrientation(arm.body_id("mug"),
                                                               physicsClientId=arm.physics_client)[0])
            arm.set_object_pose("mug", centre, yaw=yaw)
            for _ in range(10):
                arm.step()
            resting = mug_height(arm)
            report = Executor(arm, arm, skills, retries=0).run(plan)
            outcome = report.outcomes[0]
            assert outcome.policy == "learned" and outcome.success, (seed, yaw, outcome.message)
            assert mug_height(arm) - resting > 0.05 and arm.contacts("gripper", "mug")
