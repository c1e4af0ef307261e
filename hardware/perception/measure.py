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
    #: the robot's body is in front of part of it, or an object stands on it: its footprint may be a part's
    occluded: bool = False
    #: the side of the smallest square around the footprint at any yaw (enclosing_square): a part of a box fits
    #: in the box's square
    square: float = math.nan
    #: an articulated object's opening, 0 (closed) .. 1 (at its joint's limit): drawer.see_drawer
    opening: float | None = None
    #: the centre and half sizes of the points' axis-aligned box (base frame; z as `position`'s): the state of
    #: an object that is no box (a mug and its handle), whose footprint's rectangle is not centred on it
    aligned: tuple[np.ndarray, np.ndarray] | None = None

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


def plane_basis(plane: TablePlane) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors in the plane, as close to the base frame's x and y as the plane allows."""
    e1 = np.array([1.0, 0.0, 0.0]) - plane.normal[0] * plane.normal
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(plane.normal, e1)


#: trimmed ranges (percentiles) of the footprint, so that a few noisy points do not widen or turn it
_TRIM = 1.0
_ANGLES = np.radians(np.arange(0.0, 90.0, 1.0))


#: the trimmed range of evenly spread points, back to the full side
_SCALE = 1.0 / (1.0 - 2 * _TRIM / 100)


def _trimmed_ranges(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per angle in _ANGLES, the trimmed low and high of the 2-D points (N x 2) along it and across it."""
    c, s = np.cos(_ANGLES)[:, None], np.sin(_ANGLES)[:, None]
    u, v = c * flat[:, 0] + s * flat[:, 1], -s * flat[:, 0] + c * flat[:, 1]  # (angles x N)
    lo_u, hi_u = np.percentile(u, [_TRIM, 100 - _TRIM], axis=1)
    lo_v, hi_v = np.percentile(v, [_TRIM, 100 - _TRIM], axis=1)
    return lo_u, hi_u, lo_v, hi_v


def enclosing_square(flat: np.ndarray) -> float:
    """The side of the smallest square, at any yaw, around the trimmed 2-D points (N x 2): a part of a box
    seen around what hides the rest (two corners of a cube's top face beside a cube on it) fits in the box's
    square, though its smallest rectangle may be longer than the box's side (along the diagonal)."""
    return _square(_trimmed_ranges(flat))


def _square(ranges: tuple[np.ndarray, ...]) -> float:
    lo_u, hi_u, lo_v, hi_v = ranges
    return float(np.min(np.maximum(hi_u - lo_u, hi_v - lo_v)) * _SCALE)


def fit_rectangle(flat: np.ndarray) -> tuple[np.ndarray, float, float, float]:
    """The smallest rectangle around 2-D points (N x 2) after trimming `_TRIM` % at each side, over yaw in 1
    degree steps (cv2.minAreaRect on the raw points is turned by single outliers of a noisy depth image).
    Returns (centre, yaw, along, across): `along` the longer side, yaw its direction, in (-pi/4, pi/4] for a
    near-square footprint (a cube's symmetry) and (-pi/2, pi/2] otherwise."""
    return _rectangle(_trimmed_ranges(flat))


def _rectangle(ranges: tuple[np.ndarray, ...]) -> tuple[np.ndarray, float, float, float]:
    lo_u, hi_u, lo_v, hi_v = ranges
    k = int(np.argmin((hi_u - lo_u) * (hi_v - lo_v)))
    w, h, yaw = (hi_u[k] - lo_u[k]) * _SCALE, (hi_v[k] - lo_v[k]) * _SCALE, float(_ANGLES[k])
    mu, mv = (hi_u[k] + lo_u[k]) / 2, (hi_v[k] + lo_v[k]) / 2
    centre = np.array([mu * math.cos(yaw) - mv * math.sin(yaw), mu * math.sin(yaw) + mv * math.cos(yaw)])
    if h > w:
        w, h, yaw = h, w, yaw + math.pi / 2
    period = math.pi / 2 if h > 0.8 * w else math.pi
    yaw = (yaw + period / 2) % period - period / 2
    return centre, yaw, float(w), float(h)


def measure(mask: np.ndarray, points: np.ndarray, heights: np.ndarray, rgb: np.ndarray, plane: TablePlane,
            config: PerceptionConfig = PerceptionConfig(), depth: np.ndarray | None = None) -> Detection | None:
    """The detection of the object at `mask` (H x W bool), or None if it is too small to be an object.
    `points` and `heights` are per pixel (H x W x 3, H x W), from the same frame as `rgb` and `depth` (without
    a depth image, an object is taken to stand on what is around it: see _support)."""
    valid = mask & np.isfinite(heights)
    if np.count_nonzero(valid) < config.min_pixels:
        return None
    h = heights[valid]
    top = float(np.percentile(h, 98))  # robust to a few noisy points above the top face
    if top < config.min_extent:
        return None
    support = _support(mask, heights, depth, config)
    # The footprint: every point projected onto the plane (side faces lie on its outline, the top inside).
    e1, e2 = plane_basis(plane)
    pts = points[valid]
    flat = np.column_stack([pts @ e1, pts @ e2])
    ranges = _trimmed_ranges(flat)
    centre2, yaw, along, across = _rectangle(ranges)
    if along < config.min_extent:
        return None
    # back into the base frame: the point of the plane at that (e1, e2), then up to the middle of the height
    on_plane = centre2[0] * e1 + centre2[1] * e2 - plane.offset * plane.normal
    position = on_plane + plane.normal * (top + support) / 2.0
    lo_u, hi_u, lo_v, hi_v = (r[0] for r in ranges)  # angle 0: along e1 and e2, the base frame's x and y
    aligned_centre = ((lo_u + hi_u) * e1 + (lo_v + hi_v) * e2) / 2 - plane.offset * plane.normal + \
        plane.normal * (top + support) / 2.0
    aligned = (aligned_centre, np.array([(hi_u - lo_u) * _SCALE, (hi_v - lo_v) * _SCALE, top - support]) / 2)
    # Hollow (a tray): the middle of the footprint is low, or not above the table at all.
    inner = _inside_rect(flat, centre2, yaw, along, across, 0.5)
    hollow = bool(np.count_nonzero(inner) < 0.08 * len(flat) or np.median(h[inner]) < support + 0.5 * (top - support))
    top_face = valid & (heights > top - config.top_band)
    rows, cols = np.nonzero(mask)
    H, W = mask.shape
    truncated = bool(rows.min() == 0 or cols.min() == 0 or rows.max() == H - 1 or cols.max() == W - 1)
    return Detection(position=position, yaw=yaw, extents=np.array([along, across, top - support]), top=top,
                     support=support, colour=name_colour(rgb[top_face if top_face.any() else mask], config),
                     hollow=hollow, truncated=truncated, pixels=int(np.count_nonzero(mask)), mask=mask,
                     square=_square(ranges), aligned=aligned)


def _inside_rect(flat: np.ndarray, centre: np.ndarray, yaw: float, along: float, across: float,
                 scale: float) -> np.ndarray:
    d = flat - centre
    u = d[:, 0] * math.cos(yaw) + d[:, 1] * math.sin(yaw)
    v = -d[:, 0] * math.sin(yaw) + d[:, 1] * math.cos(yaw)
    return (np.abs(u) <= scale * along / 2) & (np.abs(v) <= scale * across / 2)


def _support(mask: np.ndarray, heights: np.ndarray, depth: np.ndarray | None, config: PerceptionConfig) -> float:
    """Height of what the object stands on.

    Its own lowest edge, when that is clearly above the table (a cube on a cube, a cube in the hand), below a
    side face in view, and not hidden: what borders the edge in the image is not nearer the camera (an object
    in front of a cube's bottom would make it look as if it floated). Else the ring around it: the table (0),
    or a tray's floor when the pixels around the object are clearly above the table; a low percentile of the
    ring, as part of it may be a taller neighbour."""
    valid = mask & np.isfinite(heights)
    low, high = (float(v) for v in np.percentile(heights[valid], [3, 98]))
    # clearly above: a rounded bottom (a mug's) or the pixels cut at the table leave the lowest points on the
    # table a centimetre or so up; and a side face must show (a top face alone, the rest hidden behind a
    # neighbour, says nothing of the bottom)
    if depth is not None and low > 2 * config.min_extent and high - low > config.min_extent:
        edge = valid & (heights < low + config.top_band)
        if not _in_front_of(edge, mask, heights, depth, config):
            return low
    k = 2 * config.support_ring_px + 1
    ring = cv2.dilate(mask.astype(np.uint8), np.ones((k, k), np.uint8)).astype(bool) & ~mask
    h = heights[ring & np.isfinite(heights)]
    if len(h) == 0:
        return 0.0
    low = float(np.percentile(h, 20))
    return low if low > config.min_height else 0.0


#: a neighbour nearer the camera than an object's edge by this much (metres) is in front of it, not beside it
IN_FRONT = 0.01


def _in_front_of(edge: np.ndarray, mask: np.ndarray, heights: np.ndarray, depth: np.ndarray,
                 config: PerceptionConfig) -> bool:
    """Whether something stands in front of the object's pixels at `edge`: a tenth or more of their
    neighbours outside the object (with a reading, not the robot's) are nearer the camera than the edge's
    nearest pixel by IN_FRONT or more (what borders an edge in the air or on a support is behind it: the
    background, the support's side)."""
    k = np.ones((2 * config.support_ring_px + 1,) * 2, np.uint8)
    ring = cv2.dilate(edge.astype(np.uint8), k).astype(bool) & ~mask & np.isfinite(heights)
    if not ring.any():
        return False
    d = np.asarray(depth, np.float32)
    nearest = cv2.erode(np.where(edge & np.isfinite(d), d, np.inf).astype(np.float32), k)  # a min filter
    return bool(np.mean(d[ring] < nearest[ring] - IN_FRONT) >= 0.1)
