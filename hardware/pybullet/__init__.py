"""PyBullet backend: a simulated arm on a table, headless by default."""
import os
import sys


def _import_pybullet_quietly() -> None:
    """pybullet's C library prints its build time to stdout on import; keep stdout for our output."""
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


_import_pybullet_quietly()

from hardware.pybullet.backend import PyBulletArm  # noqa: E402
from hardware.pybullet.config import PyBulletConfig, RobotConfig, load_robot  # noqa: E402

__all__ = ["PyBulletArm", "PyBulletConfig", "RobotConfig", "load_robot"]
