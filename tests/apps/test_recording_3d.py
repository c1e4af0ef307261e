"""What Foxglove's 3D panel reads from an in-process recording (/tf, /tf_static, /markers), read back with mcap's
reader and mcap_ros2's decoder and checked against the simulator: the frame tree, its stamps against the joint
states, a link's transform against PyBullet's forward kinematics, the objects' frames and boxes."""
from __future__ import annotations

import numpy as np
import pybullet as pb
import pytest
from mcap_reading import read_all

from hardware.pybullet import PyBulletArm, PyBulletConfig
from hardware.scene import COLORS_RGBA
from skill_stack_apps.recording.session import RunRecording

STEPS = 24
CAMERA_EVERY = 4


def _rotation(x: float, y: float, z: float, w: float) -> np.ndarray:
    """The rotation matrix of a unit quaternion (written out here, not the code's)."""
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def _matrix(transform) -> np.ndarray:
    """4x4 of a decoded geometry_msgs/Transform."""
    t, q = transform.translation, transform.rotation
    matrix = np.eye(4)
    matrix[:3, :3], matrix[:3, 3] = _rotation(q.x, q.y, q.z, q.w), [t.x, t.y, t.z]
    return matrix


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """The Panda moving its hand and closing its fingers for STEPS control steps, recorded; then the simulator's
    own link frames and camera pose at the end, and the file read back."""
    path = tmp_path_factory.mktemp("rec3d") / "run.mcap"
    with PyBulletArm(PyBulletConfig(seed=1)) as arm:
        recording = RunRecording(path, arm, arm, metadata={"source": "test"}, camera_every=CAMERA_EVERY)
        start = arm.ee_pose().position
        for step in range(STEPS):
            recording.arm.command_ee(start + np.array([0.0, 0.004 * step, -0.003 * step]), arm.tool_down(0.3))
            recording.arm.command_gripper(0.02)
            recording.arm.step()
        robot, client = arm.body_id("robot"), arm.physics_client
        links = {}
        for j in range(pb.getNumJoints(robot, physicsClientId=client)):
            name = pb.getJointInfo(robot, j, physicsClientId=client)[12].decode()
            state = pb.getLinkState(robot, j, computeForwardKinematics=True, physicsClientId=client)
            links[name] = (np.array(state[4]), np.array(state[5]))
        camera = arm.camera_model().base_from_camera
        objects = arm.objects()
        recording.close()
    types, messages, _ = read_all(path)
    return {"types": types, "messages": messages, "links": links, "camera": camera, "objects": objects}


def _tree(recorded) -> dict[str, tuple[str, np.ndarray]]:
    """child -> (parent, parent <- child) from the last message of /tf_static and every /tf message."""
    tree: dict[str, tuple[str, np.ndarray]] = {}
    for topic in ("/tf_static", "/tf"):
        for _, _, msg in recorded["messages"][topic]:
            for t in msg.transforms:
                assert tree.get(t.child_frame_id, (t.header.frame_id,))[0] == t.header.frame_id, \
                    f"{t.child_frame_id} has one parent"
                tree[t.child_frame_id] = (t.header.frame_id, _matrix(t.transform))
    return tree


def _in_base(tree, frame: str) -> np.ndarray:
    pose, seen = np.eye(4), set()
    while frame != "base_link":
        assert frame not in seen and frame in tree, f"{frame} hangs from base_link without a cycle"
        seen.add(frame)
        parent, matrix = tree[frame]
        pose, frame = matrix @ pose, parent
    return pose


def test_the_3d_topics_have_the_standard_ros_types(recorded):
    assert recorded["types"]["/tf"] == "tf2_msgs/msg/TFMessage"
    assert recorded["types"]["/tf_static"] == "tf2_msgs/msg/TFMessage"
    assert recorded["types"]["/markers"] == "visualization_msgs/msg/MarkerArray"


def test_every_link_and_object_frame_hangs_from_base_link(recorded):
    tree = _tree(recorded)
    for frame in [*recorded["links"], *recorded["objects"], "camera_color_optical_frame"]:
        _in_base(tree, frame)


def test_the_arm_moves_on_tf_once_per_joint_state_with_its_stamp(recorded):
    links = set(recorded["links"])
    arm = [(log, msg) for log, _, msg in recorded["messages"]["/tf"] if msg.transforms[0].child_frame_id in links]
    states = recorded["messages"]["/joint_states"]
    assert len(arm) == len(states) == STEPS + 1
    times = [log for log, _ in arm]
    assert times == sorted(times) and len(set(times)) == len(times)
    for (log, msg), (state_log, _, state) in zip(arm, states):
        assert log == state_log
        state_ns = state.header.stamp.sec * 1_000_000_000 + state.header.stamp.nanosec
        assert {t.header.stamp.sec * 1_000_000_000 + t.header.stamp.nanosec for t in msg.transforms} == {state_ns}
        assert len(msg.transforms) == len(state.name), "one transform per moving joint with a position"


def test_a_links_transform_is_the_simulators_forward_kinematics(recorded):
    tree = _tree(recorded)  # the last /tf: the arm as it is at the end
    for link in ("panda_link4", "panda_hand", "panda_leftfinger", "panda_grasptarget"):
        position, orientation = recorded["links"][link]
        pose = _in_base(tree, link)
        assert pose[:3, 3] == pytest.approx(position, abs=1e-5), link
        assert pose[:3, :3] == pytest.approx(_rotation(*orientation), abs=1e-5), link


def test_the_camera_frame_is_the_cameras_pose(recorded):
    pose = _in_base(_tree(recorded), "camera_color_optical_frame")
    assert pose == pytest.approx(recorded["camera"], abs=1e-9)
    assert recorded["messages"]["/camera/image_raw"][0][2].header.frame_id == "camera_color_optical_frame"


def test_objects_have_frames_at_their_states_and_boxes_in_their_colours(recorded):
    tree = _tree(recorded)
    last_objects = {o.name: o for o in recorded["messages"]["/objects"][-1][2].objects}
    for name, obj in last_objects.items():
        p = obj.pose.position
        assert _in_base(tree, name)[:3, 3] == pytest.approx([p.x, p.y, p.z], abs=1e-9), name
    markers = recorded["messages"]["/markers"]
    assert len(markers) == len(recorded["messages"]["/objects"])
    last = markers[-1][2].markers
    assert last[0].action == 3, "DELETEALL first: objects gone from the scene disappear"
    boxes = {m.id: m for m in last if m.ns == "objects"}
    names = {m.id: m.text for m in last if m.ns == "object_names"}
    assert set(names.values()) == set(recorded["objects"])
    for index, name in names.items():
        box, obj = boxes[index], recorded["objects"][name]
        assert box.type == 1 and box.header.frame_id == "base_link"
        assert [box.scale.x, box.scale.y, box.scale.z] == pytest.approx(2 * obj.half_extents, abs=1e-6), name
        rgba = COLORS_RGBA[obj.color]
        assert [box.color.r, box.color.g, box.color.b] == pytest.approx(rgba[:3], abs=1e-6), name
        assert box.color.a < 1.0 if obj.is_container else box.color.a == 1.0


def test_the_arm_is_drawn_as_lines_that_follow_its_link_frames(recorded):
    lines = [m for m in recorded["messages"]["/markers"][-1][2].markers if m.ns == "arm"]
    assert lines and all(m.type == 5 and m.frame_locked for m in lines)
    assert {m.header.frame_id for m in lines} <= set(recorded["links"]) | {"panda_link0"}
    assert sum(len(m.points) for m in lines) // 2 >= 8, "a segment per link along the arm"
