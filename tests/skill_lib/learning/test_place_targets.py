"""What the place environment sets cubes down on (issue #18 item 2): the `targets` option.

Beside other cubes on the table and on the floors of trays and bins, as well as onto the table and cubes; episodes the
demonstrator solves, goals where a cube really comes to rest; the learned place takes what its own checkpoint was
trained on and declines the rest; `skillstack train` and `eval` take the option.
"""
from __future__ import annotations

import numpy as np
import pytest

from hardware.pybullet import PyBulletArm, PyBulletConfig
from hardware.scene import ObjectSpec, SceneSpec
from skill_lib import predicates as P
from skill_lib.learning.envs import place as env_place
from skill_lib.learning.mcsac import MultiCriticSAC, TrainConfig, make_env
from skill_lib.learning.policy import LearnedPlace
from skill_lib.learning.train import demonstration, load_policy, save_policy
from skill_lib.skills.place import container_floor_z


@pytest.mark.parametrize("targets", [[], "table", ["table", "shelf"], None])
def test_place_environment_refuses_unknown_targets(targets):
    with pytest.raises(ValueError, match="targets"):
        make_env("place", {"targets": targets})


def test_targets_come_back_in_one_order_and_default_to_the_table_and_cubes():
    assert env_place.trained_targets({}) == ("table", "cube")
    assert env_place.trained_targets({"targets": ["container", "table"]}) == ("table", "container")


@pytest.mark.parametrize("scale", [0.3, 0.4])
def test_a_cube_dropped_in_a_tray_rests_on_the_floor_the_place_skill_aims_at(scale):
    scene = SceneSpec(name="t", jitter=0.0, objects=(
        ObjectSpec(name="tray", category="tray", position=(0.5, 0.3), urdf="tray/traybox.urdf", scale=scale,
                   container=True),
        ObjectSpec(name="cube", category="cube", position=(0.5, 0.0), edge=0.04)))
    with PyBulletArm(PyBulletConfig(seed=0), scene=scene) as arm:
        arm.set_object_pose("cube", [0.52, 0.29, 0.12])
        for _ in range(120):
            arm.step()
        assert P.is_in(arm, "cube", "tray")
        assert abs(arm.object("cube").bottom_z - container_floor_z(arm.object("tray"))) < 0.002


def _episodes(target: str, seeds: range):
    """(environment, its goal, every object's state) after each seed's reset, for one target."""
    env = make_env("place", {"targets": [target]}).unwrapped
    try:
        for seed in seeds:
            env.reset(seed=seed)
            goal = env.goal.copy()
            world = {name: env.arm.object(name) for name in env.arm.objects()}
            yield env, goal, world
    finally:
        env.close()


def test_container_goals_lie_on_a_floor_clear_of_the_cubes_already_there():
    seen = set()
    for env, goal, world in _episodes("container", range(12)):
        box = world[env.container]
        seen.add(env.container)
        reach = box.half_extents[:2] * 0.69
        assert np.all(np.abs(goal[:2] - box.position[:2]) <= reach)
        held = world["cube"]
        assert abs(goal[2] - (container_floor_z(box) + held.half_extents[2])) < 1e-6
        for name in ("tower_0", "tower_1"):
            if P.inside(world[name], box):
                gap = np.max(np.abs(world[name].position[:2] - goal[:2]) - world[name].half_extents[:2]
                             - held.half_extents[:2])
                assert gap > env_place.PACKING_GAP - 0.006  # the cube in the hand is a few mm off square
    assert seen == {"tray", "bin"}


def test_beside_goals_are_on_the_table_next_to_a_cube():
    for env, goal, world in _episodes("beside", range(12)):
        assert abs(goal[2] - world["cube"].half_extents[2]) < 1e-6
        air = [np.max(np.abs(world[n].position[:2] - goal[:2]) - world[n].half_extents[:2]
                      - world["cube"].half_extents[:2]) for n in ("tower_0", "tower_1")]
        assert env_place.BESIDE_AIR[0] - 0.02 < min(air) < env_place.BESIDE_AIR[1] + 0.02


@pytest.mark.parametrize("target", ["beside", "container"])
def test_the_demonstrator_places_beside_cubes_and_into_containers(target):
    env = make_env("place", {"targets": [target]})
    wins = sum(demonstration(env, 200 + i)[1] for i in range(4))
    env.close()
    assert wins >= 3


def _adapter(tmp_path, **env_options) -> LearnedPlace:
    agent = MultiCriticSAC(TrainConfig(skill="place", hidden=8, env_options=env_options), 19, 3, 4)
    save_policy(agent, tmp_path / "policy.pt")
    return LearnedPlace(load_policy(tmp_path / "policy.pt"))


def test_learned_place_takes_what_its_checkpoint_was_trained_on(tmp_path):
    everything = _adapter(tmp_path, targets=list(env_place.TARGETS))
    first = _adapter(tmp_path)
    in_tray = {"object": "red_cube", "target": "tray", "offset_x": 0.03, "offset_y": -0.02, "surface": "target"}
    beside = {"object": "red_cube", "target": "blue_cube", "offset_x": 0.0, "offset_y": 0.08, "surface": "table"}
    far = {**beside, "offset_y": -0.15, "target": "small_red_cube"}  # y about -0.4: off the trained area
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        assert everything.declines(arm, in_tray) is None and everything.declines(arm, beside) is None
        assert "not into a tray" in first.declines(arm, in_tray)
        assert "not on the table beside" in first.declines(arm, beside)
        assert "outside the area" in everything.declines(arm, far)


def test_learned_place_aims_at_the_floor_of_a_container_and_the_table_beside(tmp_path):
    adapter = _adapter(tmp_path, targets=list(env_place.TARGETS))
    from skill_lib.spec import SkillContext
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        red, tray, blue = (arm.object(n) for n in ("red_cube", "tray", "blue_cube"))
        params = {"object": "red_cube", "target": "tray", "offset_x": 0.03, "offset_y": -0.02, "surface": "target"}
        goal = adapter._goal(SkillContext(arm, arm, params))
        assert np.allclose(goal, [tray.position[0] + 0.03, tray.position[1] - 0.02,
                                  container_floor_z(tray) + red.half_extents[2]])
        params = {**params, "target": "blue_cube", "surface": "table"}
        goal = adapter._goal(SkillContext(arm, arm, params))
        assert np.allclose(goal, [blue.position[0] + 0.03, blue.position[1] - 0.02, red.half_extents[2]])


@pytest.mark.parametrize("argv, message", [
    (["train", "place", "--place-targets", "shelf"], "--place-targets: unknown place targets"),
    (["train", "pick", "--place-targets", "table"], "not among the skills to train"),
    (["eval", "pick", "--place-targets", "table", "--scripted"], "--place-targets is for place"),
    (["eval", "place", "--place-targets", "shelf", "--scripted"], "unknown place targets"),
])
def test_skillstack_checks_place_targets(tmp_path, capsys, argv, message):
    from skill_stack_apps.cli import main
    assert main([*argv, *(["--out", str(tmp_path)] if argv[0] == "train" else [])]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1 and not any(tmp_path.iterdir())


def test_skillstack_train_names_a_run_by_its_place_targets(monkeypatch, tmp_path):
    from skill_lib.learning.recipes import ENVIRONMENTS
    from skill_stack_apps.cli import main
    from skill_stack_apps.commands import train as command
    jobs = []
    monkeypatch.setattr(command, "_train_here", lambda job, as_json: jobs.append(job) or 0)
    assert main(["train", "place", "--place-targets", "container", "table", "--out", str(tmp_path)]) == 0
    (job,) = jobs
    assert job.config.env_options == {**ENVIRONMENTS["place"], "targets": ["table", "container"]}  # the rest kept
    assert job.run_dir == tmp_path / "place-multi-on-table-container-seed0"
