"""Imports pybullet without the build-time banner its C library prints to stdout on import."""
from __future__ import annotations

import os
import sys


def import_pybullet_quietly() -> None:
    """Import pybullet once with stdout muted, so a CLI's stdout stays its own output."""
    if "pybullet" in sys.modules:
        return
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # no real stdout (e.g. captured): nothing to protect
        import pybullet  # noqa: F401
        return
    sys.stdout.flush()
    saved, devnull = os.dup(fd), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        import pybullet  # noqa: F401
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)
