"""PyBullet backend: a simulated arm on a table, headless by default."""
from hardware.pybullet.backend import PyBulletArm
from hardware.pybullet.config import PyBulletConfig, RobotConfig, load_robot

__all__ = ["PyBulletArm", "PyBulletConfig", "RobotConfig", "load_robot"]
