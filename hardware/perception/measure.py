"""Measuring one segmented object: where its top face is, what stands under it, its footprint on the plane
(a trimmed minimum-area rectangle: centre, yaw, extents), whether it is hollow, and its colour."""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from hardware.perception.colors import name_colour
from hardware.perception.config import PerceptionConfig
from hardware.perception.plane import TablePlane


@dataclass(frozen=True)
class Detection:
    """One object as measured in one frame (base frame, metres; heights above the table plane).

    `position` is the centre of the object's bounding box: x, y the footprint's centre, z midway between its top
    and what it stands on; `extents` the footprint's sides (along yaw, across) and the height; `yaw` the
    footprint's direction about z, in (-pi/4, pi/4] for a near-square footprint (a cube's symmetry), else
    (-pi/2, pi/2] along the longer side."""

    position: np.ndarray
    yaw: float
    extents: np.ndarray
    top: float
    support: float
    colour: str
    hollow: bool
    #: the object reaches the image's border: partly out of view, so its footprint is a lower bound
    truncated: bool
    pixels: int
    mask: np.ndarray
    #: the robot's body is in front of part of it: its footprint may be a part's (tracker: robot_filter)
    occluded: bool = False

    @property
    def half_extents_aabb(self) -> np.ndarray:
        """Half the axis-aligned bounding box in the base frame, as ObjectState.half_extents is defined."""
        c, s = abs(math.cos(self.yaw)), abs(math.sin(self.yaw))
        a, b, h = self.extents
        return np.array([a * c + b * s, a * s + b * c, h]) / 2.0

    @property
    def orientation(self) -> np.ndarray:
        """The yaw as a quaternion (x, y, z, w) about the base frame's z."""
        return np.array([0.0, 0.0, math.sin(self.yaw / 2.0), math.cos(self.yaw / 2.0)])


def _plane_basis(plane: TablePlane) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors in the plane, as close to the base frame's x and y as the plane allows."""
    e1 = np.array([1.0, 0.0, 0.0]) - plane.normal[0] * plane.normal
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(plane.normal, e1)


#: trimmed ranges (percentiles) of the footprint, so that a few noisy points do not widen or turn it
_TRIM = 1.0
_ANGLES = np.radians(np.arange(0.0, 90.0, 1.0))


def fit_rectangle(flat: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """The smallest rectangle around 2-D points (N x 2) after trimming `_TRIM` % at each side, over yaw in 1
    degree steps (cv2.minAreaRect on the raw points is turned by single outliers of a noisy depth image).
    Returns (centre, yaw, along, across): `along` the longer side, yaw its direction, in (-pi/4, pi/4] for a
    near-square footprint (a cube's symmetry) and (-pi/2, pi/2] otherwise."""
    c, s = np.cos(_ANGLES)[:, None], np.sin(_ANGLES)[:, None]
    u, v = c * flat[:, 0] + s * flat[:, 1], -s * flat[:, 0] + c * flat[:, 1]  # (angles x N)
    lo_u, hi_u = np.percentile(u, [_TRIM, 100 - _TRIM], axis=1)
    lo_v, hi_v = np.percentile(v, [_TRIM, 100 - _TRIM], axis=1)
    k = int(np.argmin((hi_u - lo_u) * (hi_v - lo_v)))
    scale = 1.0 / (1.0 - 2 * _TRIM / 100)  # the trimmed range of evenly spread points, back to the full side
    w, h, yaw = (hi_u[k] - lo_u[k]) * scale, (hi_v[k] - lo_v[k]) * scale, float(_ANGLES[k])
    mu, mv = (hi_u[k] + lo_u[k]) / 2, (hi_v[k] + lo_v[k]) / 2
    centre = np.array([mu * math.cos(yaw) - mv * math.sin(yaw), mu * math.sin(yaw) + mv * math.cos(yaw)])
    if h > w:
        w, h, yaw = h, w, yaw + math.pi / 2
    period = math.pi / 2 if h > 0.8 * w else math.pi
    yaw = (yaw + period / 2) % period - period / 2
    return centre, yaw, float(w), float(h)


def measure(mask: np.ndarray, points: np.ndarray, heights: np.ndarray, rgb: np.ndarray, plane: TablePlane,
            config: PerceptionConfig = PerceptionConfig()) -> Detection | None:
    """The detection of the object at `mask` (H x W bool), or None if it is too small to be an object.
    `points` and `heights` are per pixel (H x W x 3, H x W), from the same frame as `rgb`."""
    valid = mask & np.isfinite(heights)
    if np.count_nonzero(valid) < config.min_pixels:
        return None
    h = heights[valid]
    top = float(np.percentile(h, 98))  # robust to a few noisy points above the top face
    if top < config.min_extent:
        return None
    support = _support(mask, heights, config)
    # The footprint: every point projected onto the plane (side faces lie on its outline, the top inside).
    e1, e2 = _plane_basis(plane)
    pts = points[valid]
    flat = np.column_stack([pts @ e1, pts @ e2])
    centre2, yaw, along, across = fit_rectangle(flat)
    if along < config.min_extent:
        return None
    # back into the base frame: the point of the plane at that (e1, e2), then up to the middle of the height
    on_plane = centre2[0] * e1 + centre2[1] * e2 - plane.offset * plane.normal
    position = on_plane + plane.normal * (top + support) / 2.0
    # Hollow (a tray): the middle of the footprint is low, or not above the table at all.
    inner = _inside_rect(flat, centre2, yaw, along, across, 0.5)
    hollow = bool(np.count_nonzero(inner) < 0.08 * len(flat) or np.median(h[inner]) < support + 0.5 * (top - support))
    top_face = valid & (heights > top - config.top_band)
    rows, cols = np.nonzero(mask)
    H, W = mask.shape
    truncated = bool(rows.min() == 0 or cols.min() == 0 or rows.max() == H - 1 or cols.max() == W - 1)
    return Detection(position=position, yaw=yaw, extents=np.array([along, across, top - support]), top=top,
                     support=support, colour=name_colour(rgb[top_face if top_face.any() else mask], config),
                     hollow=hollow, truncated=truncated, pixels=int(np.count_nonzero(mask)), mask=mask)


def _inside_rect(flat: np.ndarray, centre: np.ndarray, yaw: float, along: float, across: float,
                 scale: float) -> np.ndarray:
    d = flat - centre
    u = d[:, 0] * math.cos(yaw) + d[:, 1] * math.sin(yaw)
    v = -d[:, 0] * math.sin(yaw) + d[:, 1] * math.cos(yaw)
    return (np.abs(u) <= scale * along / 2) & (np.abs(v) <= scale * across / 2)


def _support(mask: np.ndarray, heights: np.ndarray, config: PerceptionConfig) -> float:
    """Height of what the object stands on: the table (0), or a tray's floor when the pixels around the
    object are clearly above the table. A low percentile of the ring: part of it may be a taller neighbour."""
    k = 2 * config.support_ring_px + 1
    ring = cv2.dilate(mask.astype(np.uint8), np.ones((k, k), np.uint8)).astype(bool) & ~mask
    h = heights[ring & np.isfinite(heights)]
    if len(h) == 0:
        return 0.0
    low = float(np.percentile(h, 20))
    return low if low > config.min_height else 0.0
