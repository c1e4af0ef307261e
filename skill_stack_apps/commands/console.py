"""`skillstack console`: the operator console, a web page on loopback (camera, plan, goals, corrections, voice,
e-stop) over the in-process simulated stack, or with --ros over the running ROS graph."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from skill_stack_apps.commands import EXIT_FAILED, EXIT_OK, error
from skill_stack_apps.commands.correct import add_recogniser_option
from skill_stack_apps.recording import RECORD_ENV, recording_on

if TYPE_CHECKING:  # the console's modules (FastAPI) load only when it starts: `skillstack --help` stays light
    from skill_stack_apps.console.backend import Backend


def register(sub: argparse._SubParsersAction) -> None:
    console = sub.add_parser("console", help="the operator console: a web page to run, watch, correct and stop tasks")
    console.add_argument("--port", type=int, default=8080, help="TCP port (default 8080; 0: any free port)")
    console.add_argument("--host", default="127.0.0.1",
                         help="address to bind (default 127.0.0.1, loopback only); any other needs --token")
    console.add_argument("--token", help="required on every API call and the WebSocket when set (default: "
                         "$SKILL_STACK_CONSOLE_TOKEN); open the page as http://HOST:PORT/?token=TOKEN")
    console.add_argument("--ros", action="store_true",
                         help="a client of the running ROS graph (skillstack launch sim) instead of the in-process "
                              "simulated stack")
    console.add_argument("--scene", default="default", help="scene (in-process: simulated; --ros: its objects name "
                         "the voice grammar's words)")
    console.add_argument("--seed", type=int, default=0, help="in-process: randomises object poses (default 0)")
    console.add_argument("--robot", default="panda", help="in-process: panda (default) or xarm6")
    console.add_argument("--speed", type=float, default=1.0,
                         help="in-process: simulated seconds per second (default 1.0, real time as an arm moves)")
    console.add_argument("--scripted", action="store_true", help="in-process: scripted controllers only")
    console.add_argument("--out", type=Path, default=Path("runs"), help="in-process: where episode logs go")
    console.add_argument("--db", help="correction store: a file or a postgresql:// URL (default: $SKILL_STACK_MEMORY, "
                         "else $SKILL_STACK_DATA/corrections.db; --ros: the scheduler's, on this machine)")
    console.add_argument("--record", action=argparse.BooleanOptionalAction, default=None,
                         help="in-process: write each task's run.mcap beside its episode log (default: on when "
                              f"${RECORD_ENV}=1); over ROS, record the graph with `skillstack record`")
    console.add_argument("--namespace", default="", help="--ros: the graph's namespace, e.g. robot1")
    console.add_argument("--ssl-certfile", help="serve HTTPS (a browser's microphone needs HTTPS off localhost)")
    console.add_argument("--ssl-keyfile")
    add_recogniser_option(console)
    console.set_defaults(handler=cmd_console)


def backend_from_args(args: argparse.Namespace) -> Backend:
    """The backend the command line asks for, not started yet: the ROS client with --ros, else the in-process
    stack. Raises ValueError (a bad option, scene or recogniser) or ImportError (a missing extra)."""
    if args.ros:
        from skill_stack_apps.console.ros import RosBackend, RosConfig
        return RosBackend(RosConfig(namespace=args.namespace, scene=args.scene, db=args.db,
                                    recogniser=args.recogniser))
    from skill_stack_apps.console.sim import SimBackend, SimConfig
    return SimBackend(SimConfig(scene=args.scene, seed=args.seed, robot=args.robot, speed=args.speed,
                                scripted=args.scripted, out=args.out, db=args.db, record=recording_on(args.record),
                                recogniser=args.recogniser))


def cmd_console(args: argparse.Namespace) -> int:
    from skill_stack_apps.console.server import TOKEN_ENV, ConsoleServer, ServeOptions, check_options

    options = ServeOptions(args.host, args.port, args.token or os.environ.get(TOKEN_ENV) or None,
                           args.ssl_certfile, args.ssl_keyfile)
    problem = check_options(options)
    if problem is not None:
        return error(problem)
    try:
        backend = backend_from_args(args)
    except ValueError as err:  # hardware.scene.SceneError is one
        return error(str(err))
    except ImportError as err:
        return error(f"the console needs its extra: pip install -e '.[console]' ({err})", EXIT_FAILED)
    try:
        server = ConsoleServer(backend, options)
    except OSError as err:
        backend.close()
        return error(f"cannot listen on {args.host}:{args.port}: {err.strerror or err}", EXIT_FAILED)
    print("starting the " + ("ROS client" if args.ros else "simulator") + " ...", flush=True)
    try:
        backend.start()
    except RuntimeError as err:
        backend.close()
        return error(str(err), EXIT_FAILED)
    token = "?token=TOKEN" if options.token else ""  # the token is the operator's: not echoed to logs
    print(f"operator console: {server.url}{token}  (Ctrl-C stops it)", flush=True)
    try:
        server.run()
    finally:
        backend.close()
    print("console stopped", file=sys.stderr)
    return EXIT_OK

