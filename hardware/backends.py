"""Backends by name, for nodes and tools that choose one from a parameter (plain Python, no ROS).

`pybullet` is the simulated arm. Any other backend is named as `package.module:factory`, a callable
taking the same keyword arguments and returning an ArmInterface (a WorldView too, if it knows objects).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from hardware.arm import ArmInterface
from hardware.params import documented


@dataclass
class BackendOptions:
    """What every backend is built with. The documented fields are parameters of the hardware node."""

    robot: str = documented("panda", "robot description in config/robots (joints, URDF, home pose)")
    scene: str = documented("default", "scene in config/scenes (PyBullet backend) or a YAML path")
    seed: int = documented(0, "seed of the object pose jitter (PyBullet backend)")
    control_hz: int = documented(20, "control steps per second; the hardware node steps the backend at this "
                                 "rate in real time")
    #: not a parameter: overrides of the default safety limits (hardware.safety.SafetyConfig fields)
    safety: dict = field(default_factory=dict)


def _pybullet(options: BackendOptions) -> ArmInterface:
    from hardware.pybullet import PyBulletArm, PyBulletConfig

    return PyBulletArm(PyBulletConfig(robot=options.robot, scene=options.scene, seed=options.seed,
                                      control_hz=options.control_hz, safety=dict(options.safety)))


BUILTIN = {"pybullet": _pybullet}


def create_backend(name: str, options: BackendOptions) -> ArmInterface:
    """Raises ValueError for an unknown name (the message lists what is known)."""
    if name in BUILTIN:
        return BUILTIN[name](options)
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            factory = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as err:
            raise ValueError(f"cannot load backend {name!r}: {err}") from err
        return factory(options)
    raise ValueError(f"unknown backend {name!r}; known: {', '.join(BUILTIN)} or 'package.module:factory'")
