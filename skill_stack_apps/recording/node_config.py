"""Parameters of the recorder node (skill_stack_apps.recording.node), as a dataclass: plain Python, no ROS."""
from __future__ import annotations

from dataclasses import dataclass

from hardware.params import documented


@dataclass
class RecorderConfig:
    """The recorder: subscribes to a robot graph's topics (in its namespace) and writes them to one MCAP file as
    they arrive, serialised as ROS sent them, with the receipt time on the node's ROS clock as log time."""

    out: str = documented("runs", "folder for run directories: the recording is OUT/<time>/run.mcap")
    path: str = documented("", "the MCAP file to write instead (empty: OUT/<time>/run.mcap)")
    camera: bool = documented(True, "record the camera topics (colour, depth, camera_info): most of the bytes")
    rosout: bool = documented(True, "record /rosout, every node's log lines")
    stop_after_tasks: int = documented(0, "stop once this many tasks ended on `status` (0: run until Ctrl-C)")
    duration: float = documented(0.0, "stop after this many seconds (0: no limit)")
    robot: str = documented("panda", "the robot description (config/robots) whose link frames go on tf")
    tf: bool = documented(True, "write tf, tf_static and markers for Foxglove's 3D panel, computed from "
                                "joint_states and objects as robot_state_publisher would (off where the graph "
                                "publishes its own /tf: this node does not record it)")
