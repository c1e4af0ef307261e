"""The PyBullet backend under attack: random and malformed commands, e-stop, gripper, determinism,
scene loading and the camera. Headless (DIRECT); state is read back through the arm's own getters.
"""
from __future__ import annotations

import math

import numpy as np
import pybullet as pb
import pytest
import yaml

from hardware.pybullet import PyBulletArm, PyBulletConfig
from hardware.resources import config_dir
from hardware.safety import EStopActive, SafetyError
from hardware.scene import SceneError, load_scene

#: tracking overshoot allowed beyond the workspace box (the box bounds the commanded target)
WS_TOL = 0.01
#: joint positions may overshoot the URDF limits by this much
LIMIT_TOL = 0.01
#: joint travel per control step may exceed max_joint_velocity * dt by this much (tracking dynamics)
STEP_TOL = 0.02


@pytest.fixture(scope="module")
def arm():
    """One arm shared by the tests that leave it in a usable state (e-stop reset, at rest)."""
    a = PyBulletArm(PyBulletConfig(seed=0))
    yield a
    a.close()


def limits(arm: PyBulletArm) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(arm.safety.config.joint_lower), np.asarray(arm.safety.config.joint_upper)


def workspace(arm: PyBulletArm) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(arm.safety.config.workspace_min), np.asarray(arm.safety.config.workspace_max)


def go_home(arm: PyBulletArm, steps: int = 60) -> None:
    """Drive back to the home configuration and let the arm come to rest."""
    home = np.array(arm.robot_config.home)
    for _ in range(steps):
        arm.command_joints(home)
        arm.step()
    for _ in range(10):
        arm.step()


def settle(arm: PyBulletArm, steps: int = 20) -> None:
    """Hold the current position until the arm is at rest."""
    arm.command_joints(arm.joint_state().positions)
    for _ in range(steps):
        arm.step()


# -- random commands ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_commands_keep_limits_workspace_and_speed(make_arm, seed):
    arm = make_arm(seed)
    rng = np.random.default_rng(seed)
    lower, upper = limits(arm)
    ws_min, ws_max = workspace(arm)
    max_step = arm.safety.config.max_joint_velocity * arm.control_dt
    hold, mode, q_goal, x_goal = 0, 0, None, None
    for i in range(300):
        if hold == 0:  # a new random target, held for a random number of steps to get far excursions
            hold = int(rng.integers(1, 16))
            mode = int(rng.integers(2))
            q_goal = rng.uniform(-10, 10, 7)
            x_goal = rng.uniform(-2, 2, 3)
        hold -= 1
        q_before = arm.joint_state().positions
        if mode == 0:
            arm.command_joints(q_goal)
        else:
            arm.command_ee(x_goal)
        arm.step()
        q = arm.joint_state().positions
        tcp = arm.ee_pose().position
        assert np.all(np.isfinite(q)) and np.all(np.isfinite(tcp))
        assert np.all(q >= lower - LIMIT_TOL) and np.all(q <= upper + LIMIT_TOL), (i, q)
        assert np.all(tcp >= ws_min - WS_TOL) and np.all(tcp <= ws_max + WS_TOL), (i, tcp)
        assert np.max(np.abs(q - q_before)) <= max_step + STEP_TOL, (i, q - q_before)
    assert arm.safety.stats.rejected == 0
    assert arm.safety.stats.clamped > 100  # the targets really were out of reach


def test_random_commands_reach_the_workspace_boundary(make_arm):
    """Long-held random joint targets push the arm into the box walls: the box must hold."""
    arm = make_arm(3)
    rng = np.random.default_rng(3)
    ws_min, ws_max = workspace(arm)
    for _ in range(20):
        goal = rng.uniform(-10, 10, 7)
        for _ in range(15):
            arm.command_joints(goal)
            arm.step()
            tcp = arm.ee_pose().position
            assert np.all(tcp >= ws_min - WS_TOL) and np.all(tcp <= ws_max + WS_TOL), tcp
    assert arm.safety.stats.workspace_limited > 0


def test_cartesian_targets_are_reached_and_table_is_a_floor(make_arm, tmp_path):
    """IK commands go where asked (also along the workspace floor) and never below it."""
    empty = tmp_path / "empty.yaml"  # no objects in the way of the sweeps along the table
    empty.write_text("name: empty\nobjects: []\n")
    arm = make_arm(0, scene=str(empty))
    ws_min, _ = workspace(arm)
    for goal in [(0.5, 0.0, 0.05), (0.5, 0.25, 0.05), (0.35, -0.3, 0.2), (0.6, 0.0, 0.4)]:
        for _ in range(60):
            arm.command_ee(goal)
            arm.step()
        assert np.linalg.norm(arm.ee_pose().position - goal) < 0.01, (goal, arm.ee_pose().position)
    # push straight down into the table, then slide along it
    for goal in [(0.5, 0.0, -2.0), (0.4, 0.2, -2.0), (0.6, -0.2, -2.0)]:
        for _ in range(60):
            arm.command_ee(goal)
            arm.step()
            assert arm.ee_pose().position[2] >= ws_min[2] - 0.003
        np.testing.assert_allclose(arm.ee_pose().position, [goal[0], goal[1], ws_min[2]], atol=0.01)
    # and back up from the floor
    for _ in range(60):
        arm.command_ee((0.45, 0.0, 0.3))
        arm.step()
    assert np.linalg.norm(arm.ee_pose().position - (0.45, 0.0, 0.3)) < 0.01


# -- malformed commands ------------------------------------------------------------------------------

BAD_COMMANDS = [
    ("joints", [math.nan] + [0.0] * 6),
    ("joints", [0.0] * 6 + [math.inf]),
    ("joints", [-math.inf] * 7),
    ("joints", [0.0] * 6),          # wrong length
    ("joints", [0.0] * 8),
    ("ee", [math.nan, 0.0, 0.3]),
    ("ee", [0.5, math.inf, 0.3]),
    ("ee", [0.5, 0.0]),             # wrong length
    ("orientation", [math.nan, 0.0, 0.0, 1.0]),
    ("orientation", [0.0, 0.0, 0.0, 0.0]),
    ("orientation", [0.0, 0.0, 1.0]),
    ("gripper", math.nan),
    ("gripper", math.inf),
]


@pytest.mark.parametrize("kind, value", BAD_COMMANDS)
def test_bad_commands_rejected_and_arm_does_not_move(arm, kind, value):
    settle(arm)
    q0, tcp0, w0 = arm.joint_state().positions, arm.ee_pose().position, arm.gripper_width()
    rejected = arm.safety.stats.rejected
    with pytest.raises(SafetyError):
        if kind == "joints":
            arm.command_joints(value)
        elif kind == "ee":
            arm.command_ee(value)
        elif kind == "orientation":
            arm.command_ee([0.5, 0.0, 0.3], value)
        else:
            arm.command_gripper(value)
    assert arm.safety.stats.rejected == rejected + 1
    for _ in range(20):
        arm.step()
    np.testing.assert_allclose(arm.joint_state().positions, q0, atol=2e-3)
    np.testing.assert_allclose(arm.ee_pose().position, tcp0, atol=2e-3)
    assert arm.gripper_width() == pytest.approx(w0, abs=2e-3)


def test_rejected_command_after_motion_keeps_last_safe_target(arm):
    """A NaN arriving mid-motion does not restart or redirect the motion: the last target holds."""
    go_home(arm)
    target = arm.command_joints(np.array(arm.robot_config.home) + 0.05)
    with pytest.raises(SafetyError):
        arm.command_joints([math.nan] * 7)
    for _ in range(30):
        arm.step()
    np.testing.assert_allclose(arm.joint_state().positions, target, atol=5e-3)
    go_home(arm)


# -- e-stop ------------------------------------------------------------------------------------------

def test_estop_stops_the_arm_and_latches(arm):
    go_home(arm)
    far = np.array([1.5, 1.0, 1.0, -1.0, 1.0, 3.0, -1.0])
    for _ in range(6):
        arm.command_joints(far)
        arm.step()
    assert np.max(np.abs(arm.joint_state().velocities)) > 0.3  # really moving
    try:
        arm.estop()
        assert arm.estopped
        tcp_at_stop = arm.ee_pose().position
        for _ in range(5):
            arm.step()
        assert np.max(np.abs(arm.joint_state().velocities)) < 0.02
        tcp_stopped = arm.ee_pose().position
        assert np.linalg.norm(tcp_stopped - tcp_at_stop) < 0.01
        for _ in range(3):
            with pytest.raises(EStopActive):
                arm.command_joints(far)
            with pytest.raises(EStopActive):
                arm.command_ee([0.5, 0.0, 0.3])
            with pytest.raises(EStopActive):
                arm.command_gripper(0.0)
            for _ in range(10):
                arm.step()
        # still holding where it stopped
        assert np.linalg.norm(arm.ee_pose().position - tcp_at_stop) < 0.01
        assert np.max(np.abs(arm.joint_state().velocities)) < 0.01
    finally:
        arm.reset_estop()
    assert not arm.estopped
    for _ in range(10):
        arm.command_joints(far)
        arm.step()
    assert np.linalg.norm(arm.ee_pose().position - tcp_stopped) > 0.05  # moves again
    go_home(arm)


def test_estop_at_rest_and_nan_while_estopped(arm):
    go_home(arm)
    arm.estop()
    try:
        with pytest.raises(EStopActive):
            arm.command_joints([math.nan] * 7)
    finally:
        arm.reset_estop()
    arm.command_joints(arm.robot_config.home)


# -- gripper -----------------------------------------------------------------------------------------

def _gripper_to(arm: PyBulletArm, width: float, steps: int = 30) -> float:
    applied = arm.command_gripper(width)
    for _ in range(steps):
        arm.step()
    return applied


def test_gripper_widths_applied_and_clamped(arm):
    go_home(arm)  # fingers in free space, nothing between them
    assert _gripper_to(arm, 0.0) == 0.0
    assert arm.gripper_width() < 0.003
    assert _gripper_to(arm, 0.08) == pytest.approx(0.08)
    assert arm.gripper_width() == pytest.approx(0.08, abs=0.003)
    assert _gripper_to(arm, 0.04) == pytest.approx(0.04)
    assert arm.gripper_width() == pytest.approx(0.04, abs=0.003)
    assert _gripper_to(arm, 1.0) == pytest.approx(0.08)  # clamped to the max
    assert arm.gripper_width() == pytest.approx(0.08, abs=0.003)
    assert _gripper_to(arm, -0.5) == 0.0  # clamped to closed
    assert arm.gripper_width() < 0.003
    width = arm.gripper_width()
    with pytest.raises(SafetyError):
        arm.command_gripper(math.nan)
    for _ in range(20):
        arm.step()
    assert arm.gripper_width() == pytest.approx(width, abs=1e-3)
    _gripper_to(arm, 0.08)


# -- determinism -------------------------------------------------------------------------------------

def _positions(arm: PyBulletArm) -> dict[str, np.ndarray]:
    return {name: o.position for name, o in arm.objects().items()}


def test_same_seed_same_world(make_arm, sweep):
    a, b = make_arm(7), make_arm(7)
    start_a, start_b = _positions(a), _positions(b)
    for name in start_a:
        np.testing.assert_array_equal(start_a[name], start_b[name])
    sweep(a)
    sweep(b)
    end_a, end_b = _positions(a), _positions(b)
    moved = [n for n in end_a if np.linalg.norm(end_a[n] - start_a[n]) > 0.01]
    assert moved, "the sweep should push at least one object"
    for name in end_a:
        np.testing.assert_array_equal(end_a[name], end_b[name])
    np.testing.assert_array_equal(a.joint_state().positions, b.joint_state().positions)


def test_different_seeds_different_objects(make_arm):
    a, b = make_arm(1), make_arm(2)
    pa, pb_ = _positions(a), _positions(b)
    jittered = [s.name for s in a.scene.objects if (s.jitter is None and a.scene.jitter > 0) or s.jitter]
    assert jittered
    for name in jittered:
        assert np.linalg.norm(pa[name][:2] - pb_[name][:2]) > 1e-4, name


def test_objects_at_rest_sleep_and_wake_when_moved_or_touched(make_arm, sweep):
    """Resting objects sleep (the solver skips them: their poses stay bit for bit, where an awake resting body
    drifts in the last bits), yet one lifted by set_object_pose falls, and ones the hand runs into move."""
    arm = make_arm(0)
    loose = [name for name, o in arm.objects().items() if not o.is_container]

    def poses() -> dict[str, tuple]:
        return {n: pb.getBasePositionAndOrientation(arm.body_id(n), physicsClientId=arm.physics_client)
                for n in loose}

    for _ in range(60):  # three seconds: past Bullet's two seconds at rest before a body sleeps
        arm.step()
    before = poses()
    arm.step()
    assert poses() == before
    arm.set_object_pose("red_cube", arm.object("red_cube").position + [0.0, 0.0, 0.1])
    settle(arm)
    assert arm.object("red_cube").bottom_z < 0.002  # fell back onto the table
    before = _positions(arm)
    sweep(arm)
    assert any(np.linalg.norm(p - before[n]) > 0.01 for n, p in _positions(arm).items())


# -- scene -------------------------------------------------------------------------------------------

def test_objects_match_default_scene(make_arm):
    arm = make_arm(0)
    raw = yaml.safe_load((config_dir() / "scenes" / "default.yaml").read_text())
    sizes = raw["cube_sizes"]
    objs = arm.objects()
    assert set(objs) == {o["name"] for o in raw["objects"]}
    for spec in raw["objects"]:
        o = objs[spec["name"]]
        assert o.category == spec["category"]
        assert o.color == spec.get("color")
        assert o.is_container == spec.get("container", False)
        assert o.position[2] > 0 and o.top_z > 0
        assert abs(o.bottom_z) < 0.005, (o.name, o.bottom_z)  # resting on the table top (z = 0)
        assert -0.25 < o.position[0] < 1.25 and -0.5 < o.position[1] < 0.5  # over the table
        jitter = spec.get("jitter", raw["jitter"])
        assert np.all(np.abs(o.position[:2] - spec["position"]) <= jitter + 0.005), o.name
        assert np.all(o.half_extents > 0.005) and np.all(o.half_extents < 0.2)
        if spec["category"] == "cube":
            edge = sizes[spec["size"]]
            np.testing.assert_allclose(o.half_extents, edge / 2, atol=1e-3, err_msg=o.name)
            assert o.size == spec["size"]
            assert o.describe() == f"{spec['size']} {spec['color']} cube"
    # the workspace box covers every object, so each is reachable
    ws_min, ws_max = workspace(arm)
    for o in objs.values():
        assert np.all(o.position[:2] >= ws_min[:2]) and np.all(o.position[:2] <= ws_max[:2]), o.name


def test_missing_scene_raises_helpful_error(make_arm):
    with pytest.raises(SceneError) as err:
        load_scene("no_such_scene")
    msg = str(err.value)
    assert "no_such_scene" in msg and "default" in msg  # names the request and what exists
    with pytest.raises(SceneError):
        make_arm(0, scene="no_such_scene")


MALFORMED = {
    "not yaml": "objects: [unclosed\n  - {",
    "empty file": "",
    "a list": "- red_cube\n- blue_cube\n",
    "no objects": "name: x\n",
    "objects not a list": "objects: {red_cube: 1}\n",
    "object not a mapping": "objects: [red_cube]\n",
    "object without name": "objects: [{category: cube, size: large, position: [0.4, 0.0]}]\n",
    "object without position": "objects: [{name: a, category: cube, size: large}]\n",
    "position one number": "objects: [{name: a, category: cube, size: large, position: 0.4}]\n",
    "position 3-D": "objects: [{name: a, category: cube, size: large, position: [0.4, 0.0, 0.1]}]\n",
    "position not numbers": "objects: [{name: a, category: cube, size: large, position: [left, front]}]\n",
    "unknown size": "objects: [{name: a, category: cube, size: huge, position: [0.4, 0.0]}]\n",
    "edge not a number": "objects: [{name: a, category: cube, edge: big, position: [0.4, 0.0]}]\n",
    "unknown colour": "objects: [{name: a, category: cube, size: large, color: pink, position: [0.4, 0.0]}]\n",
    "duplicate names": ("objects: [{name: a, category: cube, size: large, position: [0.4, 0.0]},\n"
                        "          {name: a, category: cube, size: small, position: [0.5, 0.0]}]\n"),
    "table not a mapping": "table: [1, 2]\nobjects: []\n",
    "camera eye not numbers": "camera: {eye: [a, b, c]}\nobjects: []\n",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_scene_raises_scene_error(tmp_path, case):
    path = tmp_path / "bad.yaml"
    path.write_text(MALFORMED[case])
    with pytest.raises(SceneError) as err:
        load_scene(path)
    assert str(path) in str(err.value)  # says which file


def test_malformed_scene_refused_by_the_arm(tmp_path, make_arm):
    path = tmp_path / "bad.yaml"
    path.write_text(MALFORMED["position not numbers"])
    with pytest.raises(SceneError):
        make_arm(0, scene=str(path))


def test_custom_scene_with_explicit_edge(tmp_path, make_arm):
    path = tmp_path / "one.yaml"
    path.write_text("name: one\njitter: 0.0\n"
                    "objects: [{name: c, category: cube, color: green, edge: 0.04, position: [0.5, 0.1]}]\n")
    arm = make_arm(0, scene=str(path))
    objs = arm.objects()
    assert list(objs) == ["c"]
    np.testing.assert_allclose(objs["c"].half_extents, 0.02, atol=1e-3)
    np.testing.assert_allclose(objs["c"].position, [0.5, 0.1, 0.02], atol=2e-3)


# -- camera ------------------------------------------------------------------------------------------

def test_camera_rgb(arm):
    img = arm.camera_rgb()
    assert img.shape == (240, 320, 3) and img.dtype == np.uint8
    assert img.std() > 10
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 50
    assert not np.array_equal(img[:, :, 0], img[:, :, 2])  # colour, not grey
    small = arm.camera_rgb(64, 48)
    assert small.shape == (48, 64, 3) and small.dtype == np.uint8
