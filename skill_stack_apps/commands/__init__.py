"""One module per `skillstack` subcommand; each has `register(subparsers)` and sets `handler`."""
from __future__ import annotations

import argparse
import sys
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def error(message: str, code: int = EXIT_USAGE) -> int:
    """One `error:` line on stderr, whatever the message's own line breaks; returns the exit code."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def skill_env_flags(args: argparse.Namespace) -> list[tuple[str, str, str, Any]]:
    """(flag, skill, environment option, its value, checked) for each flag given in `args` that sets one skill's
    environment option (`train` and `eval` take them): --push-distances, --place-targets, --move-to-held. ValueError,
    naming the flag, for a value the environment refuses."""
    from skill_lib.learning.envs.place import trained_targets
    from skill_lib.learning.envs.push import trained_distances
    from skill_lib.learning.envs.reach import trained_held

    given = []
    for flag, skill, key, checked in (
            ("--push-distances", "push", "distances", trained_distances),
            ("--place-targets", "place", "targets", lambda options: list(trained_targets(options))),
            ("--move-to-held", "move_to", "held", trained_held)):
        value = getattr(args, flag.lstrip("-").replace("-", "_"), None)
        if value is None:
            continue
        try:
            given.append((flag, skill, key, checked({key: value})))
        except ValueError as err:
            raise ValueError(f"{flag}: {err}") from None
    return given


def object_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The environment options for the objects that `--objects` and `--object-box` give (`train` and `eval` take them,
    for every skill they name), checked; ValueError, naming the flag, for a value the environments refuse."""
    from skill_lib.learning.envs.base import trained_object_box, trained_objects

    options: dict[str, Any] = {}
    for flag, key, value, checked in (
            ("--objects", "objects", args.objects, lambda v: list(trained_objects({"objects": v}))),
            ("--object-box", "object_box", args.object_box,
             lambda v: [list(corner) for corner in trained_object_box({"object_box": (v[:2], v[2:])})])):
        if value is None:
            continue
        try:
            options[key] = checked(value)
        except ValueError as err:
            raise ValueError(f"{flag}: {err}") from None
    return options
