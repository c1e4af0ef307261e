"""Language tasks through all three layers in headless PyBullet, over seeds.

Outcomes are checked with raw PyBullet queries on the simulator's bodies, independently of the
executor's report and of the predicates the stack itself uses.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pybullet as pb
import pytest

from hardware.pybullet import PyBulletArm, PyBulletConfig
from planners.episode_log import read_log
from planners.scheduler import Scheduler

SEEDS = range(4)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    from skill_lib.library import SkillLibrary
    from skill_lib.skills import default_skills
    return Scheduler(SkillLibrary(default_skills(), index_dir=tmp_path_factory.mktemp("index")))


def raw_position(arm: PyBulletArm, name: str) -> np.ndarray:
    lo, hi = pb.getAABB(arm.body_id(name), physicsClientId=arm.physics_client)
    return (np.array(lo) + np.array(hi)) / 2


def raw_aabb(arm: PyBulletArm, name: str) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = pb.getAABB(arm.body_id(name), physicsClientId=arm.physics_client)
    return np.array(lo), np.array(hi)


def run_task(scheduler: Scheduler, task: str, seed: int):
    arm = PyBulletArm(PyBulletConfig(seed=seed))
    before = {n: raw_position(arm, n) for n in arm.objects()}
    report = scheduler.execute(scheduler.plan(task, arm), arm, arm)
    return arm, before, report


def in_container(arm, obj, container) -> bool:
    p = raw_position(arm, obj)
    lo, hi = raw_aabb(arm, container)
    return bool(np.all(p[:2] > lo[:2]) and np.all(p[:2] < hi[:2]) and p[2] < hi[2])


def on_top(arm, obj, support) -> bool:
    p, s = raw_position(arm, obj), raw_position(arm, support)
    lo_o, _ = raw_aabb(arm, obj)
    _, hi_s = raw_aabb(arm, support)
    return bool(np.linalg.norm(p[:2] - s[:2]) < 0.025 and abs(lo_o[2] - hi_s[2]) < 0.01)


TASKS = [
    ("put the red cube in the tray", lambda arm, before: in_container(arm, "red_cube", "tray")),
    ("stack the blue cube on the green cube", lambda arm, before: on_top(arm, "blue_cube", "green_cube")),
    ("push the yellow cube 10 cm to the left",
     lambda arm, before: abs((raw_position(arm, "yellow_cube") - before["yellow_cube"])[1] - 0.10) < 0.02
     and abs((raw_position(arm, "yellow_cube") - before["yellow_cube"])[0]) < 0.02),
    ("pick up the small red block", lambda arm, before: raw_position(arm, "small_red_cube")[2] > 0.06),
    # paraphrases beyond the examples
    ("Please place the green block into the bin.", lambda arm, before: in_container(arm, "green_cube", "tray")),
    ("shove the small blue cube 5 cm forward",
     lambda arm, before: abs((raw_position(arm, "small_blue_cube") - before["small_blue_cube"])[0] - 0.05) < 0.02),
    ("grab the lego brick and drop it in the box", lambda arm, before: in_container(arm, "lego_brick", "tray")),
    ("put the yellow cube on top of the red one", lambda arm, before: on_top(arm, "yellow_cube", "red_cube")),
    # sets: each object gets its own spot in the tray
    ("put all the cubes in the tray",
     lambda arm, before: all(in_container(arm, c, "tray") for c in arm.objects() if c.endswith("cube"))),
    ("put the blue and the green cube in the bin, then put the lego in the bin",
     lambda arm, before: all(in_container(arm, c, "tray") for c in ("blue_cube", "green_cube", "lego_brick"))),
    # on the table beside or between others (the README's frame: y to the robot's left)
    ("put the red cube to the left of the blue cube",
     lambda arm, before: on_table(arm, "red_cube") and abs((raw_position(arm, "red_cube") - raw_position(
         arm, "blue_cube"))[0]) < 0.03 and (raw_position(arm, "red_cube") - raw_position(arm, "blue_cube"))[1] > 0.05),
    ("put the red cube in the front left corner of the tray",
     lambda arm, before: in_container(arm, "red_cube", "tray")
     and (raw_position(arm, "red_cube") - raw_position(arm, "tray"))[0] < -0.03
     and (raw_position(arm, "red_cube") - raw_position(arm, "tray"))[1] > 0.03),
    ("put the blue cube in the middle of the table",  # the middle of where the arm sets things down
     lambda arm, before: on_table(arm, "blue_cube") and np.linalg.norm(raw_position(arm, "blue_cube")[:2]
                                                                      - [0.5, 0.0]) < 0.08),
    ("put the green cube between the red cube and the yellow cube",
     lambda arm, before: on_table(arm, "green_cube") and np.linalg.norm((raw_position(arm, "green_cube") - (
         raw_position(arm, "red_cube") + raw_position(arm, "yellow_cube")) / 2)[:2]) < 0.03),
]


def on_table(arm, obj) -> bool:
    return bool(raw_aabb(arm, obj)[0][2] < 0.01)


@pytest.mark.parametrize("task,holds", TASKS, ids=[t for t, _ in TASKS])
def test_task_succeeds_in_the_simulator_over_seeds(scheduler, task, holds):
    for seed in SEEDS:
        arm, before, report = run_task(scheduler, task, seed)
        try:
            truth = holds(arm, before)
            assert truth, f"seed {seed}: goal does not hold in PyBullet ({report.message})"
            assert report.success == truth, f"seed {seed}: the report disagrees with the simulator"
        finally:
            arm.close()


def test_report_says_failure_when_the_world_disagrees(scheduler):
    """Knock the cube out of the tray after the skills ran: the goal check must see it."""
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        plan = scheduler.plan("put the red cube in the tray", arm)
        report = scheduler.execute(plan, arm, arm)
        assert report.success
        arm.set_object_pose("red_cube", [0.45, -0.2, 0.025])
        from planners.goals import goal_holds
        assert not goal_holds(plan.goals[0], arm, arm, {})


# -- the command line ------------------------------------------------------------------------------

def skillstack(*args: str, data: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SKILL_STACK_DATA": str(data), "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "skill_stack_apps.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def cli_dirs(tmp_path_factory):
    return tmp_path_factory.mktemp("data"), tmp_path_factory.mktemp("cwd")


def test_cli_run_json_video_and_log(cli_dirs):
    data, cwd = cli_dirs
    video = cwd / "out.mp4"
    proc = skillstack("run", "stack the blue cube on the green cube", "--seed", "5", "--video", str(video),
                      "--json", "--out", str(cwd / "runs"), data=data, cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["success"] is True
    assert result["plan"] == ["pick", "place"]
    assert result["video"] == str(video)
    capture = cv2.VideoCapture(str(video))
    frames = 0
    while capture.read()[0]:
        frames += 1
    assert frames > 10
    events = [r["event"] for r in read_log(result["log"])]
    assert events[0] == "run" and events[-1] == "task_end" and events.count("skill_end") == 2


@pytest.mark.parametrize("task,expect", [
    ("throw the red cube", "unsupported verb"),
    ("put the purple cube in the tray", "no purple cube"),
    ("pick up the cube", "ambiguous"),
    ("   ", "empty"),
    ("put the red cube in the green cube", "not a container"),
    ("hand me the red cube", "takes no object"),
    ("pick up all the cubes", "names several objects"),
])
def test_cli_impossible_tasks_exit_2_with_one_line(cli_dirs, task, expect):
    data, cwd = cli_dirs
    proc = skillstack("run", task, "--no-video", "--json", data=data, cwd=cwd)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expect in errors[0].lower(), proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["success"] is False


def test_cli_exit_1_when_the_robot_cannot_do_it(cli_dirs, tmp_path):
    """A cube placed beyond reach: the plan is valid, execution fails, exit code 1."""
    data, cwd = cli_dirs
    scene = tmp_path / "far.yaml"
    scene.write_text("name: far\nobjects:\n"
                     "  - {name: red_cube, category: cube, color: red, size: large, position: [1.05, 0.0]}\n"
                     "  - {name: tray, category: tray, container: true, urdf: tray/traybox.urdf, scale: 0.4,"
                     " position: [0.5, 0.4], jitter: 0.0}\n")
    proc = skillstack("run", "put the red cube in the tray", "--scene", str(scene), "--no-video", "--json",
                      data=data, cwd=cwd)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["success"] is False and "within reach" in result["message"]


def test_cli_bad_scene_and_video_path(cli_dirs):
    data, cwd = cli_dirs
    proc = skillstack("run", "put the red cube in the tray", "--scene", "nowhere", data=data, cwd=cwd)
    assert proc.returncode == 2 and "available:" in proc.stderr and "default" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = skillstack("run", "put the red cube in the tray", "--video", "x.avi", data=data, cwd=cwd)
    assert proc.returncode == 2 and ".mp4" in proc.stderr


def test_cli_skills_lists_and_searches(cli_dirs):
    data, cwd = cli_dirs
    listing = skillstack("skills", data=data, cwd=cwd)
    assert listing.returncode == 0
    for name in ("move_to", "pick", "place", "push", "open_gripper", "close_gripper"):
        assert f"{name}(" in listing.stdout
    found = skillstack("skills", "shove the block sideways", data=data, cwd=cwd)
    assert found.returncode == 0 and found.stdout.split()[1] == "push"
