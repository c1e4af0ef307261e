"""`skillstack train SKILL`: train a skill's policy (multi-critic SAC + HER + demonstration warm start); several
skills or seeds at once run side by side on Ray (skill_lib/learning/distributed.py)."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from skill_stack_apps.commands import EXIT_FAILED, EXIT_OK, error, object_flags, skill_env_flags

if TYPE_CHECKING:
    from skill_lib.learning.distributed import TrainJob


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train a skill's policy in PyBullet (resumable; several at once on Ray)",
                           description="Unset options come from the skill's recipe (skill_lib/learning/recipes.py): "
                                       "the bare command reproduces checkpoints/SKILL/policy.pt. One run per skill "
                                       "and seed; a single run trains in this process, several run side by side on "
                                       "Ray (the `ray` extra), with the same results as one by one.")
    train.add_argument("skills", nargs="+", metavar="SKILL", help="move_to, pick, place or push")
    train.add_argument("--seed", "--seeds", dest="seeds", type=int, nargs="+", default=[0], metavar="N",
                       help="one run per seed (default 0)")
    # None: the skill's recipe (skill_lib/learning/recipes.py), which reproduces its committed checkpoint
    train.add_argument("--steps", type=int, help="RL environment steps after the warm start (0: warm start only)")
    train.add_argument("--demos", type=int, help="scripted demonstrations for the warm start")
    train.add_argument("--bc-steps", type=int, help="behaviour-cloning updates before RL")
    train.add_argument("--demo-noise", type=float,
                       help="DART: noise on the demonstrator's executed actions, clean labels kept")
    train.add_argument("--single-critic", action="store_true", help="the baseline: one critic on the summed reward")
    train.add_argument("--lagrangian", action="store_true", help="safety weight as a Lagrange multiplier")
    train.add_argument("--actor-update", choices=("sac", "awac"),
                       help="sac: maximise the critics; awac: advantage-weighted fit of the replay's actions")
    train.add_argument("--actor-lr", type=float, help="learning rate of the RL actor updates")
    train.add_argument("--eval-every", type=int, help="environment steps between evaluations")
    train.add_argument("--push-distances", type=float, nargs=2, metavar=("LOW", "HIGH"),
                       help="push: train on pushes of LOW-HIGH metres (the environment's `distances` option, within "
                            "the push skill's 0.02-0.25; default 0.05 0.15); the episode limit grows with HIGH, and "
                            "the learned push then takes the pushes its checkpoint was trained on")
    train.add_argument("--place-targets", nargs="+", metavar="TARGET",
                       help="place: what to set cubes down on, any of table, cube, beside, container (the "
                            "environment's `targets` option; default: the recipe's, all four); the learned place then "
                            "takes the places its checkpoint was trained on")
    train.add_argument("--move-to-held", type=float, metavar="SHARE",
                       help="move_to: the share of episodes that start with a cube in hand and keep it (the "
                            "environment's `held` option, 0-1; default: the recipe's, 0.5); only a policy trained "
                            "with some takes a move_to with something in the hand")
    train.add_argument("--objects", nargs="+", metavar="KIND",
                       help="what the skill's object may be, any of cube, lego (the environment's `objects` option; "
                            "default: cubes); the learned skill then takes what its checkpoint was trained on")
    train.add_argument("--object-box", type=float, nargs=4, metavar=("X0", "Y0", "X1", "Y1"),
                       help="where the object starts, metres in the robot's base frame (the environment's "
                            "`object_box` option; default 0.33 -0.27 0.65 0.27); the learned skill then takes objects "
                            "from there, 2 cm wider")
    train.add_argument("--out", type=Path, default=Path("runs/train"), help="run directories go here")
    train.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    train.add_argument("--json", action="store_true",
                       help="end with one JSON line: the run's summary (skill, success_rate, ...), or a list of "
                            "them in run order when there are several (a failed run's has an error)")
    ray = train.add_argument_group("Ray", "where several runs train; either option also sends a single run to Ray")
    ray.add_argument("--workers", type=int,
                     help="runs at once on this machine (the CPUs Ray may use here; default: all cores, at most one "
                          "per run)")
    ray.add_argument("--address",
                     help="a Ray cluster instead of this machine: auto (the one `ray start` started here), "
                          "HOST:6379 or ray://HOST:10001. Its nodes need skill_stack installed and --out on a file "
                          "system they share with this one")
    train.set_defaults(handler=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from skill_lib.learning import learning_spec
    from skill_lib.learning.distributed import TrainJob
    from skill_lib.learning.recipes import ENVIRONMENTS, recipe

    try:
        for skill in args.skills:
            learning_spec(skill)
    except ValueError as err:
        return error(str(err))
    errors = [f"{flag} must be >= 0" for flag, value in (("--steps", args.steps), ("--bc-steps", args.bc_steps),
                                                          ("--demo-noise", args.demo_noise))
              if value is not None and value < 0]
    errors += [f"{flag} must be positive" for flag, value in (("--eval-every", args.eval_every),
                                                              ("--demos", args.demos), ("--actor-lr", args.actor_lr),
                                                              ("--workers", args.workers))
               if value is not None and value <= 0]
    # the same run twice would train twice into one directory, at the same time
    errors += [f"{what} {value} given twice" for what, values in (("skill", args.skills), ("seed", args.seeds))
               for value in sorted(set(values), key=values.index) if values.count(value) > 1]
    if args.workers is not None and args.address is not None:
        errors.append("--workers is for this machine; on a cluster (--address) its own CPUs decide")
    options: dict[str, dict] = {skill: {} for skill in args.skills}  # each skill's environment options
    try:
        for flag, skill, key, value in skill_env_flags(args):
            options.setdefault(skill, {})[key] = value
            if skill not in args.skills:
                errors.append(f"{flag} is for {skill}, which is not among the skills to train")
    except ValueError as err:
        errors.append(str(err))
    try:
        objects = object_flags(args)  # every skill's
        for skill in args.skills:
            options[skill].update(objects)
    except ValueError as err:
        errors.append(str(err))
    if errors:
        return error("; ".join(errors))
    kind = "single" if args.single_critic else "multi"
    jobs = [TrainJob(recipe(skill, seed=seed, total_steps=args.steps, multi_critic=not args.single_critic,
                            lagrangian_safety=args.lagrangian, eval_every=args.eval_every, demo_episodes=args.demos,
                            bc_pretrain_steps=args.bc_steps, demo_noise=args.demo_noise,
                            actor_update=args.actor_update, actor_lr=args.actor_lr,
                            env_options={**ENVIRONMENTS.get(skill, {}), **options[skill]} if options[skill] else None),
                     args.out / f"{skill}-{kind}{_options_name(options.get(skill, {}))}-seed{seed}",
                     resume=not args.no_resume)
            for skill in args.skills for seed in args.seeds]
    for job in jobs:
        _describe(job)
    if len(jobs) == 1 and args.workers is None and args.address is None:
        return _train_here(jobs[0], args.json)
    return _train_on_ray(jobs, args.workers, args.address, args.json)


def _options_name(options: dict) -> str:
    """A run directory's mark for environment options, so a run with them never resumes one without (or with
    others): "-d5-25cm" for pushes of 5-25 cm, "-on-table-cube" for places onto the table and cubes."""
    mark = "-" + "-".join(options["objects"]) if "objects" in options else ""
    if "object_box" in options:
        (x0, y0), (x1, y1) = options["object_box"]
        mark += f"-x{x0 * 100:g}-{x1 * 100:g}-y{y0 * 100:g}-{y1 * 100:g}cm"
    if "held" in options:
        mark += f"-held{options['held']:g}"
    if "targets" in options:
        return mark + "-on-" + "-".join(options["targets"])
    if "distances" not in options:
        return mark
    low, high = options["distances"]
    return f"{mark}-d{low * 100:g}-{high * 100:g}cm"


def _describe(job: TrainJob) -> None:
    config = job.config
    kind = "multi" if config.multi_critic else "single"
    rl = "no RL (warm start only)"
    if config.total_steps:
        rl = f"then {config.total_steps} RL steps ({config.actor_update} actor update, actor lr {config.actor_lr:g})"
    where = f" with {config.env_options}" if config.env_options else ""
    print(f"training {config.skill}{where} ({kind}-critic, seed {config.seed}) in {job.run_dir}: {config.demo_episodes} "
          f"demonstrations (DART noise {config.demo_noise}), {config.bc_pretrain_steps} behaviour-cloning updates, "
          f"{rl}")


def _outcome(summary: dict, run_dir: Path) -> str:
    return (f"success rate {summary['success_rate']:.2f} after {summary['steps']} steps (best "
            f"{summary['best_success_rate']:.2f}, kept in {run_dir / 'policy.pt'}); curve {run_dir / 'curve.png'}")


def _train_here(job: TrainJob, as_json: bool) -> int:
    """One run in this process, with its progress bars: Ray is not needed (nor imported)."""
    from skill_lib.learning.train import train

    try:
        summary = train(job.config, job.run_dir, resume=job.resume)
    except ValueError as err:  # settings the skill's environment cannot honour
        return error(str(err))
    print(_outcome(summary, job.run_dir))
    if as_json:
        print(json.dumps(summary))
    return EXIT_OK


def _train_on_ray(jobs: list[TrainJob], workers: int | None, address: str | None, as_json: bool) -> int:
    """The runs as Ray tasks; a line on stderr as each finishes, then each run's outcome in run order."""
    from skill_lib.learning.distributed import run_jobs

    if address is None:
        workers = workers or min(len(jobs), os.cpu_count() or 1)
        print(f"{len(jobs)} run(s) on Ray on this machine, {workers} at once", flush=True)
    else:
        print(f"{len(jobs)} run(s) on the Ray cluster at {address}", flush=True)
    try:
        results = run_jobs(jobs, workers, address)
    except ImportError as err:
        return error(str(err), EXIT_FAILED)
    except ConnectionError as err:  # no cluster at that address
        return error(f"cannot reach Ray at {address}: {err}", EXIT_FAILED)
    for result in results:
        outcome = f"failed: {result.error}" if result.summary is None else _outcome(result.summary, result.job.run_dir)
        print(f"{result.job.name}: {outcome}")
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"{len(failed)} of {len(results)} runs failed")
    if as_json:
        summaries = [r.summary if r.summary is not None else
                     {"skill": r.job.config.skill, "seed": r.job.config.seed, "run_dir": str(r.job.run_dir),
                      "error": r.error} for r in results]
        print(json.dumps(summaries[0] if len(summaries) == 1 else summaries))
    return EXIT_FAILED if failed else EXIT_OK
