"""PyBullet backend: a simulated arm on a table, headless by default."""
from hardware.quiet_pybullet import import_pybullet_quietly

import_pybullet_quietly()

from hardware.pybullet.backend import PyBulletArm, SimSnapshot  # noqa: E402
from hardware.pybullet.config import PyBulletConfig  # noqa: E402

__all__ = ["PyBulletArm", "PyBulletConfig", "SimSnapshot"]
