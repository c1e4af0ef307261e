"""`skillstack train SKILL`: train a skill's policy (multi-critic SAC + HER + demonstration warm start)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from skill_stack_apps.commands import EXIT_OK, error


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train a skill's policy in PyBullet (resumable)",
                           description="Unset options come from the skill's recipe (skill_lib/learning/recipes.py): "
                                       "the bare command reproduces checkpoints/SKILL/policy.pt.")
    train.add_argument("skill", help="move_to, pick, place or push")
    train.add_argument("--seed", type=int, default=0)
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
    train.add_argument("--out", type=Path, default=Path("runs/train"), help="run directories go here")
    train.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    train.add_argument("--json", action="store_true", help="end with one JSON line (skill, success_rate, ...)")
    train.set_defaults(handler=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from skill_lib.learning import learning_spec
    from skill_lib.learning.recipes import recipe
    from skill_lib.learning.train import train

    try:
        learning_spec(args.skill)
    except ValueError as err:
        return error(str(err))
    errors = [f"{flag} must be >= 0" for flag, value in (("--steps", args.steps), ("--bc-steps", args.bc_steps),
                                                          ("--demo-noise", args.demo_noise))
              if value is not None and value < 0]
    errors += [f"{flag} must be positive" for flag, value in (("--eval-every", args.eval_every),
                                                              ("--demos", args.demos), ("--actor-lr", args.actor_lr))
               if value is not None and value <= 0]
    if errors:
        return error("; ".join(errors))
    config = recipe(args.skill, seed=args.seed, total_steps=args.steps, multi_critic=not args.single_critic,
                    lagrangian_safety=args.lagrangian, eval_every=args.eval_every, demo_episodes=args.demos,
                    bc_pretrain_steps=args.bc_steps, demo_noise=args.demo_noise, actor_update=args.actor_update,
                    actor_lr=args.actor_lr)
    kind = "single" if args.single_critic else "multi"
    run_dir = args.out / f"{args.skill}-{kind}-seed{args.seed}"
    rl = "no RL (warm start only)"
    if config.total_steps:
        rl = f"then {config.total_steps} RL steps ({config.actor_update} actor update, actor lr {config.actor_lr:g})"
    print(f"training {args.skill} ({kind}-critic, seed {args.seed}) in {run_dir}: {config.demo_episodes} "
          f"demonstrations (DART noise {config.demo_noise}), {config.bc_pretrain_steps} behaviour-cloning updates, "
          f"{rl}")
    try:
        summary = train(config, run_dir, resume=not args.no_resume)
    except ValueError as err:  # settings the skill's environment cannot honour
        return error(str(err))
    print(f"success rate {summary['success_rate']:.2f} after {summary['steps']} steps (best "
          f"{summary['best_success_rate']:.2f}, kept in {run_dir / 'policy.pt'}); curve {run_dir / 'curve.png'}")
    if args.json:
        print(json.dumps(summary))
    return EXIT_OK
