"""`skillstack`: run language tasks in simulation and browse the skill library."""
from __future__ import annotations

import argparse
import importlib
import sys

#: subcommand modules under skill_stack_apps/commands, in --help order
COMMANDS = ("run", "runs", "report", "skills", "policies", "correct", "corrections", "train", "eval", "experiment",
            "launch", "record", "console")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skillstack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"skill_stack_apps.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
