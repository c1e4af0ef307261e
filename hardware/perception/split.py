"""Splitting a detection no description fits: objects of one colour that touch (a large and a small red cube
pushed together, the yellow cube beside the yellow lego) make one segment. The tallest box in it shows its whole
top face, the highest surface of the segment: where that face matches a described box's edge, the box is its
footprint (its side faces stand on the face's outline) and the rest of the segment is what it touches."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import cv2
import numpy as np

from hardware.perception.config import PerceptionConfig
from hardware.perception.measure import Detection, fit_rectangle, measure, plane_basis
from hardware.perception.plane import TablePlane
from hardware.perception.robot_filter import hidden_behind

#: points within this of the box's top face outline (metres) are its side faces: depth noise is a few mm
SIDE_MARGIN = 0.004


def split_merged(det: Detection, edges: Sequence[float], points: np.ndarray, heights: np.ndarray, rgb: np.ndarray,
                 depth: np.ndarray, plane: TablePlane, config: PerceptionConfig = PerceptionConfig(),
                 depth_left: int = 2) -> list[Detection] | None:
    """The parts of `det` (a box of one of `edges` and what is left, itself split again up to `depth_left`
    times), or None when its highest surface is no box's top face."""
    valid = det.mask & np.isfinite(heights)
    face = valid & (heights > det.top - config.top_band)
    count, comp, stats, _ = cv2.connectedComponentsWithStats(face.astype(np.uint8), connectivity=8)
    if count < 2:
        return None
    face = comp == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if np.count_nonzero(face) < config.min_pixels:
        return None
    e1, e2 = plane_basis(plane)
    centre, yaw, along, across = fit_rectangle(np.column_stack([points[face] @ e1, points[face] @ e2]))
    if not any(abs(along - e) <= config.edge_tolerance and abs(across - e) <= config.edge_tolerance for e in edges):
        return None  # not a box's top face
    # every point of the segment over the face's rectangle (grown by SIDE_MARGIN) is the box's
    rows, cols = np.nonzero(valid)
    d = np.column_stack([points[rows, cols] @ e1, points[rows, cols] @ e2]) - centre
    u = d[:, 0] * math.cos(yaw) + d[:, 1] * math.sin(yaw)
    v = -d[:, 0] * math.sin(yaw) + d[:, 1] * math.cos(yaw)
    over = np.zeros(det.mask.shape, bool)
    over[rows, cols] = (np.abs(u) <= along / 2 + SIDE_MARGIN) & (np.abs(v) <= across / 2 + SIDE_MARGIN)
    box = measure(det.mask & over, points, heights, rgb, plane, config, depth)
    if box is None:
        return None
    parts = [box]
    rest = (valid & ~over).astype(np.uint8)
    count, comp, stats, _ = cv2.connectedComponentsWithStats(rest, connectivity=8)
    for i in range(1, count):
        if stats[i, cv2.CC_STAT_AREA] < config.min_pixels:
            continue
        part = measure(comp == i, points, heights, rgb, plane, config, depth)
        if part is None:
            continue
        if hidden_behind(part.mask, box.mask, depth):  # a small cube behind the large one: a part of it
            part = replace(part, occluded=True)
        again = split_merged(part, edges, points, heights, rgb, depth, plane, config, depth_left - 1) \
            if depth_left > 0 else None
        parts += again or [part]
    return parts  # the rest may be too little to measure: a cube mostly hidden behind the box
