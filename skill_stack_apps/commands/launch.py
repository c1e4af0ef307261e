"""`skillstack launch FILE [name:=value ...]`: start the nodes of a ROS 2 YAML launch file as processes.

`ros2 launch` is not installable from PyPI; this runs the same file, with each node a separate process
started with standard `--ros-args` (-r __node/__ns, --params-file, -p, -r remaps).
"""
from __future__ import annotations

import argparse
import shlex
import signal
from pathlib import Path

from hardware.resources import config_dir
from skill_stack_apps.commands import EXIT_OK, error


def register(sub: argparse._SubParsersAction) -> None:
    launch = sub.add_parser("launch", help="start the nodes of a ROS 2 YAML launch file (like ros2 launch)")
    launch.add_argument("file", help="a launch file, or a name in launch/ (e.g. sim.launch.yaml or sim)")
    launch.add_argument("arguments", nargs="*", metavar="name:=value", help="launch arguments")
    launch.add_argument("--print", action="store_true", help="print the node command lines and exit")
    launch.set_defaults(handler=cmd_launch)


def find_launch_file(name: str) -> Path:
    given = Path(name)
    if given.is_file():
        return given
    folder = config_dir().parent / "launch"
    for candidate in (folder / name, folder / f"{name}.launch.yaml"):
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted(p.name for p in folder.glob("*.launch.yaml")))
    raise FileNotFoundError(f"no launch file {name!r}; available in {folder}: {known}")


def cmd_launch(args: argparse.Namespace) -> int:
    from skill_stack_apps.launcher import LaunchError, load_launch, parse_arguments
    from skill_stack_apps.processes import ProcessGroup

    try:
        nodes = load_launch(find_launch_file(args.file), parse_arguments(args.arguments))
        commands = [(node.label, node.command()) for node in nodes]
    except (LaunchError, FileNotFoundError) as err:
        return error(str(err))
    if args.print:
        for label, command in commands:
            print(f"{label}: {shlex.join(command)}")
        return EXIT_OK
    group = ProcessGroup()
    # loopback discovery unless the caller chose otherwise (see README: ROS 2)
    group.env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

    def stop(signum, frame) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        for label, command in commands:
            group.start(label, command)
        code = group.wait()
    except KeyboardInterrupt:
        group.say("[launch] stopping all nodes")
        group.stop()
        return EXIT_OK
    return code
