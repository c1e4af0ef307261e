"""A pinhole RGB-D camera: intrinsics, its pose in the robot base frame, frames of colour and depth, and an
optional depth noise model. The simulator renders frames with it (PyBulletArm.rgbd); a real camera's driver
gives the same numbers (sensor_msgs/CameraInfo K and the extrinsic from calibration), so perception cannot
tell them apart.

Frames: the camera's optical frame is x right, y down, z forward (ROS REP 103 optical convention);
`base_from_camera` maps points from it to the robot base frame (x forward, y left, z up).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CameraModel:
    """Pinhole intrinsics (pixels) and the camera's pose in the base frame (4x4, base <- optical)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    base_from_camera: np.ndarray = field(default_factory=lambda: np.eye(4))
    #: depth the camera measures between these (metres); outside: no reading (NaN)
    near: float = 0.05
    far: float = 4.0

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0 or self.fx <= 0 or self.fy <= 0:
            raise ValueError(f"camera size and focal lengths must be positive: {self.width}x{self.height}, "
                             f"fx {self.fx}, fy {self.fy}")
        pose = np.asarray(self.base_from_camera, float)
        if pose.shape != (4, 4) or not np.all(np.isfinite(pose)) or \
                not np.allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-6):
            raise ValueError("base_from_camera must be a finite 4x4 rigid transform")
        object.__setattr__(self, "base_from_camera", pose)

    @classmethod
    def looking_at(cls, width: int, height: int, vertical_fov_deg: float, eye, target, up=(0.0, 0.0, 1.0),
                   **kwargs) -> CameraModel:
        """A camera at `eye` looking at `target` (base frame), square pixels, the given vertical field of view."""
        eye, target, up = (np.asarray(v, float) for v in (eye, target, up))
        forward = target - eye
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, up)
        if np.linalg.norm(right) < 1e-9:
            raise ValueError("the camera's up vector is parallel to where it looks")
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        pose = np.eye(4)
        pose[:3, :3] = np.column_stack([right, down, forward])
        pose[:3, 3] = eye
        f = height / (2.0 * math.tan(math.radians(vertical_fov_deg) / 2.0))
        return cls(width, height, f, f, (width - 1) / 2.0, (height - 1) / 2.0, pose, **kwargs)

    @property
    def K(self) -> np.ndarray:
        """The 3x3 intrinsic matrix (CameraInfo.k)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def project(self, points_base: np.ndarray) -> np.ndarray:
        """Base-frame points (N x 3) -> pixel coordinates (N x 2, u right, v down) and depth (N,), as (u, v, z)."""
        pts = np.atleast_2d(np.asarray(points_base, float))
        camera_from_base = np.linalg.inv(self.base_from_camera)
        p = pts @ camera_from_base[:3, :3].T + camera_from_base[:3, 3]
        z = p[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            u, v = self.fx * p[:, 0] / z + self.cx, self.fy * p[:, 1] / z + self.cy
        return np.column_stack([u, v, z])

    def deproject(self, depth: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Base-frame points (N x 3) of the pixels with a depth reading (and in `mask`), row-major order."""
        depth = np.asarray(depth, float)
        if depth.shape != (self.height, self.width):
            raise ValueError(f"depth is {depth.shape}, the camera is {self.height}x{self.width}")
        valid = np.isfinite(depth) & (depth > 0)
        if mask is not None:
            valid &= np.asarray(mask, bool)
        v, u = np.nonzero(valid)
        z = depth[v, u]
        p = np.column_stack([(u - self.cx) * z / self.fx, (v - self.cy) * z / self.fy, z])
        return p @ self.base_from_camera[:3, :3].T + self.base_from_camera[:3, 3]


@dataclass(frozen=True)
class DepthNoise:
    """A depth sensor's errors, for testing perception: Gaussian noise growing with depth squared (structured
    light and stereo behave so) and dropped pixels (no reading: NaN)."""

    sigma_at_1m: float = 0.002
    dropout: float = 0.01
    seed: int = 0

    def apply(self, depth: np.ndarray, frame_index: int = 0) -> np.ndarray:
        rng = np.random.default_rng([self.seed, frame_index])
        noisy = depth + rng.normal(0.0, 1.0, depth.shape) * self.sigma_at_1m * depth ** 2
        noisy[rng.random(depth.shape) < self.dropout] = np.nan
        return noisy.astype(np.float32)


@dataclass(frozen=True)
class RGBDFrame:
    """One colour image (H x W x 3 uint8) and its registered depth (H x W float32, metres along the optical
    axis; NaN: no reading), taken by `camera` at `stamp` (seconds)."""

    rgb: np.ndarray
    depth: np.ndarray
    camera: CameraModel
    stamp: float = 0.0

    def __post_init__(self) -> None:
        shape = (self.camera.height, self.camera.width)
        if self.rgb.shape != (*shape, 3) or self.depth.shape != shape:
            raise ValueError(f"frame is rgb {self.rgb.shape}, depth {self.depth.shape}; the camera is "
                             f"{shape[0]}x{shape[1]}")
