"""`skillstack train SKILL`: train a skill's policy (multi-critic SAC + HER + demonstration warm start)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from planners.commands import EXIT_OK, EXIT_USAGE


def register(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train a skill's policy in PyBullet (resumable)")
    train.add_argument("skill", help="move_to, pick, place or push")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--steps", type=int, default=20_000,
                       help="environment steps after the warm start (default 20000; 0: warm start only)")
    train.add_argument("--demos", type=int, default=30, help="scripted demonstrations for the warm start")
    train.add_argument("--bc-steps", type=int, default=2_000, help="behaviour-cloning updates before RL")
    train.add_argument("--demo-noise", type=float, default=0.0,
                       help="DART: noise on the demonstrator's executed actions, clean labels (push, move_to: 0.1)")
    train.add_argument("--single-critic", action="store_true", help="the baseline: one critic on the summed reward")
    train.add_argument("--lagrangian", action="store_true", help="safety weight as a Lagrange multiplier")
    train.add_argument("--actor-update", choices=("sac", "awac"), default="sac",
                       help="awac: advantage-weighted fit of the replay's actions (fine-tuning a warm start)")
    train.add_argument("--actor-lr", type=float, default=1e-3, help="learning rate of the RL actor updates")
    train.add_argument("--eval-every", type=int, default=2_000)
    train.add_argument("--out", type=Path, default=Path("runs/train"), help="run directories go here")
    train.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    train.add_argument("--json", action="store_true", help="end with one JSON line (skill, success_rate, ...)")
    train.set_defaults(handler=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from skill_lib.learning import ENVIRONMENTS
    from skill_lib.learning.mcsac import TrainConfig
    from skill_lib.learning.train import train

    if args.skill not in ENVIRONMENTS:
        print(f"error: no learning environment for {args.skill!r}; learnable: {', '.join(ENVIRONMENTS)}")
        return EXIT_USAGE
    if (args.steps < 0 or args.eval_every <= 0 or args.demos <= 0 or args.bc_steps < 0 or args.demo_noise < 0
            or args.actor_lr <= 0):
        print("error: --steps, --bc-steps and --demo-noise must be >= 0, --eval-every, --demos and --actor-lr "
              "positive")
        return EXIT_USAGE
    config = TrainConfig(skill=args.skill, seed=args.seed, total_steps=args.steps,
                         multi_critic=not args.single_critic, lagrangian_safety=args.lagrangian,
                         eval_every=args.eval_every, demo_episodes=args.demos, bc_pretrain_steps=args.bc_steps,
                         demo_noise=args.demo_noise, actor_update=args.actor_update, actor_lr=args.actor_lr)
    kind = "single" if args.single_critic else "multi"
    run_dir = args.out / f"{args.skill}-{kind}-seed{args.seed}"
    print(f"training {args.skill} ({kind}-critic, seed {args.seed}, {args.steps} steps) in {run_dir}")
    try:
        summary = train(config, run_dir, resume=not args.no_resume)
    except ValueError as err:  # settings the skill's environment cannot honour
        print(f"error: {err}")
        return EXIT_USAGE
    print(f"success rate {summary['success_rate']:.2f} after {summary['steps']} steps (best "
          f"{summary['best_success_rate']:.2f}, kept in {run_dir / 'policy.pt'}); curve {run_dir / 'curve.png'}")
    if args.json:
        print(json.dumps(summary))
    return EXIT_OK
