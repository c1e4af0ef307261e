"""MCAP recordings of runs, with ROS 2 message encodings, for Foxglove (issue #17).

- `writer.Recorder`: the file and its typed API (joint states, commands, camera, objects, status, events).
- `session.RunRecording`: an in-process run (`skillstack run --record`, the console): arm, events, status.
- `node` (rclpy): `skillstack record`, the same topics from a running ROS graph.
- `runs`: the recordings under a folder (`skillstack runs`); `timeline`: one run's PNG (`skillstack report`).
"""
# Submodules are imported where used: `skillstack --help` and `skillstack runs` stay light.
import os

#: `SKILL_STACK_RECORD=1` records every in-process run (`skillstack run`, the console's tasks), `0` none;
#: a command's --record / --no-record overrides it
RECORD_ENV = "SKILL_STACK_RECORD"


def recording_on(flag: bool | None) -> bool:
    """--record / --no-record if given, else the environment switch."""
    return flag if flag is not None else os.environ.get(RECORD_ENV, "").strip().lower() in ("1", "true", "yes", "on")
