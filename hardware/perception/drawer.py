"""A drawer in its cabinet (an articulated object: a fixed base, one prismatic joint), seen by the camera.

The cabinet stands where the scene puts it: a fixed object's pose is calibration, as the camera's is, and its
shapes come from its URDF (models.DrawerModel). What the camera measures is how far the drawer is out: the far
edge of the drawer's top face beyond the cabinet's front (visible from a centimetre or two out: closer in, the
cabinet hides it), else the top of its handle. The drawer is reported as the world reports it: the drawer link's
box (body and handle) at that opening, turned with the cabinet, and `opening` from 0 (closed) to 1 (at the
joint's limit). It is seen when the cabinet's top is; its colour is measured, not checked (its place and shape
say which object it is: the drawer scene describes it as white, while its URDF renders it wood-brown)."""
from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from hardware.camera import CameraModel
from hardware.perception.colors import name_colour
from hardware.perception.config import PerceptionConfig
from hardware.perception.measure import Detection
from hardware.perception.models import DrawerModel
from hardware.perception.plane import TablePlane
from hardware.scene import ObjectSpec

#: a face's points lie within this of its height (metres): depth noise is a few mm
FACE_BAND = 0.008
#: the cabinet is seen when this share of its top face's pixels (as the camera would see it) is
MIN_CABINET_SHARE = 0.3
#: points of the drawer's top face, or its handle, that tell how far it is out (fewer: noise)
MIN_EDGE_POINTS = 5
#: an unmatched detection with this share of its points inside the cabinet and the drawer's reach is part of it
CLAIM_SHARE = 0.7


def see_drawer(spec: ObjectSpec, model: DrawerModel, camera: CameraModel, points: np.ndarray, heights: np.ndarray,
               rgb: np.ndarray, plane: TablePlane, free: np.ndarray, unmatched: Sequence[Detection],
               last_opening: float | None, config: PerceptionConfig = PerceptionConfig()
               ) -> tuple[Detection, list[Detection]] | None:
    """The drawer's detection (with `opening`) and the unmatched detections that are parts of it (the cabinet,
    the drawer's top, the handle), or None if the cabinet is not in view. `free`: pixels (H x W bool) that are
    no named object's and not the robot's; `last_opening`: what the drawer's opening was last (kept when this
    frame shows neither its top nor its handle)."""
    yaw = spec.yaw
    c, s = math.cos(yaw), math.sin(yaw)
    origin = np.array(spec.position, float)
    valid = free & np.isfinite(heights)
    rows, cols = np.nonzero(valid)
    rel = points[rows, cols, :2] - origin
    local = np.column_stack([rel[:, 0] * c + rel[:, 1] * s, -rel[:, 0] * s + rel[:, 1] * c,
                             heights[rows, cols] + model.bottom])  # the object's frame: its bottom on the table
    cab_top = float(model.cabinet_centre[2] + model.cabinet_half[2])
    on_cabinet = _in_box(local, model.cabinet_centre, model.cabinet_half, FACE_BAND) & \
        (np.abs(local[:, 2] - cab_top) <= FACE_BAND)
    expected = _image_area(camera, plane, origin, yaw, model, cab_top)
    if expected <= 0 or np.count_nonzero(on_cabinet) < MIN_CABINET_SHARE * expected:
        return None
    out = _out_by(local, model, config)
    opening = out / model.travel if out is not None else (last_opening if last_opening is not None else 0.0)
    opening = float(np.clip(opening, 0.0, 1.0))
    reach = _in_reach(local, model)
    parts = np.zeros(heights.shape, bool)
    parts[rows[reach], cols[reach]] = True
    claimed = [d for d in unmatched if np.count_nonzero(d.mask & parts) >= CLAIM_SHARE * np.count_nonzero(
        d.mask & np.isfinite(heights))]
    mask = parts.copy()
    for d in claimed:
        mask |= d.mask
    # the drawer link's box at this opening, in the base frame
    centre = model.drawer_centre + opening * model.travel * model.axis
    xy = origin + np.array([centre[0] * c - centre[1] * s, centre[0] * s + centre[1] * c])
    height = float(centre[2] - model.bottom)
    on_plane = np.array([*xy, 0.0])
    on_plane[2] = -(plane.offset + plane.normal[:2] @ xy) / plane.normal[2]
    H, W = heights.shape
    v, u = np.nonzero(mask)
    detection = Detection(
        position=on_plane + plane.normal * height, yaw=yaw, extents=2.0 * model.drawer_half,
        top=height + float(model.drawer_half[2]), support=height - float(model.drawer_half[2]),
        colour=name_colour(rgb[mask], config), hollow=False,
        truncated=bool(v.min() == 0 or u.min() == 0 or v.max() == H - 1 or u.max() == W - 1),
        pixels=int(np.count_nonzero(mask)), mask=mask, opening=opening)
    return detection, claimed


def _in_box(local: np.ndarray, centre: np.ndarray, half: np.ndarray, grow: float) -> np.ndarray:
    return np.all(np.abs(local - centre) <= half + grow, axis=1)


def _along(model: DrawerModel, centre: np.ndarray, half: np.ndarray) -> float:
    """How far a box reaches along the drawer's axis (its front, for the drawer closed)."""
    return float(centre @ model.axis + np.abs(half) @ np.abs(model.axis))


def _out_by(local: np.ndarray, model: DrawerModel, config: PerceptionConfig) -> float | None:
    """How far the drawer is out (metres), from the far edge of its top face beyond the cabinet, else from
    its handle's top; None if neither is in view."""
    s = local @ model.axis
    beyond = s > _along(model, model.cabinet_centre, model.cabinet_half) + 0.005
    lateral = np.cross(np.array([0.0, 0.0, 1.0]), model.axis)
    features = [(model.body_centre, model.body_half, -0.01)]  # the top face, away from its sides
    if model.handle_centre is not None and model.handle_half is not None:
        features.append((model.handle_centre, model.handle_half, 0.006))
    for centre, half, margin in features:
        front = _along(model, centre, half)
        top = float(centre[2] + half[2])
        width = float(np.abs(half) @ np.abs(lateral)) + margin
        on = beyond & (np.abs(local[:, 2] - top) <= FACE_BAND) & \
            (np.abs((local - centre) @ lateral) <= width) & (s <= front + model.travel + 0.02)
        if np.count_nonzero(on) >= MIN_EDGE_POINTS:
            return float(np.percentile(s[on], 99)) - front
    return None


def _in_reach(local: np.ndarray, model: DrawerModel) -> np.ndarray:
    """Points inside the cabinet or where the drawer can be (its box swept over its travel), grown by 1 cm."""
    swept_centre = model.drawer_centre + 0.5 * model.travel * model.axis
    swept_half = model.drawer_half + 0.5 * model.travel * np.abs(model.axis)
    return _in_box(local, model.cabinet_centre, model.cabinet_half, 0.01) | \
        _in_box(local, swept_centre, swept_half, 0.01)


def _image_area(camera: CameraModel, plane: TablePlane, origin: np.ndarray, yaw: float, model: DrawerModel,
                top: float) -> float:
    """Pixels the cabinet's top face covers in the image (its corners projected; 0 if behind the camera)."""
    c, s = math.cos(yaw), math.sin(yaw)
    corners = []
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        x, y = model.cabinet_centre[:2] + model.cabinet_half[:2] * (sx, sy)
        xy = origin + np.array([x * c - y * s, x * s + y * c])
        z = (-(plane.offset + plane.normal[:2] @ xy) + (top - model.bottom)) / plane.normal[2]
        corners.append([*xy, z])
    uvz = camera.project(np.array(corners))
    if np.any(uvz[:, 2] <= 0):
        return 0.0
    return float(abs(cv2.contourArea(uvz[:, :2].astype(np.float32))))
