"""Multi-critic SAC with hindsight goals and a demonstration-regularised warm start.

SLIM's idea: one critic per reward term (task progress, safety, effort) instead of one critic on their
sum. Each critic learns its term divided by the largest magnitude that term has shown so far, and the actor
combines the critics with weights, so a term whose rewards are ten times larger cannot drown the others;
the safety weight can instead be a Lagrange multiplier that grows while the safety cost exceeds a budget.
With `multi_critic=False` the same code trains one critic on the weighted sum of the raw terms: the
baseline.

Read top to bottom: config, networks, replay with hindsight relabelling, the update, the training loop.
"""
from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from skill_lib.learning import learning_spec
from skill_lib.learning.envs.base import REWARD_TERMS


@dataclass
class TrainConfig:
    """Everything a training run depends on; saved in every checkpoint."""

    skill: str = "move_to"  # a key of skill_lib.learning.LEARNABLE
    seed: int = 0
    total_steps: int = 20_000  # environment steps, demonstrations excluded
    multi_critic: bool = True  # False: one critic on the weighted sum of the terms (the baseline)
    term_weights: tuple[float, ...] = (1.0, 1.0, 1.0)  # task, safety, effort
    #: multiplies the terms as the environment returns them (robustness to a mis-scaled term); the task
    #: term is recomputed by hindsight relabelling, so its scale stays 1
    term_scales: tuple[float, ...] = (1.0, 1.0, 1.0)
    lagrangian_safety: bool = False  # learn the safety weight as a Lagrange multiplier
    safety_budget: float = 0.01  # allowed mean safety cost per step when Lagrangian
    lagrange_lr: float = 0.01
    ensemble_size: int = 2  # critics per term; the actor uses their minimum
    hidden: int = 256
    gamma: float = 0.95
    tau: float = 0.005
    lr: float = 1e-3
    actor_lr: float = 1e-3  # RL updates of the actor (the warm start uses `lr` with its own optimiser)
    batch_size: int = 256
    learning_starts: int = 500
    updates_per_step: float = 1.0
    her_ratio: float = 0.8  # fraction of sampled transitions whose goal is relabelled
    demo_episodes: int = 30  # scripted demonstrations: replay seed data and behaviour-cloning targets
    bc_pretrain_steps: int = 2_000  # actor updates on demonstrations before any RL
    #: DART (Laskey et al., 2017): demonstrations execute the demonstrator's action (the environment's
    #: state-based `expert_action` where it has one, else the waypoint follower) plus this much Gaussian
    #: noise and keep its clean action as the label, so the clone also learns to recover from its errors
    demo_noise: float = 0.0
    bc_weight: float = 1.0  # demonstration regulariser in the actor loss, decayed to 0 ...
    bc_decay_steps: int = 10_000  # ... over this many environment steps
    #: after the warm start, the actor waits this many updates for the critics to learn its values;
    #: an untrained critic (and a large entropy bonus) otherwise unlearns the cloned behaviour
    critic_warmup_updates: int = 1_000
    init_alpha: float = 0.05
    #: "sac": the actor maximises the combined critics (plus entropy). "awac" (Nair et al., 2020): the actor
    #: fits the replay's own actions, each weighted by exp(advantage / awac_lambda), so it can only move
    #: towards actions it has data for; made for fine-tuning a policy cloned from demonstrations
    actor_update: str = "sac"
    awac_lambda: float = 1.0
    eval_every: int = 2_000
    eval_episodes: int = 50
    torch_threads: int = 1
    #: keyword arguments of the skill's environment (make_env), e.g. {"distances": (0.05, 0.25)} for push;
    #: empty: the environment as registered. What a policy was trained on, so its adapter reads them too
    env_options: dict[str, Any] = field(default_factory=dict)


def config_dict(config: TrainConfig) -> dict[str, Any]:
    """The config as checkpoints store it. Empty env_options are left out: a default run's files stay byte for byte
    what they were before the field existed, and old and new default checkpoints read back the same way."""
    saved = asdict(config)
    if not saved["env_options"]:
        del saved["env_options"]
    return saved


def config_from_dict(saved: Mapping[str, Any]) -> TrainConfig:
    """The config a checkpoint stores; settings this version does not know are dropped (a file from another
    version), missing ones take their defaults (no env_options: the environment as registered)."""
    known = {f.name for f in fields(TrainConfig)}
    config = TrainConfig(**{k: v for k, v in saved.items() if k in known})
    config.term_weights = tuple(config.term_weights)
    config.env_options = dict(config.env_options)
    return config


# -- networks ------------------------------------------------------------------------------------
def mlp(inputs: int, outputs: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, outputs))


class Normalizer(nn.Module):
    """Running mean/std of network inputs (observation + goal), clipped to +-5 std."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.register_buffer("count", torch.tensor(1e-4))
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("var", torch.ones(size))

    def update(self, x: torch.Tensor) -> None:
        batch_mean, batch_var, n = x.mean(0), x.var(0, unbiased=False), x.shape[0]
        delta, total = batch_mean - self.mean, self.count + n
        self.mean += delta * n / total
        self.var = (self.var * self.count + batch_var * n + delta**2 * self.count * n / total) / total
        self.count = total

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The std floor matters: a feature constant in the data so far (the open gripper's width)
        # would otherwise turn a 1e-6 wobble into a +-5 input.
        return ((x - self.mean) / torch.sqrt(self.var).clamp(min=0.01)).clamp(-5.0, 5.0)


class Actor(nn.Module):
    """Tanh-squashed Gaussian policy."""

    def __init__(self, inputs: int, actions: int, hidden: int) -> None:
        super().__init__()
        self.net = mlp(inputs, 2 * actions, hidden)

    def forward(self, x: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(x).chunk(2, dim=-1)
        if deterministic:
            return torch.tanh(mean), torch.zeros(x.shape[0])
        std = log_std.clamp(-5.0, 2.0).exp()
        raw = mean + std * torch.randn_like(mean)
        action = torch.tanh(raw)
        log_prob = torch.distributions.Normal(mean, std).log_prob(raw) - torch.log(1 - action**2 + 1e-6)
        return action, log_prob.sum(-1)

    def log_prob(self, x: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Log-likelihood of given (squashed) actions under the policy."""
        mean, log_std = self.net(x).chunk(2, dim=-1)
        action = action.clamp(-0.999, 0.999)
        normal = torch.distributions.Normal(mean, log_std.clamp(-5.0, 2.0).exp())
        return (normal.log_prob(torch.atanh(action)) - torch.log(1 - action**2 + 1e-6)).sum(-1)

    def imitation_loss(self, x: torch.Tensor, demo_action: torch.Tensor) -> torch.Tensor:
        """Squared error of the mean action, plus the likelihood of the demonstrated action under the
        spread (with the mean held fixed). Cloning the mean alone leaves the spread untrained (std ~1):
        exploration is then random, and the critics are asked about actions far from the demonstrations."""
        mean, log_std = self.net(x).chunk(2, dim=-1)
        raw_demo = torch.atanh(demo_action.clamp(-0.999, 0.999))
        nll = -torch.distributions.Normal(mean.detach(), log_std.clamp(-5.0, 2.0).exp()).log_prob(raw_demo)
        return F.mse_loss(torch.tanh(mean), demo_action) + 0.01 * nll.mean()


class Critics(nn.Module):
    """`ensemble` independent Q networks, each with one output per critic (term). Q: (E, B, K)."""

    def __init__(self, inputs: int, actions: int, terms: int, ensemble: int, hidden: int) -> None:
        super().__init__()
        self.members = nn.ModuleList(mlp(inputs + actions, terms, hidden) for _ in range(ensemble))

    def forward(self, x: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        xa = torch.cat([x, action], dim=-1)
        return torch.stack([member(xa) for member in self.members])


# -- replay with hindsight relabelling -------------------------------------------------------------
@dataclass
class Episode:
    obs: np.ndarray  # (T+1, obs_dim)
    achieved: np.ndarray  # (T+1, goal_dim)
    goal: np.ndarray  # (goal_dim,)
    actions: np.ndarray  # (T, act_dim)
    terms: np.ndarray  # (T, n_terms): the reward terms as the environment returned them
    let_go: np.ndarray | None = None  # (T,): the hand had let go after each step (place); None: always


@dataclass
class Replay:
    compute_task_reward: Callable[[np.ndarray, np.ndarray, dict], np.ndarray]
    episodes: list[Episode] = field(default_factory=list)
    steps: int = 0

    def add(self, episode: Episode) -> None:
        self.episodes.append(episode)
        self.steps += len(episode.actions)

    def sample(self, n: int, her_ratio: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
        picks = rng.integers(len(self.episodes), size=n)
        rows = {k: [] for k in ("obs", "achieved", "goal", "action", "terms", "next_obs", "next_achieved")}
        for i in picks:
            ep = self.episodes[i]
            t = int(rng.integers(len(ep.actions)))
            goal = ep.goal
            if rng.random() < her_ratio:  # "future" strategy: a goal this episode reached later
                goal = ep.achieved[int(rng.integers(t + 1, len(ep.achieved)))]
            terms = ep.terms[t].copy()
            # Only the task term depends on the goal; safety and effort stay as experienced.
            info = {} if ep.let_go is None else {"let_go": bool(ep.let_go[t])}
            terms[0] = self.compute_task_reward(ep.achieved[t + 1], goal, info)
            for key, value in (("obs", ep.obs[t]), ("achieved", ep.achieved[t]), ("goal", goal),
                               ("action", ep.actions[t]), ("terms", terms), ("next_obs", ep.obs[t + 1]),
                               ("next_achieved", ep.achieved[t + 1])):
                rows[key].append(value)
        return {k: np.asarray(v, dtype=np.float32) for k, v in rows.items()}


# -- the learner -----------------------------------------------------------------------------------
class MultiCriticSAC:
    def __init__(self, config: TrainConfig, obs_dim: int, goal_dim: int, act_dim: int) -> None:
        self.config = config
        torch.manual_seed(config.seed)
        self.n_terms = len(REWARD_TERMS) if config.multi_critic else 1
        inputs = obs_dim + 2 * goal_dim  # observation, goal, and goal minus achieved
        self.norm = Normalizer(inputs)
        self.actor = Actor(inputs, act_dim, config.hidden)
        self.critics = Critics(inputs, act_dim, self.n_terms, config.ensemble_size, config.hidden)
        self.targets = Critics(inputs, act_dim, self.n_terms, config.ensemble_size, config.hidden)
        self.targets.load_state_dict(self.critics.state_dict())
        self.log_alpha = torch.full((1,), float(np.log(config.init_alpha)), requires_grad=True)
        self.updates = 0
        self.target_entropy = -float(act_dim)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=config.actor_lr)
        self.critic_opt = torch.optim.Adam(self.critics.parameters(), lr=config.lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=config.lr)
        #: largest |reward| each term has shown (see observe_terms), so the actor weighs terms, not units
        self.term_scale = torch.zeros(len(REWARD_TERMS))
        self.weights = torch.tensor(config.term_weights, dtype=torch.float32)
        self.lagrange = torch.tensor(config.term_weights[1])  # safety weight when Lagrangian

    @staticmethod
    def raw_inputs(obs, achieved, goal) -> torch.Tensor:
        """Network inputs before normalisation. The explicit goal - achieved term matters: computed by
        the network from two separately normalised inputs it was too coarse to hold a goal within 2 cm."""
        obs, achieved, goal = (torch.as_tensor(np.asarray(v), dtype=torch.float32) for v in (obs, achieved, goal))
        return torch.cat([obs, goal, goal - achieved], -1)

    def inputs(self, obs, achieved, goal) -> torch.Tensor:
        return self.norm(self.raw_inputs(obs, achieved, goal))

    def act(self, observation: dict[str, np.ndarray], deterministic: bool = False) -> np.ndarray:
        with torch.no_grad():
            x = self.inputs(observation["observation"][None], observation["achieved_goal"][None],
                            observation["desired_goal"][None])
            action, _ = self.actor(x, deterministic)
        return action[0].numpy()

    def critic_weights(self) -> torch.Tensor:
        """How the actor combines the critics: fixed weights, or the safety weight as a multiplier."""
        if self.n_terms == 1:
            return torch.ones(1)
        weights = self.weights.clone()
        if self.config.lagrangian_safety:
            weights[1] = self.lagrange
        return weights

    def observe_terms(self, terms: np.ndarray) -> None:
        """Track each term's largest magnitude over the replay so far. The maximum, not the mean or the
        spread: a term that is rarely non-zero (a safety cost) keeps its events at about 1 instead of being
        blown up by its rarity, and one that has always been 0 stays 0. An earlier version divided each
        critic's Q by its batch spread, floored at 1: the floor left the small effort term weighted six
        times more than in the summed reward and the x10 effort term not normalised at all."""
        seen = torch.as_tensor(np.abs(terms).max(0), dtype=torch.float32)
        self.term_scale = torch.maximum(self.term_scale, seen)

    def rewards(self, terms: torch.Tensor) -> torch.Tensor:
        """(B, n_terms) critic targets: each term over its scale, or, for one critic, the weighted sum of
        the raw terms (the baseline has no per-term units to remove)."""
        if self.n_terms == 1:
            return (terms * self.weights).sum(-1, keepdim=True)
        return terms / torch.where(self.term_scale > 0, self.term_scale, torch.ones_like(self.term_scale))

    def update(self, batch: dict[str, np.ndarray], demos: dict[str, np.ndarray] | None, bc_weight: float
               ) -> dict[str, float]:
        c = self.config
        x = self.inputs(batch["obs"], batch["achieved"], batch["goal"])
        next_x = self.inputs(batch["next_obs"], batch["next_achieved"], batch["goal"])
        action = torch.as_tensor(batch["action"])
        reward = self.rewards(torch.as_tensor(batch["terms"]))
        # AWAC's actor ignores entropy, so its critics must too: the temperature, tuned towards a target
        # entropy that nothing then pursues, rose 0.05 -> 0.23 in 2000 updates and its bonus on a cloned,
        # peaked policy swamped the task reward (place: critic loss 0.05 -> 1.0)
        alpha = torch.zeros(()) if c.actor_update == "awac" else self.log_alpha.exp().detach()

        # Critics: one TD target per term. Time limits only truncate, so always bootstrap.
        with torch.no_grad():
            next_action, next_logp = self.actor(next_x)
            next_q = self.targets(next_x, next_action).min(0).values
            # The entropy bonus belongs to the task critic (or the single critic), not to every term.
            entropy = torch.zeros_like(next_q)
            entropy[:, 0] = -alpha * next_logp
            target = reward + c.gamma * (next_q + entropy)
        q = self.critics(x, action)
        critic_loss = F.mse_loss(q, target.expand_as(q))
        self.critic_opt.zero_grad()
        critic_loss.backward()
        self.critic_opt.step()
        self.updates += 1
        if self.updates <= c.critic_warmup_updates:
            self._soft_update_targets()
            return {"critic_loss": critic_loss.item(), "actor_loss": 0.0, "bc_loss": 0.0, "alpha": alpha.item()}

        # Actor: weighted sum of the (scale-normalised) critics, plus entropy and the demo regulariser.
        new_action, logp = self.actor(x)
        q_pi = self.critics(x, new_action).min(0).values  # (B, n_terms)
        objective = (q_pi * self.critic_weights()).sum(-1)
        if c.actor_update == "awac":
            with torch.no_grad():
                q_data = (self.critics(x, action).min(0).values * self.critic_weights()).sum(-1)
                weight = torch.exp((q_data - objective) / c.awac_lambda).clamp(max=20.0)
            actor_loss = -(weight * self.actor.log_prob(x, action)).mean()
        else:
            actor_loss = (alpha * logp - objective).mean()
        bc_loss = torch.zeros(())
        if demos is not None and bc_weight > 0:
            bc_loss = self.actor.imitation_loss(self.inputs(demos["obs"], demos["achieved"], demos["goal"]),
                                                torch.as_tensor(demos["action"]))
            actor_loss = actor_loss + bc_weight * bc_loss * self.n_terms
        self.actor_opt.zero_grad()
        actor_loss.backward()
        self.actor_opt.step()

        if c.actor_update == "sac":
            alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()
            self.alpha_opt.zero_grad()
            alpha_loss.backward()
            self.alpha_opt.step()

        self._soft_update_targets()
        return {"critic_loss": critic_loss.item(), "actor_loss": actor_loss.item(), "bc_loss": bc_loss.item(),
                "alpha": alpha.item()}

    def _soft_update_targets(self) -> None:
        with torch.no_grad():
            for p, tp in zip(self.critics.parameters(), self.targets.parameters()):
                tp.mul_(1 - self.config.tau).add_(self.config.tau * p)

    def update_lagrange(self, mean_safety_cost: float) -> None:
        """Dual ascent: raise the safety weight while the cost exceeds the budget, lower it otherwise."""
        step = self.config.lagrange_lr * (mean_safety_cost - self.config.safety_budget)
        self.lagrange = (self.lagrange + step).clamp(min=0.0)

    def pretrain_bc(self, demos: dict[str, np.ndarray], steps: int, batch_size: int, rng: np.random.Generator,
                    progress: Callable[[int], None] | None = None) -> list[float]:
        """Warm start: regress the actor onto the scripted controller's actions (its own optimiser: RL
        fine-tuning then starts with fresh moments and its own, usually smaller, learning rate).
        `progress(updates_done)` is called every 1000 updates and at the end."""
        optimiser = torch.optim.Adam(self.actor.parameters(), lr=self.config.lr)
        losses = []
        for update in range(steps):
            if progress is not None and update % 1000 == 0 and update:
                progress(update)
            idx = rng.integers(len(demos["obs"]), size=batch_size)
            loss = self.actor.imitation_loss(self.inputs(demos["obs"][idx], demos["achieved"][idx],
                                                         demos["goal"][idx]), torch.as_tensor(demos["action"][idx]))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        if progress is not None:
            progress(steps)
        return losses

    def state_dict(self) -> dict:
        return {"config": config_dict(self.config), "norm": self.norm.state_dict(), "actor": self.actor.state_dict(),
                "critics": self.critics.state_dict(), "targets": self.targets.state_dict(),
                "log_alpha": self.log_alpha.detach(), "term_scale": self.term_scale, "lagrange": self.lagrange,
                "updates": self.updates,
                "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
                "alpha_opt": self.alpha_opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        for name in ("norm", "actor", "critics", "targets", "actor_opt", "critic_opt", "alpha_opt"):
            getattr(self, name).load_state_dict(state[name])
        # an optimiser's state carries the learning rate it was saved with: the config's must win, or
        # fine-tuning a warm start with `--actor-lr 1e-4` would silently run at the warm start's rate
        for optimiser, lr in ((self.actor_opt, self.config.actor_lr), (self.critic_opt, self.config.lr),
                              (self.alpha_opt, self.config.lr)):
            for group in optimiser.param_groups:
                group["lr"] = lr
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.lagrange, self.updates = state["lagrange"], state["updates"]
        # older checkpoints have none; train() re-observes the replay on resume either way
        self.term_scale = state.get("term_scale", torch.zeros(len(REWARD_TERMS)))


def make_env(skill: str, options: Mapping[str, Any] | None = None) -> gym.Env:
    """The environment of a skill, built with `options` (TrainConfig.env_options: its constructor's keyword
    arguments; ValueError for ones it refuses), or a panda-gym environment as "panda:PandaReach-v3" (baselines,
    no options)."""
    from skill_lib.learning.envs.panda_gym import PREFIX, PandaGymTerms
    if skill.startswith(PREFIX):
        if options:
            raise ValueError(f"panda-gym environments take no options, not {sorted(options)}")
        return PandaGymTerms(skill[len(PREFIX):])
    return gym.make(learning_spec(skill).env_id, **dict(options or {}))
