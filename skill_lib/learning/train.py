"""Training and evaluation runs for learned skills: rollouts, demonstrations, checkpoints, curves.

A run directory holds `checkpoint.pt` (everything needed to resume: networks, optimisers, counters,
config), `replay.npz` (the episodes so far), `curve.csv` and `curve.png`. `policy.pt` is the small
inference-only file the skill layer loads: the policy of the best evaluation so far (`last_policy.pt` is
the final one, `warm_start_policy.pt` the clone before RL), because RL fine-tuning can lose some of what the
demonstration warm start gave.
"""
from __future__ import annotations

import csv
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from skill_lib.learning.envs.base import REWARD_TERMS
from skill_lib.learning.mcsac import (Episode, MultiCriticSAC, Replay, TrainConfig, config_dict, config_from_dict,
                                     make_env)

EVAL_SEED_OFFSET = 1_000_000  # evaluation episodes never reuse training seeds
TRAIN_SEED_STRIDE = 100_000  # a run's training episodes are seeded from seed * TRAIN_SEED_STRIDE on
REPLAY_FIELDS = ("obs", "achieved", "goal", "actions", "terms", "let_go")


def run_episode(env, choose: Callable[[dict], np.ndarray], seed: int) -> tuple[Episode, bool, float]:
    """One episode; returns it, whether it ended in success, and its mean safety cost."""
    obs, _ = env.reset(seed=seed)
    observations, achieved, actions, terms, let_go = [obs["observation"]], [obs["achieved_goal"]], [], [], []
    success = False
    for _ in range(env.unwrapped.max_steps):
        action = np.asarray(choose(obs), dtype=np.float32)
        obs, _, terminated, truncated, info = env.step(action)
        observations.append(obs["observation"])
        achieved.append(obs["achieved_goal"])
        actions.append(action)
        terms.append(info["reward_terms"])
        let_go.append(info.get("let_go", True))
        success = info["is_success"]
        if terminated or truncated:
            break
    episode = Episode(np.asarray(observations), np.asarray(achieved), obs["desired_goal"].copy(),
                      np.asarray(actions), np.asarray(terms), np.asarray(let_go, dtype=bool))
    return episode, bool(success), float(-episode.terms[:, 1].mean())


def demonstration(env, seed: int, noise: float = 0.0) -> tuple[Episode, bool, np.ndarray]:
    """An episode of the skill's scripted reference controller (the waypoint follower the executor falls
    back to), in the learner's action space; with `noise`, DART as in `expert_demonstration` (the follower
    re-aims at its waypoint from wherever the noise took the hand)."""
    env.reset(seed=seed)
    controller = env.unwrapped.demonstrator()
    ctx = env.unwrapped.skill_context()
    controller.reset(ctx)
    return _demonstrate(env, lambda: controller.act(ctx), seed, noise)


def expert_demonstration(env, seed: int, noise: float = 0.0) -> tuple[Episode, bool, np.ndarray]:
    """An episode of the environment's state-based expert: the scripted controller written as a function
    of the state alone. Cloning the waypoint follower, whose actions also depend on a phase it keeps in
    memory that the policy cannot see, reached 0.18-0.48 on push; this expert's clones 0.9-1.0."""
    return _demonstrate(env, env.unwrapped.expert_action, seed, noise)


def _demonstrate(env, expert: Callable[[], np.ndarray], seed: int, noise: float
                 ) -> tuple[Episode, bool, np.ndarray]:
    """With `noise` (DART, Laskey et al., 2017) the expert's action plus Gaussian noise is executed and its
    clean action kept as the label, so the clone sees and learns to correct errors like its own. Returns
    the episode, its success and the clean actions (the behaviour-cloning labels)."""
    rng = np.random.default_rng(seed)
    labels: list[np.ndarray] = []

    def choose(obs: dict) -> np.ndarray:
        labels.append(np.asarray(expert(), dtype=np.float32))
        executed = labels[-1].copy()
        executed[:3] = np.clip(executed[:3] + rng.normal(0.0, noise, 3), -1.0, 1.0)
        return executed

    episode, success, _ = run_episode(env, choose, seed)
    return episode, success, np.asarray(labels, dtype=np.float32)


def demo_arrays(episodes: list[Episode], labels: list[np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Behaviour-cloning data: every state but the last, with the action taken there (or its label)."""
    return {"obs": np.concatenate([e.obs[:-1] for e in episodes]),
            "achieved": np.concatenate([e.achieved[:-1] for e in episodes]),
            "goal": np.concatenate([np.repeat(e.goal[None], len(e.actions), 0) for e in episodes]),
            "action": np.concatenate(labels if labels is not None else [e.actions for e in episodes])}


def eval_seeds(seed: int, episodes: int) -> list[int]:
    return [EVAL_SEED_OFFSET + seed * 10_000 + i for i in range(episodes)]


def training_seeds(config: TrainConfig) -> range:
    """Every seed a run's training episodes may use: its demonstrations, then one per RL episode (an episode takes
    at least one step, so at most `total_steps` of them). A held-out evaluation checks its seeds against these."""
    start = config.seed * TRAIN_SEED_STRIDE
    return range(start, start + config.demo_episodes + config.total_steps)


def evaluate(agent: MultiCriticSAC, env, episodes: int, seed: int) -> float:
    return evaluation([run_episode(env, lambda obs: agent.act(obs, deterministic=True), s)[:2]
                       for s in eval_seeds(seed, episodes)])["success_rate"]


def evaluation(runs: list[tuple[Episode, bool]]) -> dict:
    """Success rate and each reward term's mean return per episode, as the environment returned them: what
    the critics trade off (a policy as successful as another may get there sooner, or with less effort)."""
    returns = np.mean([episode.terms.sum(0) for episode, _ in runs], axis=0)
    return {"success_rate": float(np.mean([success for _, success in runs])),
            "returns": {term: round(float(r), 4) for term, r in zip(REWARD_TERMS, returns)}}


def _progress(step: int, total: int, text: str) -> None:
    filled = int(30 * step / max(total, 1))
    end = "\n" if step >= total or not sys.stderr.isatty() else ""
    sys.stderr.write(f"\r[{'#' * filled}{'-' * (30 - filled)}] {step}/{total} {text}{end}")
    sys.stderr.flush()


def save_replay(path: Path, replay: Replay) -> None:
    arrays = {f"{i}_{k}": getattr(ep, k) for i, ep in enumerate(replay.episodes)
              for k in REPLAY_FIELDS if getattr(ep, k) is not None}
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def load_replay(path: Path, replay: Replay) -> None:
    data = np.load(path)
    for i in range(len({k.split("_")[0] for k in data.files})):
        # replays saved before let_go was recorded have none: relabelling then treats the hand as open
        replay.add(Episode(**{k: data[f"{i}_{k}"] for k in REPLAY_FIELDS if f"{i}_{k}" in data.files}))


def plot_curve(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([r["step"] for r in rows], [r["success"] for r in rows], marker="o")
    ax.set(xlabel="environment steps", ylabel="evaluation success", ylim=(-0.02, 1.02), title=title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


@dataclass
class _Run:
    """What one training run works on, from set-up to report."""

    config: TrainConfig
    run_dir: Path
    quiet: bool
    env: gym.Env
    eval_env: gym.Env
    agent: MultiCriticSAC
    replay: Replay
    rng: np.random.Generator
    #: multiplies the reward terms as the environment returns them (TrainConfig.term_scales)
    scales: np.ndarray
    #: wall-clock start: the minutes reported include demonstrations and the warm start
    started: float = field(default_factory=time.time)
    curve: list[dict] = field(default_factory=list)
    step: int = 0
    #: behaviour-cloning data (None: from scratch, plain SAC + HER)
    demos: dict[str, np.ndarray] | None = None

    def progress(self, done: int, total: int, text: str) -> None:
        if not self.quiet:
            _progress(done, total, f"{text}  {time.time() - self.started:.0f} s")

    def evaluate(self) -> float:
        return evaluate(self.agent, self.eval_env, self.config.eval_episodes, self.config.seed)

    def save_checkpoint(self) -> None:
        _save_checkpoint(self.run_dir, self.agent, self.step, self.curve, self.rng, self.demos, self.replay)


def train(config: TrainConfig, run_dir: Path, resume: bool = True, quiet: bool = False) -> dict:
    """Train (or resume) a skill policy; returns the final evaluation summary.

    The warm start (demonstrations, behaviour cloning) or the resumed checkpoint, then the RL loop, then the
    report: curve.csv, curve.png and the summary."""
    if config.actor_update not in ("sac", "awac"):
        raise ValueError(f"actor_update must be 'sac' or 'awac', not {config.actor_update!r}")
    if config.term_scales[0] != 1.0:
        raise ValueError("the task term cannot be rescaled (hindsight relabelling recomputes it)")
    torch.set_num_threads(config.torch_threads)
    started = time.time()
    run_dir.mkdir(parents=True, exist_ok=True)
    env, eval_env = make_env(config.skill, config.env_options), make_env(config.skill, config.env_options)
    space = env.observation_space
    agent = MultiCriticSAC(config, space["observation"].shape[0], space["desired_goal"].shape[0],
                           env.action_space.shape[0])
    run = _Run(config, run_dir, quiet, env, eval_env, agent, Replay(env.unwrapped.compute_reward),
               np.random.default_rng(config.seed), np.asarray(config.term_scales, dtype=np.float32), started)
    if resume and (run_dir / "checkpoint.pt").exists():
        _resume(run)
    else:
        _warm_start(run)
    _reinforce(run)
    return _report(run)


def _resume(run: _Run) -> None:
    """Networks, optimisers, counters, random state and replay as the last checkpoint left them."""
    state = torch.load(run.run_dir / "checkpoint.pt", weights_only=False)
    run.agent.load_state_dict(state["agent"])
    run.step, run.curve = state["step"], state["curve"]
    run.rng.bit_generator.state = state["rng"]
    if "torch_rng" in state:  # older checkpoints lack it: they resume, but not bit for bit
        torch.set_rng_state(state["torch_rng"])
    load_replay(run.run_dir / "replay.npz", run.replay)
    for episode in run.replay.episodes:
        run.agent.observe_terms(episode.terms)
    run.demos = state["demos"]


def _warm_start(run: _Run) -> None:
    """Demonstrations into the replay, behaviour cloning of their (clean) actions, a first evaluation, and a
    checkpoint: the warm start can take minutes, and a later (or resumed) RL run starts from it."""
    config, env, agent = run.config, run.env, run.agent
    seeds = [config.seed * TRAIN_SEED_STRIDE + i for i in range(config.demo_episodes)]
    demonstrate = expert_demonstration if hasattr(env.unwrapped, "expert_action") else demonstration
    runs = []
    for i, s in enumerate(seeds, 1):
        runs.append(demonstrate(env, s, config.demo_noise))
        if i % 25 == 0 or i == len(seeds):
            run.progress(i, len(seeds), "demonstrations")
    demo_eps, labels = [(e, ok) for e, ok, _ in runs], [lab for _, _, lab in runs]
    for episode, _ in demo_eps:
        episode.terms *= run.scales
        run.replay.add(episode)
        agent.observe_terms(episode.terms)
    if demo_eps:
        run.demos = demo_arrays([e for e, _ in demo_eps], labels)
        agent.norm.update(agent.raw_inputs(run.demos["obs"], run.demos["achieved"], run.demos["goal"]))

        def bc_progress(updates: int) -> None:
            run.progress(updates, config.bc_pretrain_steps, "behaviour-cloning updates")
        agent.pretrain_bc(run.demos, config.bc_pretrain_steps, config.batch_size, run.rng,
                          None if run.quiet else bc_progress)
    run.curve.append({"step": 0, "success": run.evaluate(),
                      "demo_success": float(np.mean([s for _, s in demo_eps])) if demo_eps else None})
    save_policy(agent, run.run_dir / "policy.pt")
    save_policy(agent, run.run_dir / "warm_start_policy.pt")
    run.save_checkpoint()


def _reinforce(run: _Run) -> None:
    """The RL phase: an episode of the current policy, then updates, until `total_steps`; every `eval_every`
    steps an evaluation, a checkpoint, and policy.pt if it is the best so far."""
    config, agent, replay, demos = run.config, run.agent, run.replay, run.demos
    episode_index = len(replay.episodes)
    stats: dict[str, float] = {}
    while run.step < config.total_steps:
        episode, _, cost = run_episode(run.env, agent.act, config.seed * TRAIN_SEED_STRIDE + episode_index)
        episode_index += 1
        episode.terms *= run.scales
        replay.add(episode)
        agent.observe_terms(episode.terms)
        if demos is None or config.bc_pretrain_steps == 0:
            # With a warm start the normaliser stays at the demonstrations' statistics: moving it
            # changes what the cloned actor sees (a pick policy fell from 1.00 to 0.66 with no update)
            agent.norm.update(agent.raw_inputs(episode.obs, episode.achieved,
                                               np.repeat(episode.goal[None], len(episode.obs), 0)))
        if config.lagrangian_safety:
            agent.update_lagrange(cost)
        before, run.step = run.step, run.step + len(episode.actions)
        if replay.steps >= config.learning_starts:
            bc_weight = config.bc_weight * max(0.0, 1.0 - run.step / config.bc_decay_steps)
            for _ in range(int(len(episode.actions) * config.updates_per_step)):
                demo_batch = None
                if demos is not None:
                    demo_idx = run.rng.integers(len(demos["obs"]), size=config.batch_size // 4)
                    demo_batch = {k: v[demo_idx] for k, v in demos.items()}
                stats = agent.update(replay.sample(config.batch_size, config.her_ratio, run.rng), demo_batch,
                                     bc_weight)
        if run.step // config.eval_every > before // config.eval_every or run.step >= config.total_steps:
            success = run.evaluate()
            if success >= max(r["success"] for r in run.curve):
                save_policy(agent, run.run_dir / "policy.pt")
            run.curve.append({"step": run.step, "success": success, **{k: round(v, 4) for k, v in stats.items()}})
            run.save_checkpoint()
        run.progress(min(run.step, config.total_steps), config.total_steps,
                     f"eval success {run.curve[-1]['success']:.2f}")


def _report(run: _Run) -> dict:
    """The last policy, the learning curve (CSV and plot), and the summary `skillstack train` prints."""
    config, curve = run.config, run.curve
    save_policy(run.agent, run.run_dir / "last_policy.pt")
    with (run.run_dir / "curve.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=sorted({k for r in curve for k in r}))
        writer.writeheader()
        writer.writerows(curve)
    plot_curve(curve, run.run_dir / "curve.png", f"{config.skill} ({'multi' if config.multi_critic else 'single'}"
                                                 f"-critic, seed {config.seed})")
    run.env.close()
    run.eval_env.close()
    return {"skill": config.skill, "steps": run.step, "success_rate": curve[-1]["success"],
            "best_success_rate": max(r["success"] for r in curve), "run_dir": str(run.run_dir),
            "minutes": round((time.time() - run.started) / 60, 2)}


def _save_checkpoint(run_dir: Path, agent: MultiCriticSAC, step: int, curve: list[dict], rng: np.random.Generator,
                     demos: dict[str, np.ndarray] | None, replay: Replay) -> None:
    # torch's generator too: the policy samples its exploration noise from it, so without it a resumed run
    # drifts from an uninterrupted one
    torch.save({"agent": agent.state_dict(), "step": step, "curve": curve, "rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(), "demos": demos}, run_dir / "checkpoint.tmp")
    os.replace(run_dir / "checkpoint.tmp", run_dir / "checkpoint.pt")  # a crash never leaves half a checkpoint
    save_replay(run_dir / "replay.npz", replay)


def save_policy(agent: MultiCriticSAC, path: Path) -> None:
    """Inference-only file (actor + input normaliser + config): what the skill layer loads."""
    torch.save({"config": config_dict(agent.config), "norm": agent.norm.state_dict(), "actor": agent.actor.state_dict()},
               path)


def load_config(path: Path) -> TrainConfig:
    """The training settings a policy.pt or checkpoint.pt carries, without building its networks."""
    state = torch.load(path, weights_only=False)
    return config_from_dict(state["config"] if "config" in state else state["agent"]["config"])


def load_policy(path: Path) -> MultiCriticSAC:
    """For inference in a control loop: one torch thread, so a small network never spins up a thread
    pool that competes with the real-time processes around it."""
    torch.set_num_threads(1)
    state = torch.load(path, weights_only=False)
    config = config_from_dict(state["config"])
    env = make_env(config.skill, config.env_options)
    space = env.observation_space
    agent = MultiCriticSAC(config, space["observation"].shape[0], space["desired_goal"].shape[0],
                           env.action_space.shape[0])
    env.close()
    agent.norm.load_state_dict(state["norm"])
    agent.actor.load_state_dict(state["actor"])
    return agent
