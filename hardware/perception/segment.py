"""Segmentation of what stands on the table: pixels above the plane, cut at depth discontinuities (the far side
of a jump is not the near object) and split by colour (touching cubes of different colours), then grouped into
connected components in the image."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hardware.camera import RGBDFrame
from hardware.perception.colors import pixel_labels
from hardware.perception.config import PerceptionConfig
from hardware.perception.plane import TablePlane


def points_image(frame: RGBDFrame) -> np.ndarray:
    """Base-frame point of every pixel (H x W x 3; NaN where the depth has no reading)."""
    cam = frame.camera
    z = np.asarray(frame.depth, float)
    z = np.where(np.isfinite(z) & (z > 0), z, np.nan)
    v, u = np.mgrid[0:cam.height, 0:cam.width]
    p = np.stack([(u - cam.cx) * z / cam.fx, (v - cam.cy) * z / cam.fy, z], axis=-1)
    return p @ cam.base_from_camera[:3, :3].T + cam.base_from_camera[:3, 3]


def far_side_of_jumps(depth: np.ndarray, config: PerceptionConfig) -> np.ndarray:
    """Pixels with a 4-neighbour nearer to the camera by more than the jump threshold (H x W bool)."""
    d = np.where(np.isfinite(depth), depth, np.inf)  # no reading: never the near side of a jump
    far = np.zeros(d.shape, bool)
    threshold = config.depth_jump + 0.02 * np.where(np.isfinite(d), d, 0.0)
    for axis in (0, 1):
        for shift in (1, -1):
            nearer = np.roll(d, shift, axis=axis)
            with np.errstate(invalid="ignore"):  # inf - inf: neither pixel has a reading
                edge = (d - nearer) > threshold
            # np.roll wraps around: the first row/column has no neighbour on that side
            if axis == 0:
                edge[0 if shift == 1 else -1, :] = False
            else:
                edge[:, 0 if shift == 1 else -1] = False
            far |= edge
    return far


@dataclass(frozen=True)
class Segment:
    """One object candidate: its pixels and its colour label (colors.pixel_labels)."""

    mask: np.ndarray
    label: int


def segment(frame: RGBDFrame, heights: np.ndarray, plane: TablePlane,
            config: PerceptionConfig = PerceptionConfig()) -> list[Segment]:
    """Object candidates among the pixels above `plane` (`heights`: H x W, NaN without depth)."""
    margin = max(config.min_height, 3.0 * plane.sigma)
    with np.errstate(invalid="ignore"):
        above = (heights > margin) & (heights < config.max_height)
    above &= ~far_side_of_jumps(np.asarray(frame.depth, float), config)
    labels = pixel_labels(frame.rgb, config)
    segments = []
    for label in np.unique(labels[above]):
        part = (above & (labels == label)).astype(np.uint8)
        count, comp, stats, _ = cv2.connectedComponentsWithStats(part, connectivity=8)
        for i in range(1, count):
            if stats[i, cv2.CC_STAT_AREA] >= config.min_pixels:
                segments.append(Segment(mask=comp == i, label=int(label)))
    return segments
