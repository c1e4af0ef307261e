"""Object models: what perception knows of each scene object's shape before it sees it, as a robot knows the
objects it handles. A box's edge is in its description; an object from a URDF has the bounding box of its
collision shapes (in its own frame, at its scale), read once from the URDF. An articulated object (a drawer)
also has its cabinet, its drawer's box when closed, the axis the drawer slides along and its travel."""
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
class DrawerModel:
    """A cabinet with one prismatic joint, in the object's frame (its URDF base frame; z up, the cabinet's
    bottom at z = `bottom`): boxes as (centre, half size)."""

    cabinet_centre: np.ndarray
    cabinet_half: np.ndarray
    #: the drawer link's box (the drawer and its handle) when closed: what the world reports of a drawer
    drawer_centre: np.ndarray
    drawer_half: np.ndarray
    #: the drawer's body (its largest collision box) and its handle (the rest of its shapes), when closed
    body_centre: np.ndarray
    body_half: np.ndarray
    handle_centre: np.ndarray | None
    handle_half: np.ndarray | None
    #: unit vector the drawer opens along, and how far it can (metres)
    axis: np.ndarray
    travel: float
    bottom: float


@dataclass(frozen=True)
class ObjectModel:
    #: the bounding box's sides in the object's own frame (x, y, z), metres
    size: np.ndarray
    drawer: DrawerModel | None = None

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
    return _urdf_model(spec.urdf, spec.scale, spec.articulated)


@functools.lru_cache(maxsize=32)
def _urdf_model(urdf: str, scale: float, articulated: bool) -> ObjectModel:
    client = pb.connect(pb.DIRECT)
    try:
        pb.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=client)
        body = pb.loadURDF(urdf, [0, 0, 0], globalScaling=scale, useFixedBase=True, physicsClientId=client)
        links = range(-1, pb.getNumJoints(body, physicsClientId=client))
        boxes = {link: np.array(pb.getAABB(body, link, physicsClientId=client)) for link in links}
        lo = np.min([b[0] for b in boxes.values()], axis=0)
        hi = np.max([b[1] for b in boxes.values()], axis=0)
        drawer = None
        if articulated:
            info = pb.getJointInfo(body, 0, physicsClientId=client)
            # the joint's axis is in the child link's frame; with no rotation in the URDF's joint origin (the
            # drawer.urdf's) that is the object's frame too
            axis = np.asarray(info[13], float)
            cab, drw = boxes[-1], boxes[0]
            shapes = _boxes(body, 0, client) or [drw]
            largest = max(range(len(shapes)), key=lambda i: float(np.prod(shapes[i][1] - shapes[i][0])))
            rest = [b for i, b in enumerate(shapes) if i != largest]
            handle = (np.min([b[0] for b in rest], axis=0), np.max([b[1] for b in rest], axis=0)) if rest else None
            drawer = DrawerModel(cabinet_centre=cab.mean(axis=0), cabinet_half=(cab[1] - cab[0]) / 2,
                                 drawer_centre=drw.mean(axis=0), drawer_half=(drw[1] - drw[0]) / 2,
                                 body_centre=np.mean(shapes[largest], axis=0),
                                 body_half=(shapes[largest][1] - shapes[largest][0]) / 2,
                                 handle_centre=None if handle is None else (handle[0] + handle[1]) / 2,
                                 handle_half=None if handle is None else (handle[1] - handle[0]) / 2,
                                 axis=axis / np.linalg.norm(axis), travel=float(info[9]), bottom=float(lo[2]))
        return ObjectModel(size=hi - lo, drawer=drawer)
    finally:
        pb.disconnect(client)


def _boxes(body: int, link: int, client: int) -> list[np.ndarray]:
    """A link's collision boxes as (low, high) corners in the object's frame (at rest, unturned); [] if any of
    its shapes is not a box."""
    com = np.asarray(pb.getLinkState(body, link, physicsClientId=client)[0]) if link >= 0 else \
        np.asarray(pb.getBasePositionAndOrientation(body, physicsClientId=client)[0])
    out = []
    for shape in pb.getCollisionShapeData(body, link, physicsClientId=client):
        if shape[2] != pb.GEOM_BOX or not np.allclose(shape[6], (0, 0, 0, 1)):
            return []
        centre, half = com + np.asarray(shape[5]), np.asarray(shape[3]) / 2
        out.append(np.array([centre - half, centre + half]))
    return out
