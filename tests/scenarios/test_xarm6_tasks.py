"""Language tasks on the second arm, the UFactory xArm6 (config/robots/xarm6.yaml), through all three layers in
headless PyBullet, with the skills learned on the Panda where they have a policy (they act in tool space).

As in test_end_to_end.py, outcomes are checked with raw PyBullet queries on the simulator's bodies, independently
of the executor's report and of the predicates the stack uses.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pybullet as pb
import pytest

from hardware.pybullet import PyBulletArm, PyBulletConfig
from planners.scheduler import Scheduler

SEEDS = range(3)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    from skill_lib.library import SkillLibrary
    from skill_lib.skills import default_skills
    return Scheduler(SkillLibrary(default_skills(), index_dir=tmp_path_factory.mktemp("index")))


def raw_aabb(arm: PyBulletArm, name: str) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = pb.getAABB(arm.body_id(name), physicsClientId=arm.physics_client)
    return np.array(lo), np.array(hi)


def raw_position(arm: PyBulletArm, name: str) -> np.ndarray:
    lo, hi = raw_aabb(arm, name)
    return (lo + hi) / 2


def in_container(arm: PyBulletArm, obj: str, container: str) -> bool:
    p = raw_position(arm, obj)
    lo, hi = raw_aabb(arm, container)
    return bool(np.all(p[:2] > lo[:2]) and np.all(p[:2] < hi[:2]) and p[2] < hi[2])


def on_top(arm: PyBulletArm, obj: str, support: str) -> bool:
    p, s = raw_position(arm, obj), raw_position(arm, support)
    return bool(np.linalg.norm(p[:2] - s[:2]) < 0.025 and abs(raw_aabb(arm, obj)[0][2] - raw_aabb(arm, support)[1][2])
                < 0.01)


def held_by_both_pads(arm: PyBulletArm, obj: str) -> bool:
    """Both of the xArm's finger pads touch `obj` (its knuckles do not count)."""
    robot, c = arm.body_id("robot"), arm.physics_client
    links = {pb.getJointInfo(robot, j, physicsClientId=c)[12].decode(): j
             for j in range(pb.getNumJoints(robot, physicsClientId=c))}
    touching = {pt[3] for pt in pb.getContactPoints(robot, arm.body_id(obj), physicsClientId=c)}
    return {links["left_finger"], links["right_finger"]} <= touching


TASKS = [
    ("put the red cube in the tray", lambda arm, before: in_container(arm, "red_cube", "tray")),
    ("stack the blue cube on the green cube", lambda arm, before: on_top(arm, "blue_cube", "green_cube")),
    ("pick up the lego brick",
     lambda arm, before: raw_position(arm, "lego_brick")[2] > 0.06 and held_by_both_pads(arm, "lego_brick")),
    ("push the yellow cube 10 cm to the left",
     lambda arm, before: abs((raw_position(arm, "yellow_cube") - before["yellow_cube"])[1] - 0.10) < 0.02
     and abs((raw_position(arm, "yellow_cube") - before["yellow_cube"])[0]) < 0.02),
]


@pytest.mark.parametrize("task,holds", TASKS, ids=[t for t, _ in TASKS])
def test_task_succeeds_with_the_xarm_over_seeds(scheduler, task, holds):
    for seed in SEEDS:
        with PyBulletArm(PyBulletConfig(robot="xarm6", seed=seed)) as arm:
            assert arm.robot_config is not None and arm.robot_config.name == "xarm6"
            before = {n: raw_position(arm, n) for n in arm.objects()}
            report = scheduler.execute(scheduler.plan(task, arm), arm, arm)
            truth = holds(arm, before)
            assert truth, f"seed {seed}: goal does not hold in PyBullet ({report.message})"
            assert report.success == truth, f"seed {seed}: the report disagrees with the simulator"


def test_scripted_stack_of_three_with_the_xarm():
    """The reference controllers alone (no checkpoints) build a three-cube tower with the xArm."""
    scheduler = Scheduler(learned=False)
    with PyBulletArm(PyBulletConfig(robot="xarm6", seed=0)) as arm:
        plan = scheduler.plan("stack three cubes", arm)
        report = scheduler.execute(plan, arm, arm)
        assert all(o.policy == "scripted" for o in report.outcomes)
        cubes = [n for n in arm.objects() if n.endswith("cube")]
        top = max(cubes, key=lambda n: raw_position(arm, n)[2])
        middle = [n for n in cubes if on_top(arm, top, n)]
        base = [n for n in cubes if middle and on_top(arm, middle[0], n)]
        assert middle and base, f"no tower under {top} ({report.message})"
        assert raw_aabb(arm, base[0])[0][2] < 0.005  # the tower stands on the table
        assert report.success, report.message


def test_cli_runs_a_task_on_the_xarm(tmp_path):
    env = {**os.environ, "SKILL_STACK_DATA": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "skill_stack_apps.cli", "run", "stack the blue cube on the green cube",
                           "--robot", "xarm6", "--seed", "1", "--no-video", "--json", "--out", str(tmp_path / "runs")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "robot xarm6" in proc.stdout
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["success"] is True and result["plan"] == ["pick", "place"]
