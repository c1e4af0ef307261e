"""The pinhole RGB-D camera model and the simulator's RGB-D frames, checked against PyBullet's own geometry."""
from __future__ import annotations

import numpy as np
import pytest

from hardware.camera import CameraModel, DepthNoise, RGBDFrame
from hardware.pybullet import PyBulletArm, PyBulletConfig


def test_project_and_deproject_are_inverse_and_the_optical_frame_is_x_right_y_down_z_forward():
    camera = CameraModel.looking_at(640, 480, 60.0, eye=(1.0, 0.0, 0.5), target=(0.4, 0.0, 0.0))
    points = np.array([[0.4, 0.0, 0.0], [0.5, 0.1, 0.02], [0.3, -0.2, 0.05]])
    u, v, z = camera.project(points).T
    assert u[0] == pytest.approx(camera.cx) and v[0] == pytest.approx(camera.cy)  # the target: image centre
    assert u[1] > camera.cx  # +y (the robot's left) is on the image's right: the camera faces the robot
    depth = np.full((480, 640), np.nan)
    for ui, vi, zi, p in zip(np.round(u).astype(int), np.round(v).astype(int), z, points):
        depth[vi, ui] = zi
    back = camera.deproject(depth)
    assert len(back) == 3
    assert np.max(np.linalg.norm(back[:, None] - points[None], axis=2).min(axis=1)) < 0.003  # to half a pixel
    np.testing.assert_allclose(camera.K, [[camera.fx, 0, camera.cx], [0, camera.fy, camera.cy], [0, 0, 1]])


@pytest.mark.parametrize("bad", [dict(width=0), dict(fx=-1.0), dict(base_from_camera=np.full((4, 4), np.nan)),
                                 dict(base_from_camera=np.diag([2.0, 1.0, 1.0, 1.0]))])
def test_a_camera_model_that_makes_no_sense_is_refused(bad):
    args = dict(width=64, height=48, fx=50.0, fy=50.0, cx=32.0, cy=24.0) | bad
    with pytest.raises(ValueError):
        CameraModel(**args)


def test_depth_noise_is_seeded_grows_with_depth_and_drops_pixels():
    depth = np.full((100, 100), 1.0, np.float32)
    depth[:, 50:] = 2.0
    noise = DepthNoise(sigma_at_1m=0.004, dropout=0.05, seed=3)
    a, b = noise.apply(depth, 0), noise.apply(depth, 0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, noise.apply(depth, 1))  # another frame, other noise
    assert 0.03 < np.isnan(a).mean() < 0.07
    near, far = np.nanstd(a[:, :50] - 1.0), np.nanstd(a[:, 50:] - 2.0)
    assert near == pytest.approx(0.004, rel=0.2) and far == pytest.approx(0.016, rel=0.2)


def test_the_simulated_camera_sees_the_scene_where_pybullet_has_it():
    """Each object's centre projects into its own mask, and the depth of its top face lands within 3 mm of its
    top; the table around it is at height 0."""
    with PyBulletArm(PyBulletConfig(seed=1)) as arm:
        frame = arm.rgbd()
        masks = arm.segmentation()
        objects = arm.objects()
    camera = frame.camera
    assert isinstance(frame, RGBDFrame) and frame.depth.dtype == np.float32
    assert (camera.width, camera.height) == (320, 240)
    for name in ("red_cube", "green_cube", "blue_cube", "yellow_cube", "small_red_cube", "small_blue_cube"):
        obj, mask = objects[name], masks[name]
        u, v, _ = camera.project(obj.position)[0]
        assert mask[int(round(v)), int(round(u))], name
        top = camera.deproject(frame.depth, mask)[:, 2].max()
        assert top == pytest.approx(obj.top_z, abs=0.003), name
    table = np.ones_like(masks["tray"])
    for mask in masks.values():
        table &= ~mask
    heights = camera.deproject(frame.depth, table)[:, 2]
    assert np.median(np.abs(heights[np.abs(heights) < 0.05])) < 0.002  # the tabletop (the robot is higher)


def test_a_frame_must_match_its_camera():
    camera = CameraModel(4, 3, 2.0, 2.0, 1.5, 1.0)
    with pytest.raises(ValueError, match="camera is 3x4"):
        RGBDFrame(np.zeros((3, 4, 3), np.uint8), np.zeros((4, 3), np.float32), camera)
