"""One module per `skillstack` subcommand; each has `register(subparsers)` and sets `handler`."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def error(message: str, code: int = EXIT_USAGE) -> int:
    """One `error:` line on stderr, whatever the message's own line breaks; returns the exit code."""
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def _given(args: argparse.Namespace, checks: Iterable[tuple[str, Callable[[Any], Any]]]) -> Iterator[tuple[str, Any]]:
    """(flag, checked value) for each flag of `checks` given in `args`; ValueError, naming the flag, for a value its
    check refuses."""
    for flag, check in checks:
        value = getattr(args, flag.lstrip("-").replace("-", "_"), None)
        if value is None:
            continue
        try:
            yield flag, check(value)
        except ValueError as err:
            raise ValueError(f"{flag}: {err}") from None


def skill_env_flags(args: argparse.Namespace) -> list[tuple[str, str, str, Any]]:
    """(flag, skill, environment option, its value, checked) for each flag given in `args` that sets one skill's
    environment option (`train` and `eval` take them): --push-distances, --place-targets, --move-to-held. ValueError,
    naming the flag, for a value the environment refuses."""
    from skill_lib.learning.envs.place import trained_targets
    from skill_lib.learning.envs.push import trained_distances
    from skill_lib.learning.envs.reach import trained_held

    table = (("--push-distances", "push", "distances", lambda v: trained_distances({"distances": v})),
             ("--place-targets", "place", "targets", lambda v: list(trained_targets({"targets": v}))),
             ("--move-to-held", "move_to", "held", lambda v: trained_held({"held": v})))
    option = {flag: (skill, key) for flag, skill, key, _ in table}
    return [(flag, *option[flag], value) for flag, value in _given(args, [(row[0], row[3]) for row in table])]


def object_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The environment options for the objects that `--objects` and `--object-box` give (`train` and `eval` take them,
    for every skill they name), checked; ValueError, naming the flag, for a value the environments refuse."""
    from skill_lib.learning.envs.base import trained_object_box, trained_objects

    table = (("--objects", "objects", lambda v: list(trained_objects({"objects": v}))),
             ("--object-box", "object_box",
              lambda v: [list(corner) for corner in trained_object_box({"object_box": (v[:2], v[2:])})]))
    option = {flag: key for flag, key, _ in table}
    return {option[flag]: value for flag, value in _given(args, [(row[0], row[2]) for row in table])}
