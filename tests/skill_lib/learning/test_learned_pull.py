"""The learned pull: its environment (the scenes' cabinet, drawn across the table, closed or partly open), what its
adapter declines, and the promoted policy opening the drawer scene's drawer, judged by the simulator's joint."""
from __future__ import annotations

import numpy as np
import pybullet as pb
import pytest

from hardware.pybullet import PyBulletArm, PyBulletConfig
from hardware.scene import load_scene
from planners.executor import Executor
from planners.plan import Plan, SkillCall
from skill_lib.learning.envs.pull import CLEAR, START_OPENING, drawer_geometry
from skill_lib.learning.mcsac import make_env
from skill_lib.learning.policy import with_learned_policies
from skill_lib.learning.pull_policy import LearnedPull
from skill_lib.learning.train import expert_demonstration
from skill_lib.skills import default_skills

TRAVEL = 0.18  # config/objects/drawer.urdf


def joint_opening(arm: PyBulletArm, name: str = "drawer") -> float:
    """Metres the drawer is out, straight from the simulator's joint."""
    return float(pb.getJointState(arm.body_id(name), 0, physicsClientId=arm.physics_client)[0])


@pytest.fixture(scope="module")
def drawer_scene():
    return load_scene("drawer")


def test_the_drawer_geometry_is_read_from_its_urdf():
    travel, size = drawer_geometry()
    assert travel == TRAVEL and size == (0.22, 0.26, 0.08)


def test_the_pull_expert_opens_drawers_from_every_start_the_environment_draws():
    """Its noisy demonstrations (the recipe's DART noise) succeed: the handle at its goal, the hand let go and clear;
    drawers start closed and partly open, across the table, and goals reach the end of the travel."""
    from skill_lib.learning.recipes import recipe

    env = make_env("pull")
    starts, pulled, ends = [], [], 0
    for seed in range(16):
        obs, _ = env.reset(seed=seed)
        arm = env.unwrapped.arm
        drawer = arm.object("drawer")
        starts.append((float(drawer.opening), *drawer.position[:2]))
        pulled.append(float(np.linalg.norm((env.unwrapped.goal - obs["achieved_goal"])[:2])))
        ends += abs(pulled[-1] - (1 - drawer.opening) * TRAVEL) < 1e-3
        episode, success, _ = expert_demonstration(env, seed, recipe("pull").demo_noise)
        assert success, seed
        assert not arm.contacts("gripper", "drawer") and arm.ee_pose().position[2] > arm.object("drawer").top_z + CLEAR
        assert not episode.terms[:, 1].any()  # no unsafe step
    env.close()
    openings = [s[0] for s in starts]
    assert openings.count(0.0) >= 4 and max(openings) > 0.3 and max(openings) <= START_OPENING + 1e-6
    assert np.ptp([s[2] for s in starts]) > 0.2  # across the table
    assert min(pulled) >= 0.02 - 1e-6 and ends >= 1


def test_set_opening_is_checked(drawer_scene):
    with PyBulletArm(PyBulletConfig(seed=0), scene=drawer_scene) as arm:
        arm.set_opening("drawer", 0.5)
        assert joint_opening(arm) == pytest.approx(0.09) and arm.object("drawer").opening == pytest.approx(0.5)
        with pytest.raises(ValueError, match="not articulated"):
            arm.set_opening("red_cube", 0.5)
        with pytest.raises(ValueError, match="within 0..1"):
            arm.set_opening("drawer", 1.2)


def test_the_learned_pull_declines_what_it_was_not_trained_on(drawer_scene):
    pull = LearnedPull(agent=None)
    asked = {"object": "drawer", "distance": 0.1}
    with PyBulletArm(PyBulletConfig(seed=0), scene=drawer_scene) as arm:
        home = arm.ee_pose().position
        assert pull.declines(arm, asked, tool=home) is None
        assert "none" in pull.declines(arm, {"object": "red_cube", "distance": 0.1})
        assert "hand starts" in pull.declines(arm, asked, tool=np.array([0.45, 0.0, 0.05]))
        arm.set_opening("drawer", 0.9)
        assert "open by at most" in pull.declines(arm, asked)
        arm.set_opening("drawer", 0.5)  # half open: the closed drawer still stands where it was trained
        assert pull.declines(arm, asked) is None
        arm.set_opening("drawer", 0.0)
        arm.set_object_pose("drawer", [0.66, -0.5, 0.072])
        assert "outside the area" in pull.declines(arm, asked)
        arm.set_object_pose("drawer", [0.66, 0.22, 0.072], yaw=0.3)
        assert "turned" in pull.declines(arm, asked)


@pytest.fixture(scope="module")
def skills():
    return {s.name: s for s in with_learned_policies(default_skills())}


@pytest.mark.parametrize("distances", [(0.06,), (0.16,), (0.10, 0.08), (0.30,)])
def test_the_promoted_pull_opens_the_scenes_drawer(drawer_scene, skills, distances):
    """Through the executor with no retry or fallback: the learned policy runs every pull, and the joint moved by
    what was asked (a second pull, "pull it further", starts from a half-open drawer; 30 cm ends at the stop), the hand
    let go and clear above the drawer."""
    plan = Plan("pull the drawer", tuple(SkillCall("pull", {"object": "drawer", "distance": d}) for d in distances), ())
    for seed in range(2):
        with PyBulletArm(PyBulletConfig(seed=seed), scene=drawer_scene) as arm:
            report = Executor(arm, arm, skills, retries=0).run(plan)
            assert [o.policy for o in report.outcomes] == ["learned"] * len(distances), report.outcomes
            assert all(o.success for o in report.outcomes), [o.message for o in report.outcomes]
            assert joint_opening(arm) == pytest.approx(min(sum(distances), TRAVEL), abs=0.02)
            drawer = arm.object("drawer")
            assert not arm.contacts("gripper", "drawer") and arm.ee_pose().position[2] > drawer.top_z + CLEAR
