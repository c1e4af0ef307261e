"""`skillstack experiment`: analyse episode logs and evaluations, propose a training curriculum, then train
candidates for the proposals that can be trained today, judge them against the current policies held out,
promote the ones that are better without being less safe, and write a report of what it found, tried, kept and
rejected. `--dry-run` only analyses and proposes.

What can be trained today: a skill's own environment, with its recipe trained anew (a learned policy's failures,
an evaluation below target, a skill without a policy, a wider push distance range through the environment's
`distances` option); every other proposal is reported "not trainable yet" with
why (skill_lib/learning/experimenter/trainable.py). How candidates are judged (stated tests, held-out seeds):
skill_lib/learning/experimenter/judge.py, and the report. A kept candidate becomes the promoted version in the
registry (the scheduler and skill server load it at their next start; `skillstack policies rollback SKILL` undoes
it); a rejected one is not registered."""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skill_stack_apps.commands import EXIT_FAILED, EXIT_OK, error

if TYPE_CHECKING:
    from skill_lib.learning.experimenter.loop import SeedRun, Trial


def register(sub: argparse._SubParsersAction) -> None:
    ex = sub.add_parser("experiment", help="analyse what the robot did, propose training, train, judge and promote",
                        description=__doc__)
    ex.add_argument("--dry-run", action="store_true", help="only analyse and propose: nothing is trained")
    ex.add_argument("--json", action="store_true", help="end with one JSON line: proposals, report, trained, kept, "
                                                        "rejected, not_trainable, not_tried")
    ex.add_argument("--logs", type=Path, nargs="+", default=[Path("runs")],
                    help="run directories, directories of runs, episode.jsonl files, `skillstack eval --json` "
                         "outputs (default: ./runs)")
    ex.add_argument("--out", type=Path, help="where the report and the training runs go (default: "
                                             "runs/experiments/<date-time>)")
    ex.add_argument("--registry", type=Path, help="the policy registry's directory: the current policies, and where "
                                                  "kept candidates are promoted (default: checkpoints/)")
    ex.add_argument("--llm", metavar="URL", help="an OpenAI-compatible API root (e.g. http://127.0.0.1:8080/v1) "
                    "that chooses and orders the proposals; model, key and timeout from SKILL_STACK_LLM_MODEL, "
                    "_API_KEY, _TIMEOUT (default: the deterministic proposer)")
    budget = ex.add_argument_group("budget", "what training may spend (unset training sizes come from each skill's "
                                             "recipe, skill_lib/learning/recipes.py)")
    budget.add_argument("--max-proposals", type=int, default=1,
                        help="trainable proposals trained, in the curriculum's order (default 1)")
    budget.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], metavar="N",
                        help="one training run per seed and proposal (default 0 1 2)")
    budget.add_argument("--demos", type=int, help="scripted demonstrations for the warm start")
    budget.add_argument("--bc-steps", type=int, help="behaviour-cloning updates")
    budget.add_argument("--steps", type=int, help="RL environment steps after the warm start (0: warm start only)")
    budget.add_argument("--eval-every", type=int, help="environment steps between training evaluations")
    budget.add_argument("--workers", type=int, help="Ray: runs at once on this machine (default: all cores; a single "
                                                    "run without --workers or --address trains in this process)")
    budget.add_argument("--address", help="Ray: a cluster instead of this machine (auto, HOST:6379, "
                                          "ray://HOST:10001; see skillstack train --help)")
    judged = ex.add_argument_group("held out", "the candidate and the current policy run the same episodes")
    judged.add_argument("--eval-episodes", type=int, default=100, help="held-out episodes (default 100)")
    judged.add_argument("--eval-seed", type=int, default=7,
                        help="held-out seeds derive from it, as `skillstack eval --seed` (default 7)")
    ex.set_defaults(handler=cmd_experiment)


def _fail(message: str, as_json: bool) -> int:
    error(message, EXIT_FAILED)
    if as_json:
        print(json.dumps({"error": " ".join(message.split()), "proposals": [], "report": None}))
    return EXIT_FAILED


def _budget_errors(args: argparse.Namespace) -> list[str]:
    errors = [f"{flag} must be >= 0" for flag, value in (("--steps", args.steps), ("--bc-steps", args.bc_steps))
              if value is not None and value < 0]
    errors += [f"{flag} must be positive" for flag, value in (
        ("--max-proposals", args.max_proposals), ("--demos", args.demos), ("--eval-every", args.eval_every),
        ("--workers", args.workers), ("--eval-episodes", args.eval_episodes)) if value is not None and value <= 0]
    errors += [f"seed {seed} given twice" for seed in sorted(set(args.seeds)) if args.seeds.count(seed) > 1]
    if args.workers is not None and args.address is not None:
        errors.append("--workers is for this machine; on a cluster (--address) its own CPUs decide")
    return errors


def cmd_experiment(args: argparse.Namespace) -> int:
    from skill_lib.learning.experimenter.analyse import analyse
    from skill_lib.learning.experimenter.logs import LogError, read_logs
    from skill_lib.learning.experimenter.loop import LoopConfig, TrialOutcome, run_trials
    from skill_lib.learning.experimenter.propose import propose
    from skill_lib.learning.experimenter.recheck import promoted_policies, taken_now
    from skill_lib.learning.experimenter.trainable import trained_parameters, trained_place_targets
    from skill_lib.learning.experimenter.report import PLOT, write_report
    from skill_lib.learning.registry import CHECKPOINTS, PolicyRegistry, RegistryError

    errors = _budget_errors(args)
    if errors:
        return error("; ".join(errors))
    registry = PolicyRegistry(args.registry or CHECKPOINTS)
    try:
        logs = read_logs(args.logs)
        learned = registry.skills()
        trained = trained_parameters(registry)  # a promoted push's range is its checkpoint's
        place_targets = trained_place_targets(registry)  # likewise what a promoted place sets cubes down on
        policies = promoted_policies(registry.root)  # logged declines are asked again of these
    except (LogError, RegistryError) as err:
        return _fail(str(err), args.json)
    analysis = analyse(logs.attempts, logs.runs)
    proposals = propose(analysis, logs.evaluations, learned=learned, trained=trained, place_targets=place_targets,
                        policies=policies)
    stale = taken_now(analysis, policies)
    proposer = "the deterministic proposer (skill_lib/learning/experimenter/propose.py)"
    if args.llm is not None and proposals:
        try:
            proposals, proposer = _ask_model(args.llm, analysis, proposals)
        except ValueError as err:
            return _fail(str(err), args.json)
    out = args.out or Path("runs") / "experiments" / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    print(f"read {logs.runs} runs ({len(analysis.items)} skill attempts) and {len(logs.evaluations)} evaluations; "
          f"{len(proposals)} proposals ({proposer}):")
    if stale:
        print(f"not proposed: {sum(stale.values())} logged declines the promoted policies would take now ("
              + ", ".join(f"{skill} {n}" for skill, n in sorted(stale.items())) + ")")
    for rank, proposal in enumerate(proposals, 1):
        print(f"  {rank}. [{proposal.gain:.3f}] {proposal.what}\n       {proposal.evidence[0]}")
    trials, loop = None, None
    if not args.dry_run:
        overrides = {"demo_episodes": args.demos, "bc_pretrain_steps": args.bc_steps, "total_steps": args.steps,
                     "eval_every": args.eval_every}
        loop = LoopConfig(max_proposals=args.max_proposals, seeds=tuple(args.seeds),
                          overrides={k: v for k, v in overrides.items() if v is not None}, workers=args.workers,
                          address=args.address, eval_episodes=args.eval_episodes, eval_seed=args.eval_seed)
        try:
            trials = run_trials(proposals, registry, loop, out, say=lambda line: print(line, flush=True))
        except (ValueError, RegistryError, ImportError) as err:  # before anything trained
            return _fail(str(err), args.json)
        except ConnectionError as err:  # no Ray cluster at that address
            return _fail(f"cannot reach Ray at {args.address}: {err}", args.json)
    report = write_report(out, logs, args.logs, analysis, proposals, proposer, trials, loop, stale)
    if trials is None:
        print("dry run: nothing trained")
    else:
        for trial in trials:
            print(f"{trial.proposal.id}: {trial.outcome.value}: {trial.why}")
    print(f"report: {report}")
    if args.json:
        print(json.dumps({"proposals": [p.to_dict() for p in proposals], "report": str(report),
                          "plot": str(out / PLOT), "runs": logs.runs, "attempts": len(analysis.items),
                          "evaluations": len(logs.evaluations), "declines_taken_now": dict(stale),
                          "proposer": proposer, "dry_run": args.dry_run,
                          **_outcomes(trials or [], args.eval_seed)}))
    failed = [t for t in trials or [] if t.outcome is TrialOutcome.TRAINING_FAILED]
    if failed:
        print(f"{len(failed)} trained proposal(s) failed in every run", file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def _outcomes(trials: Sequence[Trial], eval_seed: int) -> dict[str, list[dict[str, Any]]]:
    """The JSON line's trained, kept, rejected, not_trainable and not_tried lists."""
    from skill_lib.learning.experimenter.loop import TrialOutcome

    def run(r: SeedRun) -> dict[str, Any]:
        return {"seed": r.job.config.seed, "run_dir": str(r.job.run_dir), "error": r.error,
                "success_rate": r.summary["success_rate"] if r.summary else None,
                "curve": r.curve.verdict.value if r.curve else None}

    def entry(t: Trial) -> dict[str, Any]:
        item: dict[str, Any] = {"id": t.proposal.id, "skill": t.proposal.skill, "outcome": t.outcome.value,
                                "why": t.why}
        if t.comparison is not None and t.candidate is not None:
            c = t.comparison
            item.update(compared_with=t.current, candidate_seed=t.candidate.job.config.seed,
                        held_out={"candidate": c.candidate.metrics(eval_seed), "current": c.current.metrics(eval_seed)},
                        b=c.b, c=c.c, p_success=c.p_more_success, p_effort=c.p_less_effort,
                        decision=c.decision.value)
        if t.version is not None:
            item.update(version=t.version.version, parent=t.version.parent)
        return item

    return {"trained": [{**entry(t), "runs": [run(r) for r in t.runs]} for t in trials if t.trained],
            "kept": [entry(t) for t in trials if t.outcome is TrialOutcome.KEPT],
            "rejected": [entry(t) for t in trials if t.outcome in (TrialOutcome.REJECTED,
                                                                   TrialOutcome.TRAINING_FAILED)],
            "not_trainable": [entry(t) for t in trials if t.outcome is TrialOutcome.NOT_TRAINABLE],
            "not_tried": [entry(t) for t in trials if t.outcome in (TrialOutcome.SAME_TRAINING,
                                                                    TrialOutcome.NOT_TRIED)]}


def _ask_model(url: str, analysis: Any, candidates: list) -> tuple[list, str]:
    """The model's curriculum, checked like the LLM planner's plans; ValueError (one line) for anything else."""
    from planners.llm.client import chat, strict_json
    from planners.llm.config import ENV_URL, LlmConfig
    from planners.llm.validate import validate
    from planners.plan import TaskError
    from skill_lib.learning.experimenter import llm

    config = LlmConfig.from_env({**os.environ, ENV_URL: url})
    assert config is not None
    schema = llm.schema(candidates)
    try:
        content = chat(config, llm.messages(analysis, candidates), schema, llm.SCHEMA_NAME)
    except TaskError as err:
        raise ValueError(str(err).replace("nothing was run", "nothing was proposed")) from None
    try:
        answer = strict_json(content)
    except (ValueError, RecursionError) as err:
        raise ValueError(f"the model's curriculum was refused (its answer is not JSON: {err}); nothing was "
                         f"proposed") from None
    try:
        validate(answer, schema)
        chosen = llm.from_reply(answer, candidates)
    except ValueError as err:
        raise ValueError(f"the model's curriculum was refused ({err}); nothing was proposed") from None
    return chosen, f"the model {config.model} at {config.endpoint}, choosing among the deterministic candidates"
