"""The table plane, fitted to the depth points (RANSAC, then least squares on its inliers), so perception
measures heights above the table it sees rather than assuming the table top is z = 0."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hardware.perception.config import PerceptionConfig


class NoTableError(RuntimeError):
    """No plane in the depth image looks like a table (too few points, or none level enough)."""


@dataclass(frozen=True)
class TablePlane:
    """The plane n . p + d = 0 in the base frame, n a unit normal pointing up (towards the camera's side)."""

    normal: np.ndarray
    offset: float
    #: robust spread (1.4826 MAD) of the inliers' distances: the depth noise on the table, in metres
    sigma: float
    inliers: int

    def height(self, points: np.ndarray) -> np.ndarray:
        """Signed height of base-frame points (... x 3) above the plane."""
        return np.asarray(points) @ self.normal + self.offset

    @property
    def z_at_origin(self) -> float:
        """The plane's height on the base frame's z axis (the table top's z under the robot)."""
        return float(-self.offset / self.normal[2])

    @property
    def tilt_deg(self) -> float:
        return math.degrees(math.acos(min(1.0, abs(float(self.normal[2])))))


def _plane_through(p: np.ndarray) -> tuple[np.ndarray, float] | None:
    n = np.cross(p[1] - p[0], p[2] - p[0])
    norm = np.linalg.norm(n)
    if norm < 1e-9:
        return None
    n = n / norm
    if n[2] < 0:
        n = -n
    return n, float(-n @ p[0])


def fit_table_plane(points: np.ndarray, config: PerceptionConfig = PerceptionConfig(),
                    rng: np.random.Generator | None = None) -> TablePlane:
    """The dominant level plane among base-frame points (N x 3, finite)."""
    pts = np.asarray(points, float)
    if len(pts) < 50:
        raise NoTableError(f"only {len(pts)} depth points: no table in view")
    rng = rng if rng is not None else np.random.default_rng(0)
    min_nz = math.cos(math.radians(config.max_plane_tilt_deg))
    best: tuple[int, np.ndarray, float] | None = None
    for _ in range(config.ransac_iterations):
        plane = _plane_through(pts[rng.choice(len(pts), 3, replace=False)])
        if plane is None or plane[0][2] < min_nz:
            continue
        count = int(np.count_nonzero(np.abs(pts @ plane[0] + plane[1]) < config.ransac_inlier))
        if best is None or count > best[0]:
            best = (count, *plane)
    if best is None or best[0] < 50:
        raise NoTableError("no level plane in the depth points")
    inliers = pts[np.abs(pts @ best[1] + best[2]) < config.ransac_inlier]
    # Least squares on the inliers (SVD of the centred points: the normal is the least-spread direction).
    centre = inliers.mean(axis=0)
    n = np.linalg.svd(inliers - centre, full_matrices=False)[2][-1]
    n = n if n[2] > 0 else -n
    d = float(-n @ centre)
    dist = inliers @ n + d
    sigma = float(1.4826 * np.median(np.abs(dist - np.median(dist))))
    return TablePlane(normal=n, offset=d, sigma=sigma, inliers=len(inliers))
