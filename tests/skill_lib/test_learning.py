"""The multi-critic learner: a short run learns (losses fall), checkpoints round-trip and resume, and
the train/eval commands work. Target success rates are measured by bench scripts, not here."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from skill_lib.learning import LEARNABLE
from skill_lib.learning.mcsac import MultiCriticSAC, Replay, TrainConfig, make_env
from skill_lib.learning.recipes import ENVIRONMENTS, RL_PHASES, WARM_STARTS, recipe
from skill_lib.learning.train import demonstration, expert_demonstration, load_policy, train

SHORT = dict(skill="move_to", total_steps=300, eval_every=300, eval_episodes=4, demo_episodes=4,
             bc_pretrain_steps=100, learning_starts=100, batch_size=64, hidden=64, critic_warmup_updates=50)


def test_critic_and_bc_losses_fall_on_demonstrations():
    env = make_env("move_to")
    episodes = [demonstration(env, i)[0] for i in range(4)]
    env.close()
    space = env.observation_space
    for multi in (True, False):
        agent = MultiCriticSAC(TrainConfig(multi_critic=multi, hidden=64), space["observation"].shape[0], 3, 4)
        replay = Replay(env.unwrapped.compute_reward)
        for episode in episodes:
            replay.add(episode)
        demos = {"obs": np.concatenate([e.obs[:-1] for e in episodes]),
                 "achieved": np.concatenate([e.achieved[:-1] for e in episodes]),
                 "goal": np.concatenate([np.repeat(e.goal[None], len(e.actions), 0) for e in episodes]),
                 "action": np.concatenate([e.actions for e in episodes])}
        agent.norm.update(agent.raw_inputs(demos["obs"], demos["achieved"], demos["goal"]))
        rng = np.random.default_rng(0)
        bc = agent.pretrain_bc(demos, 200, 64, rng)
        assert np.mean(bc[-20:]) < 0.5 * np.mean(bc[:20])
        critic = [agent.update(replay.sample(64, 0.8, rng), None, 0.0)["critic_loss"] for _ in range(150)]
        assert np.mean(critic[-20:]) < np.mean(critic[:20]), "critic loss did not fall"
        assert agent.critics(agent.inputs(demos["obs"][:5], demos["achieved"][:5], demos["goal"][:5]),
                             torch.zeros(5, 4)).shape == (2, 5, 3 if multi else 1)


def test_awac_actor_update_fits_the_replay_actions():
    """The advantage-weighted actor update is a weighted fit of the replay's own actions: on demonstrations
    their likelihood under the policy rises (what keeps a cloned policy from drifting away)."""
    env = make_env("move_to")
    episodes = [demonstration(env, i)[0] for i in range(4)]
    env.close()
    agent = MultiCriticSAC(TrainConfig(hidden=64, actor_update="awac", critic_warmup_updates=0), 19, 3, 4)
    replay = Replay(env.unwrapped.compute_reward)
    for episode in episodes:
        replay.add(episode)
        agent.observe_terms(episode.terms)
    batch = replay.sample(256, 0.0, np.random.default_rng(1))
    agent.norm.update(agent.raw_inputs(batch["obs"], batch["achieved"], batch["goal"]))
    x = agent.inputs(batch["obs"], batch["achieved"], batch["goal"])

    def likelihood() -> float:
        with torch.no_grad():
            return agent.actor.log_prob(x, torch.as_tensor(batch["action"])).mean().item()

    before, rng = likelihood(), np.random.default_rng(0)
    stats = [agent.update(replay.sample(64, 0.8, rng), None, 0.0) for _ in range(150)]
    assert np.all(np.isfinite([s["actor_loss"] for s in stats])) and likelihood() > before + 1.0
    # no entropy in AWAC: no bonus in the critics' targets, and a temperature that stays where it was
    assert all(s["alpha"] == 0.0 for s in stats) and agent.log_alpha.item() == pytest.approx(np.log(0.05))


def test_hindsight_relabelling_recomputes_only_the_task_term():
    env = make_env("move_to")
    episode, _, _ = demonstration(env, 0)
    env.close()
    episode.terms[:, 1] = -1.0  # mark safety so we can see it survive relabelling
    replay = Replay(env.unwrapped.compute_reward)
    replay.add(episode)
    batch = replay.sample(200, 1.0, np.random.default_rng(0))
    assert np.all(batch["terms"][:, 1] == -1.0)
    dist = np.linalg.norm(batch["next_achieved"] - batch["goal"], axis=1)
    assert np.array_equal(batch["terms"][:, 0] == 0.0, dist < env.unwrapped.distance_threshold)


def test_relabelled_place_rewards_need_the_hand_open():
    """Place succeeds only with the cube let go, so its task reward must say so after relabelling too:
    a cube at the goal still in hand earns -1 (rewarding it taught fine-tuning to stop letting go)."""
    env = make_env("place")
    episode, success, _ = demonstration(env, 0)
    env.close()
    assert success and not episode.let_go[0] and episode.let_go[-1]  # held at the start, let go at the end
    replay = Replay(env.unwrapped.compute_reward)
    replay.add(episode)
    batch = replay.sample(400, 1.0, np.random.default_rng(0))
    reached = np.linalg.norm(batch["next_achieved"] - batch["goal"], axis=1) < env.unwrapped.distance_threshold
    held = ~episode.let_go[[int(np.flatnonzero((episode.obs[1:] == o).all(1))[0]) for o in batch["next_obs"]]]
    assert (reached & held).any(), "no relabelled goal reached while the cube was held: test proves nothing"
    assert np.array_equal(batch["terms"][:, 0] == 0.0, reached & ~held)


def test_multi_critic_targets_do_not_change_when_a_term_is_rescaled():
    """The per-term normalisation makes a mis-scaled term harmless to the multi-critic learner (same
    critic targets with effort x10), and leaves the single critic's summed reward as it is (the baseline)."""
    env = make_env("move_to")
    episode, _, _ = demonstration(env, 0)
    env.close()
    episode.terms[5, 1] = -1.0  # one safety event among zeros
    targets = {}
    for multi in (True, False):
        for scale in (1.0, 10.0):
            agent = MultiCriticSAC(TrainConfig(multi_critic=multi, hidden=32), 10, 3, 4)
            terms = episode.terms * np.float32([1.0, 1.0, scale])
            agent.observe_terms(terms)
            targets[multi, scale] = agent.rewards(torch.as_tensor(terms)).numpy()
    np.testing.assert_allclose(targets[True, 1.0], targets[True, 10.0], rtol=1e-5, atol=1e-7)
    assert targets[True, 1.0][5, 1] == -1.0 and np.all(np.delete(targets[True, 1.0][:, 1], 5) == 0.0)
    assert np.abs(targets[True, 1.0][:, 2]).max() == pytest.approx(1.0)
    assert not np.allclose(targets[False, 1.0], targets[False, 10.0])


def test_training_checkpoints_resume_and_the_policy_loads(tmp_path):
    config = TrainConfig(**SHORT)
    first = train(config, tmp_path, quiet=True)
    assert first["steps"] >= 300 and (tmp_path / "curve.png").stat().st_size > 1000
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert state["step"] == first["steps"]
    config.total_steps = 400  # resume: continues from the checkpoint instead of starting over
    second = train(config, tmp_path, quiet=True)
    assert second["steps"] >= 400
    assert len(torch.load(tmp_path / "checkpoint.pt", weights_only=False)["curve"]) == len(state["curve"]) + 1
    agent = load_policy(tmp_path / "policy.pt")
    env = make_env("move_to")
    obs, _ = env.reset(seed=0)
    assert agent.act(obs, deterministic=True).shape == (4,)
    env.close()


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    """Stopped at an evaluation and resumed, a run ends with the same weights and curve as one that never
    stopped: the checkpoint holds every random state, and each episode starts from the world as built."""
    steps = dict(SHORT, eval_every=150)
    whole = train(TrainConfig(**steps), tmp_path / "whole", quiet=True)
    train(TrainConfig(**{**steps, "total_steps": 150}), tmp_path / "resumed", quiet=True)
    resumed = train(TrainConfig(**steps), tmp_path / "resumed", quiet=True)
    assert resumed["steps"] == whole["steps"] and resumed["success_rate"] == whole["success_rate"]
    for name in ("policy.pt", "last_policy.pt"):
        a, b = (torch.load(tmp_path / run / name, weights_only=False)["actor"] for run in ("whole", "resumed"))
        assert all(torch.equal(a[k], b[k]) for k in a), name
    curves = [torch.load(tmp_path / run / "checkpoint.pt", weights_only=False)["curve"] for run in ("whole", "resumed")]
    assert curves[0] == curves[1]


def test_a_warm_start_only_run_is_checkpointed_and_rl_resumes_from_it(tmp_path, monkeypatch, capsys):
    """`--steps 0` then `--steps N` in the same directory: the second run fine-tunes the first run's
    clone instead of redoing its demonstrations and behaviour cloning (minutes for place and push), which
    show their progress."""
    train(TrainConfig(**{**SHORT, "total_steps": 0}), tmp_path)
    shown = capsys.readouterr().err
    assert f"{SHORT['demo_episodes']}/{SHORT['demo_episodes']} demonstrations" in shown
    assert f"{SHORT['bc_pretrain_steps']}/{SHORT['bc_pretrain_steps']} behaviour-cloning updates" in shown
    warm = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert warm["step"] == 0 and len(warm["curve"]) == 1 and warm["demos"] is not None
    clone = (tmp_path / "warm_start_policy.pt").read_bytes()
    import skill_lib.learning.train as train_module
    monkeypatch.setattr(train_module, "expert_demonstration", None)  # a rerun of the demonstrations fails
    summary = train(TrainConfig(**SHORT, actor_lr=2e-4), tmp_path, quiet=True)
    assert summary["steps"] >= 300
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert len(state["curve"]) == 2 and state["curve"][0] == warm["curve"][0]
    # the resumed run's learning rate, not the one the warm start's optimiser was saved with
    assert state["agent"]["actor_opt"]["param_groups"][0]["lr"] == 2e-4
    # the clone stays next to the fine-tuned policies, to compare what RL added
    assert (tmp_path / "warm_start_policy.pt").read_bytes() == clone
    before, after = (torch.load(tmp_path / name, weights_only=False)["actor"]
                     for name in ("warm_start_policy.pt", "last_policy.pt"))
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_from_scratch_and_rescaled_terms(tmp_path):
    """No demonstrations (the flat baselines): plain SAC + HER with the normaliser learning online; a
    rescaled effort term reaches the replay rescaled; the task term cannot be rescaled."""
    config = TrainConfig(**{**SHORT, "demo_episodes": 0, "bc_pretrain_steps": 0, "critic_warmup_updates": 0,
                            "term_scales": (1.0, 1.0, 10.0)})
    summary = train(config, tmp_path / "scratch", quiet=True)
    assert summary["steps"] >= 300
    agent = load_policy(tmp_path / "scratch" / "policy.pt")
    assert float(agent.norm.count) > 300  # updated from the agent's own episodes
    data = np.load(tmp_path / "scratch" / "replay.npz")
    actions = data["0_actions"]
    previous = np.vstack([np.zeros((1, 4)), actions[:-1]])
    unscaled = -0.05 * (actions[:, :3] ** 2).sum(1) - 0.05 * ((actions - previous) ** 2).sum(1)
    np.testing.assert_allclose(data["0_terms"][:, 2], 10 * unscaled, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="task term"):
        train(TrainConfig(**{**SHORT, "term_scales": (10.0, 1.0, 1.0)}), tmp_path / "bad", quiet=True)


def test_every_learnable_skill_has_a_recipe_and_options_override_it():
    assert set(WARM_STARTS) == set(LEARNABLE)
    config = recipe("place", demo_episodes=5, total_steps=None, actor_lr=3e-4)
    assert (config.demo_episodes, config.actor_lr) == (5, 3e-4)  # given: override
    # None: the recipe's
    assert config.total_steps == RL_PHASES["place"]["total_steps"]
    assert config.bc_pretrain_steps == WARM_STARTS["place"]["bc_pretrain_steps"]
    assert config.env_options == ENVIRONMENTS["place"] and recipe("move_to").env_options == ENVIRONMENTS["move_to"]
    assert recipe("pick").total_steps == 0  # no RL phase in its recipe
    with pytest.raises(ValueError, match="learnable"):
        recipe("fly")


def test_eval_command_json_and_errors(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-m", "skill_stack_apps.cli", "eval", "move_to", "--scripted",
                          "--episodes", "5", "--json"], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["skill"] == "move_to" and result["episodes"] == 5 and result["success_rate"] == 1.0
    # per-term returns: the reach succeeded before its time ran out, moving cost effort, nothing hit anything
    probe = make_env("move_to")
    max_steps = probe.unwrapped.max_steps
    probe.close()
    assert -max_steps < result["returns"]["task"] < 0 and result["returns"]["effort"] < 0
    assert result["returns"]["safety"] == 0.0
    bad = subprocess.run([sys.executable, "-m", "skill_stack_apps.cli", "eval", "fly"], capture_output=True, text=True,
                         env=env, timeout=120)
    # (pybullet prints its build time on stderr too)
    assert bad.returncode == 2 and any(line.startswith("error: ") and "learnable" in line
                                       for line in bad.stderr.splitlines())
    noisy = subprocess.run([sys.executable, "-m", "skill_stack_apps.cli", "train", "pick", "--demo-noise", "-0.1",
                            "--out", str(tmp_path)], capture_output=True, text=True, env=env, timeout=120)
    assert noisy.returncode == 2 and "--demo-noise must be >= 0" in noisy.stderr and not any(tmp_path.iterdir())


@pytest.mark.parametrize("skill", ["push", "pick", "place"])
def test_scripted_demonstrations_succeed(skill):
    env = make_env(skill)
    wins = sum(demonstration(env, 100 + i)[1] for i in range(4))
    env.close()
    assert wins >= 3


@pytest.mark.parametrize("skill,demonstrate", [("push", expert_demonstration), ("move_to", expert_demonstration),
                                               ("pick", expert_demonstration), ("place", demonstration)])
def test_demonstrators_succeed_and_noisy_demonstrations_keep_clean_labels(skill, demonstrate):
    """DART (state-based experts, and the place skill's waypoint follower): the executed actions are
    perturbed, the labels are the demonstrator's clean actions."""
    env = make_env(skill)
    wins = sum(demonstrate(env, 200 + i)[1] for i in range(6))
    episode, _, labels = demonstrate(env, 300, noise=0.1)
    env.close()
    assert wins >= 5
    assert labels.shape == episode.actions.shape and not np.allclose(labels[:, :3], episode.actions[:, :3])
    assert np.array_equal(labels[:, 3], episode.actions[:, 3])  # the gripper command is not perturbed
