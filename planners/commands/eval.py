"""`skillstack eval SKILL`: measure a skill policy's success rate over seeded episodes in PyBullet."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from planners.commands import EXIT_OK, EXIT_USAGE


def register(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("eval", help="success rate of a skill policy over seeded episodes")
    ev.add_argument("skill", help="move_to, pick, place or push")
    ev.add_argument("--episodes", type=int, default=50)
    ev.add_argument("--seed", type=int, default=0, help="evaluation seeds derive from it (never training seeds)")
    ev.add_argument("--policy", type=Path, help="policy.pt to evaluate (default: checkpoints/SKILL/policy.pt)")
    ev.add_argument("--scripted", action="store_true", help="evaluate the scripted reference controller instead")
    ev.add_argument("--json", action="store_true", help="end with one JSON line (skill, episodes, success_rate)")
    ev.set_defaults(handler=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    from hardware.resources import config_dir
    from skill_lib.learning import ENVIRONMENTS
    from skill_lib.learning.mcsac import make_env
    from skill_lib.learning.train import EVAL_SEED_OFFSET, demonstration, evaluate, load_policy

    if args.skill not in ENVIRONMENTS:
        print(f"error: no learning environment for {args.skill!r}; learnable: {', '.join(ENVIRONMENTS)}")
        return EXIT_USAGE
    if args.episodes <= 0:
        print("error: --episodes must be positive")
        return EXIT_USAGE
    env = make_env(args.skill)
    if args.scripted:
        wins = sum(demonstration(env, EVAL_SEED_OFFSET + args.seed * 10_000 + i)[1] for i in range(args.episodes))
        rate, source = wins / args.episodes, "scripted reference controller"
    else:
        path = args.policy or config_dir().parent / "checkpoints" / args.skill / "policy.pt"
        if not path.is_file():
            print(f"error: no trained policy at {path}; train one with: skillstack train {args.skill}")
            return EXIT_USAGE
        rate, source = evaluate(load_policy(path), env, args.episodes, args.seed), str(path)
    env.close()
    print(f"{args.skill}: success {rate:.2f} over {args.episodes} episodes ({source})")
    if args.json:
        print(json.dumps({"skill": args.skill, "episodes": args.episodes, "success_rate": rate, "policy": source,
                          "seed": args.seed}))
    return EXIT_OK
