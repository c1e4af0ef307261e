"""The experimenter's train -> judge -> promote step, for a curriculum the proposer made.

1. Plan: in the curriculum's order, each proposal is not trainable yet (trainable.py says why), or needs the same
   training as one before it (the same skill's recipe with the same environment options), or is over the budget
   (`max_proposals`), or is trained: one run of the skill's recipe per seed, with the environment options
   trainable.env_options gives (a wider push range), the training size overridable. The held-out seeds are checked against every seed each run, and the current policy, trained or
   chose its policy on; any overlap stops the experiment before anything trains.
2. Train: the runs as Ray tasks (distributed.py; results do not depend on the worker count), or in this process
   when there is one run and neither workers nor an address were asked for.
3. Judge: each run's learning curve gets a verdict (judge.py; reported, not acted on: no run is extended or cut
   short by it yet). The proposal's candidate is its run with the best training evaluation (the policy.pt that
   run kept; ties: the first seed). Training evaluations use the run's own evaluation seeds, never the held-out
   ones, so choosing among seeds does not bias the comparison. The candidate and the current policy (the
   promoted version, or the scripted reference controller when none is promoted) run the same held-out episodes
   in the skill's environment with the candidate's options (for a wider push range: the wider range), and
   judge.compare decides. An episode the current policy would decline (a push outside the range its checkpoint
   was trained on) counts as its failure (heldout.py), and the report says how many.
4. Promote: a kept candidate is registered (parent: the version it was compared with; recipe: its TrainConfig;
   data: the proposal; metrics: its held-out figures) and promoted, unless the promoted version changed while it
   trained (then it is rejected: it was compared with a policy that no longer runs). A rejected candidate is not
   registered: the registry holds versions that ran or may run, and the report and its run directory keep it
   (`skillstack policies register` adds it by hand).
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from skill_lib.learning import recipes
from skill_lib.learning.distributed import JobResult, Report, TrainJob, print_progress, run_jobs
from skill_lib.learning.envs.place import DEFAULT_TARGETS
from skill_lib.learning.experimenter.heldout import SCRIPTED, held_out_seeds, reused_seeds, run_held_out
from skill_lib.learning.experimenter.judge import Comparison, CurveJudgement, compare, judge_curve, read_curve
from skill_lib.learning.experimenter.propose import TRAINED_PARAMETERS, Proposal, TrainedRanges
from skill_lib.learning.experimenter.trainable import (env_options, promoted_objects, trained_parameters,
                                                       trained_place_targets, what_is_trained, why_not_trainable)
from skill_lib.learning.mcsac import TrainConfig
from skill_lib.learning.registry import PolicyRegistry, PolicyVersion
from skill_lib.learning.train import load_config, train


@dataclass(frozen=True)
class LoopConfig:
    """What one experiment may spend, and how it evaluates (`skillstack experiment`'s options)."""

    #: proposals trained, trainable ones in the curriculum's order
    max_proposals: int = 1
    #: one training run per seed and proposal
    seeds: tuple[int, ...] = (0, 1, 2)
    #: TrainConfig fields over each skill's recipe (the training size: demo_episodes, bc_pretrain_steps, ...)
    overrides: dict[str, Any] = field(default_factory=dict)
    #: Ray: runs at once on this machine (None: all cores) or a cluster's address (distributed.ray_session)
    workers: int | None = None
    address: str | None = None
    #: the held-out comparison: `skillstack eval SKILL --episodes N --seed S`'s episodes
    eval_episodes: int = 100
    eval_seed: int = 7


class TrialOutcome(Enum):
    KEPT = "kept"
    REJECTED = "rejected"
    TRAINING_FAILED = "training failed"
    NOT_TRAINABLE = "not trainable yet"
    SAME_TRAINING = "same training as an earlier proposal"
    NOT_TRIED = "not tried"


@dataclass(frozen=True)
class SeedRun:
    """One training run of a proposal: its job, and its summary and curve verdict, or why it failed."""

    job: TrainJob
    summary: dict | None
    error: str | None
    curve: CurveJudgement | None


@dataclass
class Trial:
    """What became of one proposal."""

    proposal: Proposal
    outcome: TrialOutcome
    #: one line: why this outcome
    why: str
    runs: list[SeedRun] = field(default_factory=list)
    candidate: SeedRun | None = None
    #: what the candidate was compared with ("v1", SCRIPTED)
    current: str = ""
    comparison: Comparison | None = None
    #: the registered and promoted version of a kept candidate
    version: PolicyVersion | None = None

    @property
    def trained(self) -> bool:
        return bool(self.runs)


#: a line of progress for the person waiting
Say = Callable[[str], None]


def slug(proposal_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", proposal_id).strip("-")


def recipe_fields(config: TrainConfig) -> dict[str, Any]:
    """The TrainConfig as JSON (what the registry records as the recipe)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def widened(skill: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The skill's recipe environment with a candidate's `options` over it: its other options (pick's hand box, the
    object box) stay, and what it trains on (objects, place targets) is joined with the candidate's, never fewer."""
    recipe = recipes.ENVIRONMENTS.get(skill, {})
    out = {**recipe, **options}
    for key in ("objects", "targets"):
        if key in recipe and key in options:
            out[key] = [*recipe[key], *(v for v in options[key] if v not in recipe[key])]
    return out


def plan(proposals: Sequence[Proposal], config: LoopConfig, out: Path,
         trained: TrainedRanges = TRAINED_PARAMETERS, place_targets: Sequence[str] = DEFAULT_TARGETS,
         objects: Mapping[str, Sequence[str]] | None = None) -> list[Trial]:
    """A trial per proposal, in order; those to train have their jobs (runs) and outcome TRAINING_FAILED until
    they are judged. `trained`, `place_targets`, `objects`: the parameter ranges, place targets and objects (per
    skill) the current policies were trained on (what a candidate's environment options widen)."""
    trials: list[Trial] = []
    trained_for: dict[tuple[str, str], str] = {}  # (skill, its options) -> the id of the proposal trained for it
    for proposal in proposals:
        why = why_not_trainable(proposal)
        options = env_options(proposal, trained, place_targets, objects) if why is None else {}
        training = (proposal.skill, repr(sorted(options.items())))
        if why is not None:
            trials.append(Trial(proposal, TrialOutcome.NOT_TRAINABLE, why))
        elif training in trained_for:
            trials.append(Trial(proposal, TrialOutcome.SAME_TRAINING, f"its training is {trained_for[training]}'s: "
                                                                      f"{what_is_trained(proposal.skill, options)}"))
        elif len(trained_for) >= config.max_proposals:
            trials.append(Trial(proposal, TrialOutcome.NOT_TRIED, f"over the budget: {config.max_proposals} "
                                                                 f"proposal(s) trained per experiment (--max-proposals)"))
        else:
            trained_for[training] = proposal.id
            widen = {"env_options": widened(proposal.skill, options)} if options else {}
            overrides = {**config.overrides, **widen}
            jobs = [TrainJob(recipes.recipe(proposal.skill, seed=seed, **overrides),
                             out / "train" / f"{slug(proposal.id)}-seed{seed}", resume=False) for seed in config.seeds]
            trials.append(Trial(proposal, TrialOutcome.TRAINING_FAILED, "not trained yet",
                                [SeedRun(job, None, None, None) for job in jobs]))
    return trials


def current_policies(trials: Sequence[Trial], registry: PolicyRegistry) -> dict[str, PolicyVersion | None]:
    """The promoted version of each skill to train (None: the scripted controller runs), checked."""
    current = {}
    for trial in trials:
        if trial.trained:
            version = registry.promoted(trial.proposal.skill)
            if version is not None:
                registry.checkpoint(version)  # RegistryError now, not after training, for a missing or changed file
            current[trial.proposal.skill] = version
    return current


def check_held_out(trials: Sequence[Trial], current: dict[str, PolicyVersion | None], registry: PolicyRegistry,
                   config: LoopConfig) -> None:
    """ValueError (one line) if a held-out seed is one a run, or a current policy, trained or was chosen on."""
    seeds = held_out_seeds(config.eval_seed, config.eval_episodes)
    configs = [(f"the {run.job.config.skill} run of seed {run.job.config.seed}", run.job.config)
               for trial in trials for run in trial.runs]
    configs += [(f"the promoted {skill} v{version.version}", load_config(registry.checkpoint(version)))
                for skill, version in current.items() if version is not None]
    for who, train_config in configs:
        reused = reused_seeds(seeds, train_config)
        if reused:
            raise ValueError(f"held-out seed {reused[0]} (--eval-seed {config.eval_seed}) is one {who} was trained "
                             f"or chosen on ({len(reused)} of {len(seeds)}); choose another --eval-seed")


def train_all(jobs: Sequence[TrainJob], config: LoopConfig, progress: Report | None) -> list[JobResult]:
    """The jobs on Ray, or in this process when there is one and Ray was not asked for."""
    if len(jobs) == 1 and config.workers is None and config.address is None:
        job = jobs[0]
        try:
            result = JobResult(job, train(job.config, job.run_dir, resume=job.resume, quiet=True))
        except Exception as err:  # as a Ray task reports it: the run failed, the experiment goes on to report it
            result = JobResult(job, None, f"{type(err).__name__}: {err}")
        if progress is not None:
            progress(1, 1, result)
        return [result]
    return run_jobs(jobs, config.workers, config.address, progress)


def judge_trial(trial: Trial, current: PolicyVersion | None, registry: PolicyRegistry, config: LoopConfig,
                say: Say) -> None:
    """The candidate against the current policy; kept ones registered and promoted (see the module doc)."""
    skill, proposal = trial.proposal.skill, trial.proposal
    finished = [run for run in trial.runs if run.summary is not None]
    if not finished:
        trial.why = "every run failed: " + "; ".join(f"seed {r.job.config.seed}: {r.error}" for r in trial.runs)
        return
    trial.candidate = max(finished, key=lambda run: run.summary["best_success_rate"] if run.summary else 0.0)
    seeds = held_out_seeds(config.eval_seed, config.eval_episodes)
    trial.current = SCRIPTED if current is None else f"v{current.version}"
    options = trial.candidate.job.config.env_options  # the episodes the candidate was trained for, the wider ones
    where = f" with {options}" if options else ""
    say(f"held out: {skill} {trial.current} on {len(seeds)} episodes{where} (--eval-seed {config.eval_seed})")
    incumbent = run_held_out(skill, None if current is None else registry.checkpoint(current), seeds, options)
    say(f"held out: the {skill} candidate (seed {trial.candidate.job.config.seed}) on the same episodes")
    candidate = run_held_out(skill, trial.candidate.job.run_dir / "policy.pt", seeds, options)
    trial.comparison = compare(candidate, incumbent)
    decision = trial.comparison.decision
    if not decision.kept:
        trial.outcome, trial.why = TrialOutcome.REJECTED, decision.value
        return
    now = registry.promoted(skill)
    if (now.version if now else None) != (current.version if current else None):
        trial.outcome = TrialOutcome.REJECTED
        trial.why = (f"{decision.value}, but the promoted {skill} changed while it trained ({trial.current} -> "
                     f"{f'v{now.version}' if now else SCRIPTED}): it was compared with a policy that no longer runs")
        return
    run = trial.candidate
    version = registry.register(
        skill, run.job.run_dir / "policy.pt", parent=None if current is None else current.version,
        recipe=recipe_fields(run.job.config),
        data=f"{proposal.what} (experimenter proposal {proposal.id}; {what_is_trained(skill, options)}, seed "
             f"{run.job.config.seed})",
        metrics={**candidate.metrics(config.eval_seed), "compared_with": trial.current})
    trial.version = registry.promote(skill, version.version)
    trial.outcome, trial.why = TrialOutcome.KEPT, f"{decision.value}; registered and promoted as v{version.version}"


def run_trials(proposals: Sequence[Proposal], registry: PolicyRegistry, config: LoopConfig, out: Path,
               say: Say = print, progress: Report | None = print_progress) -> list[Trial]:
    """Plan, train, judge and promote (the module doc); a trial per proposal, in the curriculum's order. Raises
    ValueError for held-out seeds that overlap training seeds, RegistryError for a promoted checkpoint that is
    missing or changed, ImportError without Ray where Ray is needed: all before anything trains."""
    trials = plan(proposals, config, out, trained_parameters(registry), trained_place_targets(registry),
                  promoted_objects(registry))
    current = current_policies(trials, registry)
    check_held_out(trials, current, registry, config)
    jobs = [run.job for trial in trials for run in trial.runs]
    if not jobs:
        return trials
    results = iter(train_all(jobs, config, progress))
    for trial in trials:
        if not trial.trained:
            continue
        for i, run in enumerate(trial.runs):
            result = next(results)
            curve = read_curve(run.job.run_dir / "curve.csv") if result.summary is not None else None
            trial.runs[i] = SeedRun(run.job, result.summary, result.error,
                                    judge_curve([success for _, success in curve]) if curve is not None else None)
        judge_trial(trial, current[trial.proposal.skill], registry, config, say)
    return trials
