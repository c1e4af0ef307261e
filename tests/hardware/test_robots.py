"""Robot descriptions (hardware/robots.py): the fields a second arm needed, their defaults and their checks."""
from __future__ import annotations

import numpy as np
import pybullet as pb
import pytest

from hardware.robots import load_robot


def test_every_robot_loads_and_names_itself():
    for name in ("panda", "xarm6"):
        rc = load_robot(name)
        assert rc.name == name and len(rc.home) == len(rc.arm_joints)


def test_panda_defaults_are_prismatic_fingers_and_no_tcp_offset():
    rc = load_robot("panda")
    assert rc.tcp_offset == (0.0, 0.0, 0.0) and rc.finger_links == () and rc.gripper_width_map == ()
    assert rc.finger_targets(0.06) == [0.03, 0.03]  # each finger half the opening
    assert rc.width_of([0.02, 0.025]) == pytest.approx(0.045)
    position = np.array([0.4, 0.1, 0.3])
    assert rc.tcp_from_link(position, [0, 0, 0, 1]) is not position
    np.testing.assert_array_equal(rc.tcp_from_link(position, [1, 0, 0, 0]), position)
    np.testing.assert_array_equal(rc.link_from_tcp(position, [1, 0, 0, 0]), position)


def test_xarm_linkage_map_round_trips_and_covers_the_stroke():
    rc = load_robot("xarm6")
    assert rc.finger_links == ("left_finger", "right_finger")
    for width in np.linspace(0.0, rc.gripper_max_width, 12):
        q = rc.finger_targets(width)
        assert len(q) == 6 and len(set(q)) == 1  # all six joints at the drive's angle
        assert 0.0 <= q[0] <= 0.85  # inside the URDF's limits
        assert rc.width_of(q) == pytest.approx(width, abs=1e-9)
    assert rc.finger_targets(0.0)[0] > rc.finger_targets(0.05)[0]  # closing turns the drive up
    assert rc.finger_targets(1.0) == rc.finger_targets(0.0869)  # beyond the map: its widest opening
    # the map against the linkage's closed form (finger joint offsets from the URDF)
    a, b = 0.035465, 0.042039
    for q in np.linspace(0.0, 0.8, 9):
        assert rc.width_of([q] * 6) == pytest.approx(0.0869 - 2 * (a * (1 - np.cos(q)) + b * np.sin(q)), abs=3e-4)


def test_tcp_offset_turns_with_the_tool():
    rc = load_robot("xarm6")
    link = np.array([0.4, 0.0, 0.4])
    down = pb.getQuaternionFromEuler([np.pi, 0, 0.7])
    np.testing.assert_allclose(rc.tcp_from_link(link, down), link - [0, 0, 0.165], atol=1e-9)  # z points down
    side = pb.getQuaternionFromEuler([0, np.pi / 2, 0])  # z along +x
    np.testing.assert_allclose(rc.tcp_from_link(link, side), link + [0.165, 0, 0], atol=1e-9)
    tcp = np.array([0.5, -0.2, 0.1])
    np.testing.assert_allclose(rc.tcp_from_link(rc.link_from_tcp(tcp, side), side), tcp, atol=1e-12)
    np.testing.assert_allclose(rc.link_from_tcp(tcp, 2 * np.asarray(down)), rc.link_from_tcp(tcp, down), atol=1e-12)


BASE = """name: test
urdf: xarm/xarm6_with_gripper.urdf
arm_joints: [joint1, joint2, joint3, joint4, joint5, joint6]
finger_joints: [drive_joint]
tcp_link: link6
home: [0, 0, 0, 0, 0, 0]
gripper_max_width: 0.08
"""


@pytest.mark.parametrize("extra, message", [
    ("tcp_offset: [0.0, 0.1]\n", "tcp_offset"),
    ("tcp_offset: [0.0, x, 0.1]\n", "tcp_offset"),
    ("tcp_offset: [0.0, .nan, 0.1]\n", "tcp_offset"),
    ("gripper_width_map: [[0.0, 0.08]]\n", "at least two"),
    ("gripper_width_map: [[0.0, 0.08], [0.4, 0.05], [0.8, 0.06]]\n", "monotonic"),
    ("gripper_width_map: [[0.0, 0.07], [0.8, 0.0]]\n", "gripper_max_width"),
])
def test_malformed_descriptions_are_refused_naming_the_file(tmp_path, extra, message):
    path = tmp_path / "bad.yaml"
    path.write_text(BASE + extra)
    with pytest.raises(ValueError) as err:
        load_robot(path)
    assert message in str(err.value) and str(path) in str(err.value)
