"""`skillstack policies`: the policy registry (skill_lib/learning/registry.py): list versions, register a trained
policy as a new version, promote a version (the skill layer runs it from then on), roll back to the one before."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from skill_stack_apps.commands import EXIT_OK, error


def register(sub: argparse._SubParsersAction) -> None:
    policies = sub.add_parser("policies", help="versions of the learned policies: list, register, promote, rollback",
                              description=__doc__)
    policies.add_argument("--registry", type=Path, help="the registry's directory (default: checkpoints/)")
    policies.add_argument("--json", action="store_true", help="end with one JSON line")
    actions = policies.add_subparsers(dest="action")
    listing = actions.add_parser("list", help="every version of every skill (the default)")
    listing.add_argument("skill", nargs="?")
    add = actions.add_parser("register", help="add a trained policy.pt as the skill's next version (not promoted)")
    add.add_argument("skill")
    add.add_argument("checkpoint", type=Path, help="a policy.pt (e.g. runs/train/pick-multi-seed0/policy.pt)")
    add.add_argument("--parent", type=int, help="the version it was trained from (default: the promoted one)")
    add.add_argument("--data", default="", help="what it was trained on, in words")
    add.add_argument("--metrics", type=Path, help="held-out metrics: a `skillstack eval --json` output")
    promote = actions.add_parser("promote", help="run this version from now on")
    promote.add_argument("skill")
    promote.add_argument("version", type=int)
    rollback = actions.add_parser("rollback", help="promote again the version promoted before the current one")
    rollback.add_argument("skill")
    policies.set_defaults(handler=cmd_policies)


def describe(version: Any, promoted: bool) -> str:
    """One line: version, parent, date, held-out metrics, whether it runs."""
    metrics = ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in version.metrics.items() if not isinstance(v, (dict, list))) or "no metrics"
    parent = f" from v{version.parent}" if version.parent else ""
    return (f"v{version.version}{parent}{' (promoted)' if promoted else ''}: {metrics}; {version.date or 'undated'}; "
            f"{version.data or '-'}; {version.path}")


def _metrics(path: Path | None) -> dict[str, Any]:
    """The last JSON line of a `skillstack eval --json` output (ValueError if there is none)."""
    if path is None:
        return {}
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip().startswith("{")]
    if not lines:
        raise ValueError(f"{path} holds no `skillstack eval --json` line")
    result = json.loads(lines[-1])
    if not isinstance(result, dict) or "success_rate" not in result:
        raise ValueError(f"{path}: its last JSON line has no success_rate")
    return {k: result[k] for k in ("success_rate", "episodes", "seed", "returns") if k in result}


def _recipe(checkpoint: Path) -> dict[str, Any]:
    """The training settings a policy.pt carries (skill_lib/learning/train.py save_policy)."""
    import torch
    try:
        state = torch.load(checkpoint, weights_only=False, map_location="cpu")
    except Exception as err:  # any way a file is not a torch checkpoint
        raise ValueError(f"{checkpoint} is not a policy checkpoint ({type(err).__name__})") from None
    config = state.get("config") if isinstance(state, dict) else None
    if not isinstance(config, dict):
        raise ValueError(f"{checkpoint} is not a policy checkpoint (no training config in it)")
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}


def cmd_policies(args: argparse.Namespace) -> int:
    from skill_lib.learning.registry import CHECKPOINTS, PolicyRegistry, RegistryError

    registry = PolicyRegistry(args.registry or CHECKPOINTS)
    action = args.action or "list"
    try:
        if action == "list":
            skills = [args.skill] if getattr(args, "skill", None) else registry.skills()
            shown = {}
            for skill in skills:
                promoted = registry.promoted(skill)
                versions = registry.versions(skill)
                if not versions:
                    return error(f"no policy for {skill!r}; skills with policies: {', '.join(registry.skills())}")
                print(skill)
                for version in versions:
                    print("  " + describe(version, promoted is not None and version.version == promoted.version))
                shown[skill] = {"promoted": promoted.version if promoted else None,
                                "versions": [vars(v) for v in versions]}
            if args.json:
                print(json.dumps(shown))
            return EXIT_OK
        if action == "register":
            if args.checkpoint.is_file():
                recipe = _recipe(args.checkpoint)
                if recipe.get("skill") not in (None, args.skill):
                    return error(f"{args.checkpoint} is a {recipe['skill']} policy, not {args.skill}")
            else:
                recipe = {}
            version = registry.register(args.skill, args.checkpoint, parent=args.parent, recipe=recipe,
                                        data=args.data, metrics=_metrics(args.metrics))
            print(f"{args.skill} {describe(version, False)}; promote it with: skillstack policies promote "
                  f"{args.skill} {version.version}")
        elif action == "promote":
            version = registry.promote(args.skill, args.version)
            print(f"{args.skill}: v{version.version} promoted (the skill layer loads it from its next start)")
        else:
            version = registry.rollback(args.skill)
            print(f"{args.skill}: rolled back to v{version.version}")
    except (RegistryError, ValueError, OSError) as err:
        return error(str(err))
    if args.json:
        print(json.dumps({"skill": args.skill, "version": vars(version)}))
    return EXIT_OK
