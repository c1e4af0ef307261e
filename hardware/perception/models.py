"""Object models: what perception knows of each scene object's shape before it sees it, as a robot knows the
objects it handles. A box's edge is in its description; an object from a URDF has the bounding box of its
collision shapes (in its own frame, at its scale), read once from the URDF.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from hardware.quiet_pybullet import import_pybullet_quietly
from hardware.scene import ObjectSpec

import_pybullet_quietly()

import pybullet as pb  # noqa: E402
import pybullet_data  # noqa: E402


@dataclass(frozen=True)
class ObjectModel:
    #: the bounding box's sides in the object's own frame (x, y, z), metres
    size: np.ndarray

    @property
    def footprint(self) -> tuple[float, float]:
        """The footprint's sides, longer first."""
        a, b = sorted((float(self.size[0]), float(self.size[1])), reverse=True)
        return a, b

    @property
    def height(self) -> float:
        return float(self.size[2])


def object_model(spec: ObjectSpec) -> ObjectModel:
    """The model of a scene object: a box of its edge, or its URDF's collision shapes."""
    if spec.urdf is None:
        return ObjectModel(size=np.full(3, float(spec.edge or 0.0)))
    return _urdf_model(spec.urdf, spec.scale)


@functools.lru_cache(maxsize=32)
def _urdf_model(urdf: str, scale: float) -> ObjectModel:
    client = pb.connect(pb.DIRECT)
    try:
        pb.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=client)
        body = pb.loadURDF(urdf, [0, 0, 0], globalScaling=scale, useFixedBase=True, physicsClientId=client)
        links = range(-1, pb.getNumJoints(body, physicsClientId=client))
        boxes = {link: np.array(pb.getAABB(body, link, physicsClientId=client)) for link in links}
        lo = np.min([b[0] for b in boxes.values()], axis=0)
        hi = np.max([b[1] for b in boxes.values()], axis=0)
        return ObjectModel(size=hi - lo)
    finally:
        pb.disconnect(client)

