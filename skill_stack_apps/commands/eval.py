"""`skillstack eval SKILL`: measure a skill policy's success rate over seeded episodes in PyBullet."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from skill_stack_apps.commands import EXIT_OK, error, object_flags, skill_env_flags


def register(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("eval", help="success rate of a skill policy over seeded episodes")
    ev.add_argument("skill", help="move_to, pick, place or push")
    ev.add_argument("--episodes", type=int, default=50)
    ev.add_argument("--seed", type=int, default=0, help="evaluation seeds derive from it (never training seeds)")
    ev.add_argument("--policy", type=Path, help="policy.pt to evaluate (default: the promoted version, see skillstack policies)")
    ev.add_argument("--scripted", action="store_true", help="evaluate the scripted reference controller instead")
    ev.add_argument("--json", action="store_true", help="end with one JSON line (skill, episodes, success_rate)")
    ev.add_argument("--place-targets", nargs="+", metavar="TARGET",
                    help="place: only these of what the policy was trained to set cubes down on (table, cube, "
                         "beside, container)")
    ev.add_argument("--push-distances", type=float, nargs=2, metavar=("LOW", "HIGH"),
                    help="push: pushes of LOW-HIGH metres instead of the policy's training range")
    ev.add_argument("--move-to-held", type=float, metavar="SHARE",
                    help="move_to: this share of episodes starting with a cube in hand (1: all)")
    ev.add_argument("--objects", nargs="+", metavar="KIND",
                    help="only these of what the policy was trained to handle (cube, lego)")
    ev.add_argument("--object-box", type=float, nargs=4, metavar=("X0", "Y0", "X1", "Y1"),
                    help="objects start here (metres, base frame) instead of where the policy was trained")
    ev.set_defaults(handler=cmd_eval)


def _env_options(args: argparse.Namespace, trained: dict) -> dict:
    """The environment the episodes run in: the one the policy was trained in (its checkpoint's env_options), with
    the options asked for here. ValueError for options of another skill or ones the environment refuses."""
    options = dict(trained)
    for flag, skill, key, value in skill_env_flags(args):
        if args.skill != skill:
            raise ValueError(f"{flag} is for {skill}")
        options[key] = value
    return {**options, **object_flags(args)}


def cmd_eval(args: argparse.Namespace) -> int:
    from skill_lib.learning import learning_spec
    from skill_lib.learning.policy import as_on_the_robot
    from skill_lib.learning.mcsac import make_env
    from skill_lib.learning.registry import PolicyRegistry, RegistryError
    from skill_lib.learning.train import demonstration, eval_seeds, evaluation, load_config, load_policy, run_episode

    try:
        learning_spec(args.skill)
    except ValueError as err:
        return error(str(err))
    if args.episodes <= 0:
        return error("--episodes must be positive")
    try:
        path = args.policy or PolicyRegistry().promoted_checkpoint(args.skill)
    except RegistryError as err:
        return error(str(err))
    if not args.scripted and (path is None or not path.is_file()):
        return error(f"no trained policy {'at ' + str(path) if path else 'promoted for ' + args.skill}; train "
                     f"one with: skillstack train {args.skill}")
    # the scripted reference runs the same episodes as the policy it is compared with
    trained = load_config(path).env_options if path is not None and path.is_file() else {}
    try:
        options = _env_options(args, trained)
        env = make_env(args.skill, options)
    except ValueError as err:
        return error(str(err))
    if args.scripted or path is None:
        runs = [demonstration(env, seed)[:2] for seed in eval_seeds(args.seed, args.episodes)]
        source = "scripted reference controller"
    else:
        agent, source = load_policy(path), str(path)
        as_on_the_robot(env, agent.config)
        runs = [run_episode(env, lambda obs: agent.act(obs, deterministic=True), seed)[:2]
                for seed in eval_seeds(args.seed, args.episodes)]
    env.close()
    result = evaluation(runs)
    returns = ", ".join(f"{term} {value:.2f}" for term, value in result["returns"].items())
    where = f" with {options}" if options else ""
    print(f"{args.skill}{where}: success {result['success_rate']:.2f} over {args.episodes} episodes ({source}"
          f"{'' if args.scripted or path is None else ', run as its adapter runs it on the robot'}); "
          f"mean return per episode: {returns}")
    if args.json:
        print(json.dumps({"skill": args.skill, "episodes": args.episodes, **result, "policy": source,
                          "seed": args.seed, "env_options": options}))
    return EXIT_OK
