"""`skillstack record [--namespace NS] [--out DIR]`: record a running ROS 2 graph's topics to OUT/<time>/run.mcap.

The recorder node (skill_stack_apps.recording.node) in this process; Ctrl-C finishes the file.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from skill_stack_apps.commands import error


def register(sub: argparse._SubParsersAction) -> None:
    record = sub.add_parser("record", help="record a running ROS 2 graph (joint states, commands, camera, "
                                           "objects, task events) to an MCAP file for Foxglove")
    record.add_argument("--namespace", default="", help="the robot's namespace (e.g. robot1; default: none)")
    record.add_argument("--out", type=Path, default=Path("runs"), help="where run directories go (default ./runs)")
    record.add_argument("--no-camera", action="store_true", help="leave out the camera topics (most of the bytes)")
    record.add_argument("--tasks", type=int, default=0, help="stop after N tasks ended (default: until Ctrl-C)")
    record.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds")
    record.add_argument("--robot", default="panda", help="the robot (config/robots) whose link frames go on tf")
    record.add_argument("--no-tf", action="store_true", help="write no tf, tf_static or markers (where the "
                                                             "graph's robot_state_publisher sends /tf)")
    record.set_defaults(handler=cmd_record)


def cmd_record(args: argparse.Namespace) -> int:
    try:
        from skill_stack_apps.recording.node import main
    except ImportError as err:
        return error(f"skillstack record needs ROS 2 (rclpy and skill_stack_interfaces; make test installs them): "
                     f"{err}")
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")  # as skillstack launch (README: ROS 2)
    camera = "false" if args.no_camera else "true"
    ros_args = ["--ros-args", "-p", f"out:={args.out}", "-p", f"camera:={camera}", "-p",
                f"stop_after_tasks:={args.tasks}", "-p", f"duration:={float(args.duration)}", "-p",
                f"robot:={args.robot}", "-p", f"tf:={'false' if args.no_tf else 'true'}"]
    if args.namespace.strip("/"):
        ros_args += ["-r", f"__ns:=/{args.namespace.strip('/')}"]
    return main([sys.argv[0] or "skillstack", *ros_args])
