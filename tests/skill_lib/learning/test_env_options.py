"""Environment options through the training config: the push range (issue #18 item 2, first step).

A push environment takes `distances=(low, high)` within the push skill's bounds and sizes its episode limit for the
longest push; the config carries the options into every checkpoint; the learned push declines by the range its own
checkpoint was trained on; checkpoints without the field load as the environment's defaults.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hardware.pybullet import PyBulletArm, PyBulletConfig
from skill_lib.learning.envs.push import DISTANCES, STEPS, episode_steps, trained_distances
from skill_lib.learning.mcsac import MultiCriticSAC, TrainConfig, config_dict, make_env
from skill_lib.learning.policy import LearnedPick, LearnedPush
from skill_lib.learning.train import load_config, load_policy, save_policy


@pytest.mark.parametrize("distances", [(0.01, 0.1), (0.05, 0.3), (0.1, 0.1), (0.15, 0.05), (0.1,), "far"])
def test_push_environment_refuses_distances_outside_the_skill_bounds(distances):
    with pytest.raises(ValueError, match="distances"):
        make_env("push", {"distances": distances})


def test_push_episode_limit_grows_with_the_longest_push_and_keeps_150_by_default():
    assert episode_steps(DISTANCES) == STEPS == 150
    assert episode_steps((0.02, 0.10)) == 150  # a shorter range keeps the default limit
    assert episode_steps((0.05, 0.20)) == 170 and episode_steps((0.05, 0.25)) == 190
    env = make_env("push", {"distances": [0.05, 0.25]})  # a list, as JSON gives it back
    try:
        assert env.unwrapped.distances == (0.05, 0.25) and env.unwrapped.max_steps == 190
        env.reset(seed=1)
        assert make_env("push").unwrapped.max_steps == 150
    finally:
        env.close()


def test_a_short_push_that_leaves_the_cube_where_it_was_is_no_success():
    env = make_env("push", {"distances": (0.02, 0.03)})
    try:
        for seed in range(3):
            env.reset(seed=seed)
            _, distance = env.unwrapped.direction_and_distance()
            _, _, _, _, info = env.step(np.zeros(4, np.float32))  # the hand stays up: the cube does not move
            assert not info["is_success"] and env.unwrapped._tolerance == pytest.approx(distance - 0.01)
    finally:
        env.close()


def test_other_options_are_refused_by_the_environment():
    with pytest.raises(TypeError):
        make_env("pick", {"distances": (0.05, 0.25)})


def _checkpoint(tmp_path, **env_options) -> MultiCriticSAC:
    agent = MultiCriticSAC(TrainConfig(skill="push", hidden=8, env_options=env_options), 19, 3, 4)
    save_policy(agent, tmp_path / "policy.pt")
    return load_policy(tmp_path / "policy.pt")


def test_learned_push_declines_by_the_range_its_checkpoint_was_trained_on(tmp_path):
    wide, default = _checkpoint(tmp_path, distances=(0.05, 0.25)), _checkpoint(tmp_path)
    assert wide.config.env_options == {"distances": (0.05, 0.25)} and default.config.env_options == {}
    twenty = {"object": "red_cube", "direction": "left", "distance": 0.2}
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        assert LearnedPush(wide).declines(arm, twenty) is None
        assert "5-15 cm" in LearnedPush(default).declines(arm, twenty)
    assert LearnedPush(wide).max_steps == 190 and LearnedPush(default).max_steps == 150


def test_a_push_goal_box_sets_where_pushes_end_and_what_the_learned_push_takes(tmp_path):
    near = [[0.24, -0.35], [0.72, 0.35]]
    env = make_env("push", {"goal_box": near, "distances": (0.02, 0.25)})
    try:
        ends = []
        for seed in range(40):
            env.reset(seed=seed)
            ends.append(env.unwrapped.goal[:2])
        assert np.all(np.min(ends, axis=0) >= (0.24, -0.35)) and np.min(ends, axis=0)[0] < 0.28  # nearer the robot
    finally:
        env.close()
    with pytest.raises(ValueError, match="reach"):
        make_env("push", {"goal_box": [[0.15, -0.35], [0.72, 0.35]]})  # beyond what the push skill reaches
    towards = {"object": "small_red_cube", "direction": "backward", "distance": 0.08}  # ends at x ~0.27
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        assert LearnedPush(_checkpoint(tmp_path, goal_box=near)).declines(arm, towards) is None
        assert "outside the area" in LearnedPush(_checkpoint(tmp_path)).declines(arm, towards)


def test_default_options_are_not_written_and_old_configs_load_with_defaults(tmp_path):
    config = TrainConfig(skill="push")
    assert "env_options" not in config_dict(config)  # the default recipe's files stay byte for byte as before
    assert config_dict(TrainConfig(env_options={"distances": (0.05, 0.2)}))["env_options"] == {"distances": (0.05, 0.2)}
    agent = MultiCriticSAC(TrainConfig(skill="push", hidden=8), 19, 3, 4)
    save_policy(agent, tmp_path / "policy.pt")
    state = torch.load(tmp_path / "policy.pt", weights_only=False)
    state["config"]["retired_setting"] = 1  # a file from another version
    torch.save(state, tmp_path / "old.pt")
    loaded = load_policy(tmp_path / "old.pt")
    assert loaded.config.env_options == {} and trained_distances(loaded.config.env_options) == DISTANCES
    assert load_config(tmp_path / "old.pt") == loaded.config
    obs = {"observation": np.zeros(19, np.float32), "achieved_goal": np.zeros(3, np.float32),
           "desired_goal": np.zeros(3, np.float32)}
    assert np.allclose(loaded.act(obs, deterministic=True), agent.act(obs, deterministic=True))


@pytest.mark.parametrize("argv, message", [
    (["push", "--push-distances", "0.05", "0.3"], "--push-distances: push distances must satisfy"),
    (["push", "--push-distances", "0.2", "0.1"], "low < high"),
    (["pick", "--push-distances", "0.05", "0.25"], "not among the skills to train"),
])
def test_skillstack_train_checks_push_distances(tmp_path, capsys, argv, message):
    from skill_stack_apps.cli import main
    assert main(["train", *argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1 and not any(tmp_path.iterdir())


def test_skillstack_train_names_a_run_by_its_push_distances(monkeypatch, tmp_path, capsys):
    from skill_stack_apps.commands import train as command
    jobs = []
    monkeypatch.setattr(command, "_train_here", lambda job, as_json: jobs.append(job) or 0)
    from skill_stack_apps.cli import main
    assert main(["train", "push", "--push-distances", "0.05", "0.25", "--out", str(tmp_path)]) == 0
    (job,) = jobs
    assert job.config.env_options == {"distances": (0.05, 0.25)}
    assert job.run_dir == tmp_path / "push-multi-d5-25cm-seed0"


@pytest.mark.parametrize("box", [((0.3, -0.2, 0.1), (0.2, 0.2, 0.3)), ((0.3, 0.1), (0.6, 0.2)), "wide", None])
def test_pick_environment_refuses_a_hand_box_that_is_not_two_corners(box):
    with pytest.raises(ValueError, match="hand_box"):
        make_env("pick", {"hand_box": box})


def test_learned_pick_declines_a_hand_outside_the_box_its_checkpoint_was_trained_from(tmp_path):
    wide_box = [[0.30, -0.48, 0.12], [0.62, 0.48, 0.35]]
    agents = []
    for i, options in enumerate(({"hand_box": wide_box}, {})):
        agent = MultiCriticSAC(TrainConfig(skill="pick", hidden=8, env_options=options), 19, 3, 4)
        save_policy(agent, tmp_path / f"{i}.pt")
        agents.append(load_policy(tmp_path / f"{i}.pt"))
    wide, default = agents
    over_tray = np.array([0.5, 0.42, 0.16])  # where a place into the default scene's tray leaves the hand
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        assert LearnedPick(wide).declines(arm, {"object": "red_cube"}, over_tray) is None
        assert "outside where the learned pick" in LearnedPick(default).declines(arm, {"object": "red_cube"}, over_tray)
    env = make_env("pick", {"hand_box": wide_box}).unwrapped
    try:
        starts = []
        for seed in range(12):
            env.reset(seed=seed)
            starts.append(env.arm.ee_pose().position)
        assert max(abs(s[1]) for s in starts) > 0.3  # some over the sides, where the default box never starts
    finally:
        env.close()


def test_skillstack_train_objects_keeps_the_recipes_other_options_and_names_the_run(monkeypatch, tmp_path, capsys):
    from skill_lib.learning.recipes import ENVIRONMENTS
    from skill_stack_apps.commands import train as command
    jobs = []
    monkeypatch.setattr(command, "_train_here", lambda job, as_json: jobs.append(job) or 0)
    from skill_stack_apps.cli import main
    assert main(["train", "pick", "--objects", "lego", "cube", "--out", str(tmp_path)]) == 0
    (job,) = jobs
    assert job.config.env_options == {**ENVIRONMENTS["pick"], "objects": ["cube", "lego"]}
    assert job.run_dir == tmp_path / "pick-multi-cube-lego-seed0"
    assert main(["train", "pick", "--objects", "brick", "--out", str(tmp_path)]) == 2
    assert "unknown objects" in capsys.readouterr().err


def test_learned_skills_take_the_lego_brick_only_where_their_checkpoint_was_trained_on_it(tmp_path):
    agents = []
    for i, options in enumerate(({"objects": ["cube", "lego"]}, {})):
        agent = MultiCriticSAC(TrainConfig(skill="pick", hidden=8, env_options=options), 19, 3, 4)
        save_policy(agent, tmp_path / f"{i}.pt")
        agents.append(load_policy(tmp_path / f"{i}.pt"))
    with_lego, cubes = agents
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        assert LearnedPick(with_lego).declines(arm, {"object": "lego_brick"}) is None
        assert LearnedPick(with_lego).declines(arm, {"object": "red_cube"}) is None
        assert "not lego lego_brick (2.5 cm)" in LearnedPick(cubes).declines(arm, {"object": "lego_brick"})
        assert "not tray tray" in LearnedPick(with_lego).declines(arm, {"object": "tray"})


@pytest.mark.parametrize("skill", ["pick", "place", "push"])
def test_the_object_box_option_moves_where_objects_start_and_where_the_learned_skill_takes_them(skill, tmp_path):
    from skill_lib.learning.policy import LearnedPlace
    near = [[0.27, -0.27], [0.65, 0.27]]  # the default scene's Lego brick lies at x 0.28-0.32
    env = make_env(skill, {"object_box": near}).unwrapped
    try:
        xs = []
        for seed in range(30):
            env.reset(seed=seed)
            xs.append(float(env.arm.object("cube").position[0]) if skill != "place" else float(env.goal[0]))
        assert min(xs) < 0.31 <= max(xs)  # the default box starts at 0.33
    finally:
        env.close()
    with pytest.raises(ValueError, match="object_box"):
        make_env(skill, {"object_box": [[0.6, -0.2], [0.3, 0.2]]})
    adapter = {"pick": LearnedPick, "place": LearnedPlace, "push": LearnedPush}[skill]
    policies = []
    for i, options in enumerate(({"object_box": near}, {})):
        agent = MultiCriticSAC(TrainConfig(skill=skill, hidden=8, env_options=options), 19, 3, 4)
        save_policy(agent, tmp_path / f"{i}.pt")
        policies.append(adapter(load_policy(tmp_path / f"{i}.pt")))
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        arm.set_object_pose("red_cube", [0.28, -0.15, 0.026])
        if skill == "place":
            params = {"object": "red_cube", "target": "green_cube", "offset_x": 0.0, "offset_y": 0.0}
        elif skill == "push":
            params = {"object": "red_cube", "direction": "forward", "distance": 0.1}
        else:
            params = {"object": "red_cube"}
        near_policy, default_policy = policies
        assert near_policy.declines(arm, params) is None
        assert "outside the area" in default_policy.declines(arm, params)


def test_skillstack_train_and_eval_take_an_object_box(monkeypatch, tmp_path, capsys):
    from skill_stack_apps.commands import train as command
    jobs = []
    monkeypatch.setattr(command, "_train_here", lambda job, as_json: jobs.append(job) or 0)
    from skill_stack_apps.cli import main
    assert main(["train", "place", "--object-box", "0.27", "-0.27", "0.65", "0.27", "--out", str(tmp_path)]) == 0
    (job,) = jobs
    assert job.config.env_options["object_box"] == [[0.27, -0.27], [0.65, 0.27]]
    assert job.run_dir == tmp_path / "place-multi-x27-65-y-27-27cm-seed0"
    assert main(["train", "pick", "--object-box", "0.6", "0", "0.3", "0.2", "--out", str(tmp_path)]) == 2
    assert "--object-box: object_box must be two corners" in capsys.readouterr().err
    assert main(["eval", "pick", "--scripted", "--episodes", "2", "--object-box", "0.5", "0", "0.3", "0.2"]) == 2
    assert "--object-box" in capsys.readouterr().err


def test_a_learned_move_to_takes_a_full_hand_only_if_trained_to_and_never_opens_it(tmp_path):
    from skill_lib.learning.policy import LearnedMoveTo
    from skill_lib.runner import run_skill
    from skill_lib.skills import pick
    from skill_lib.spec import SkillContext
    from skill_stack_apps.cli import main

    agents = []
    for i, options in enumerate(({"held": 0.5}, {})):
        agent = MultiCriticSAC(TrainConfig(skill="move_to", hidden=8, env_options=options), 19, 3, 4)
        save_policy(agent, tmp_path / f"{i}.pt")
        agents.append(load_policy(tmp_path / f"{i}.pt"))
    held, empty = agents
    hover = {"target": "tray", "height": 0.1}
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        assert LearnedMoveTo(held).declines(arm, hover) is None and LearnedMoveTo(empty).declines(arm, hover) is None
        run_skill(pick.SKILL, {"object": "red_cube"}, arm, arm)
        assert LearnedMoveTo(held).declines(arm, hover) is None
        assert "empty gripper" in LearnedMoveTo(empty).declines(arm, hover)
        policy = LearnedMoveTo(held)
        ctx = SkillContext(arm, arm, {"target": "tray", "height": 0.1, "speed": 1.0})
        policy.reset(ctx)
        for _ in range(5):  # an untrained network: whatever it asks of the hand, it stays closed
            assert policy.act(ctx)[3] <= -1.0 + 1e-6
    assert main(["train", "move_to", "--move-to-held", "2", "--out", str(tmp_path / "x")]) == 2


@pytest.mark.parametrize("skill, default, longer", [("pick", 60, 80), ("place", 70, 90)])
def test_the_episode_limit_is_an_option_and_the_learned_skill_runs_its_checkpoints_own(skill, default, longer,
                                                                                        tmp_path):
    """Pick's recipe trains 80 steps an episode (a 75 cm reach across the table ran out of 60 in tasks); a checkpoint
    without the option keeps the limit it was trained with, in the environment and in the skill."""
    from skill_lib.learning.policy import LearnedPlace

    adapter = {"pick": LearnedPick, "place": LearnedPlace}[skill]
    assert make_env(skill).unwrapped.max_steps == default
    env = make_env(skill, {"steps": longer})
    env.reset(seed=0)
    for _ in range(longer):
        *_, truncated, _ = env.step(np.zeros(4, dtype=np.float32))
        if truncated:
            break
    assert env.unwrapped._steps == longer
    env.close()
    for steps in (0, 80.5, True, 1000):
        with pytest.raises(ValueError, match="steps"):
            make_env(skill, {"steps": steps})
    limits = []
    for i, options in enumerate(({"steps": longer}, {})):
        agent = MultiCriticSAC(TrainConfig(skill=skill, hidden=8, env_options=options), 19, 3, 4)
        save_policy(agent, tmp_path / f"{i}.pt")
        limits.append(adapter(load_policy(tmp_path / f"{i}.pt")).max_steps)
    assert limits == [longer, default]


def test_a_reach_hand_box_starts_an_empty_hand_anywhere_with_its_fingers_at_any_width_and_the_expert_keeps_them():
    from skill_lib.controllers import OPEN, gripper_action_for_width

    box = [[0.3, -0.3, 0.1], [0.6, 0.3, 0.3]]
    env = make_env("move_to", {"hand_box": box})
    home = make_env("move_to")
    try:
        widths = []
        for seed in range(6):
            env.reset(seed=seed)
            arm = env.unwrapped.arm
            tcp, width = arm.ee_pose().position, arm.gripper_width()
            assert np.all(tcp >= np.subtract(box[0], 0.02)) and np.all(tcp <= np.add(box[1], 0.02)), tcp
            assert env.unwrapped.expert_action()[3] == pytest.approx(gripper_action_for_width(width), abs=1e-6)
            widths.append(width)
            home.reset(seed=seed)
            assert home.unwrapped.expert_action()[3] == OPEN and home.unwrapped.arm.gripper_width() > 0.07
        assert min(widths) < 0.03 and max(widths) > 0.05  # closed and open hands, not one width
    finally:
        env.close()
        home.close()
    with pytest.raises(ValueError, match="hand_box"):
        make_env("move_to", {"hand_box": [[0.6, 0, 0.1], [0.3, 0.3, 0.3]]})


def test_a_push_goal_box_out_of_reach_of_the_cube_is_an_error_not_a_hang():
    env = make_env("push", {"goal_box": [[0.23, -0.35], [0.26, 0.35]], "distances": (0.02, 0.05)})
    try:
        with pytest.raises(RuntimeError, match="out of reach"):
            for seed in range(5):
                env.reset(seed=seed)
    finally:
        env.close()
