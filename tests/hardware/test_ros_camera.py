"""The simulated RGB-D camera over ROS as a RealSense-like driver publishes it: colour (rgb8), registered depth
(16UC1, millimetres) and CameraInfo, in one frame; the depth where a cube is seen agrees with the objects topic."""
from __future__ import annotations

import numpy as np
import pytest
from ros_helpers import hardware_node, requires_ros, wait_for

pytestmark = [requires_ros, pytest.mark.slow, pytest.mark.serial]
NS = "/camera_robot"


def test_colour_depth_and_camera_info_describe_the_same_frame(tmp_path):
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image
    from skill_stack_interfaces.msg import ObjectStates

    from hardware.camera import CameraModel
    from hardware.ros import messages
    from hardware.scene import load_scene

    with hardware_node(tmp_path, NS, ["camera_rate:=5.0", "seed:=2"]) as (spinner, _):
        node, seen = spinner.node, {"rgb": [], "depth": [], "info": [], "objects": []}
        for key, kind, topic in (("rgb", Image, "camera/image_raw"), ("depth", Image, "camera/depth/image_raw"),
                                 ("info", CameraInfo, "camera/camera_info"), ("objects", ObjectStates, "objects")):
            node.create_subscription(kind, f"{NS}/{topic}", seen[key].append, qos_profile_sensor_data)
        def frames() -> list[tuple[int, int]]:
            """Stamps that colour, depth and camera info all came with (the three messages of one frame arrive
            one after another: the latest of each may be from two frames)."""
            stamps = [{(m.header.stamp.sec, m.header.stamp.nanosec) for m in seen[k]} for k in ("rgb", "depth", "info")]
            return sorted(set.intersection(*stamps))

        wait_for(lambda: len(frames()) >= 2 and len(seen["objects"]) >= 2, 60, "camera frames and object states")
        stamp = frames()[-1]
        rgb, depth, info = (next(m for m in seen[k] if (m.header.stamp.sec, m.header.stamp.nanosec) == stamp)
                            for k in ("rgb", "depth", "info"))
        objects = seen["objects"][-1]
    assert (rgb.encoding, depth.encoding) == ("rgb8", "16UC1")
    assert rgb.header.frame_id == depth.header.frame_id == info.header.frame_id == "camera_optical_frame"
    scene = load_scene("default")  # the extrinsic, as a calibration would give it
    truth = CameraModel.looking_at(info.width, info.height, scene.camera_fov, scene.camera_eye, scene.camera_target)
    camera = messages.camera_model_from_info(info, truth.base_from_camera)
    np.testing.assert_allclose(camera.K, truth.K)
    metres = messages.depth_from_image(depth)
    assert metres.shape == (info.height, info.width) == messages.rgb_from_image(rgb).shape[:2]
    for cube in (o for o in objects.objects if o.name.endswith("cube")):
        top = np.array([cube.pose.position.x, cube.pose.position.y, cube.pose.position.z + cube.half_extents.z])
        u, v, z = camera.project(top)[0]
        assert metres[int(round(v)), int(round(u))] == pytest.approx(z, abs=0.01), cube.name


def test_the_perception_node_sees_what_the_simulator_has(tmp_path):
    """The hardware node's camera topics into the perception node: the perceived objects, named after the
    scene's descriptions, stand where the simulator's truth has them."""
    from rclpy.qos import qos_profile_sensor_data
    from skill_stack_interfaces.msg import ObjectStates

    with hardware_node(tmp_path, NS, ["camera_rate:=5.0", "seed:=3"],
                       also=[("hardware.perception.node", [])]) as (spinner, _):
        seen: dict[str, list] = {"truth": [], "perceived": []}
        spinner.node.create_subscription(ObjectStates, f"{NS}/objects", seen["truth"].append, qos_profile_sensor_data)
        spinner.node.create_subscription(ObjectStates, f"{NS}/perceived_objects", seen["perceived"].append,
                                         qos_profile_sensor_data)
        wait_for(lambda: len(seen["perceived"]) >= 2 and seen["truth"], 90, "perceived objects")
        truth = {o.name: o for o in seen["truth"][-1].objects}
        perceived = {o.name: o for o in seen["perceived"][-1].objects}
    cubes = {n for n in truth if n.endswith("cube")}
    assert cubes <= set(perceived) <= set(truth)  # every cube named, nothing that is not there
    for name in cubes:
        a, b = truth[name].pose.position, perceived[name].pose.position
        assert np.linalg.norm([a.x - b.x, a.y - b.y, a.z - b.z]) < 0.01, name


def test_depth_images_round_trip_in_both_encodings_and_an_unknown_one_is_refused():
    from hardware.ros import messages

    depth = np.array([[0.5, np.nan], [1.2345, 70.0]], dtype=np.float32)  # 70 m: beyond 16 bits of millimetres
    metres = messages.depth_from_image(messages.image_from_depth(depth, "cam", "32FC1"))
    np.testing.assert_array_equal(metres, depth)
    millimetres = messages.image_from_depth(depth, "cam", "16UC1")
    assert millimetres.step == 4 and len(millimetres.data) == 8
    back = messages.depth_from_image(millimetres)
    assert back[0, 0] == pytest.approx(0.5) and back[1, 0] == pytest.approx(1.234, abs=6e-4)
    assert np.isnan(back[0, 1]) and np.isnan(back[1, 1])  # no reading stays no reading
    with pytest.raises(ValueError, match="16UC1"):
        messages.image_from_depth(depth, "cam", "mono8")


def test_the_perception_node_poses_the_arm_as_it_was_when_the_frame_was_taken():
    """Frames lag the joint states: the arm is left out of a frame where it was then, not where it is now."""
    from types import SimpleNamespace

    from sensor_msgs.msg import JointState

    from hardware.perception.node import TopicCamera
    from hardware.robots import load_robot

    robot = load_robot("panda")
    camera = TopicCamera(robot)
    for i in range(10):  # 20 Hz, the first joint moving 0.1 rad a step
        msg = JointState(name=[*robot.arm_joints, *robot.finger_joints],
                         position=[0.1 * i, *[0.0] * (len(robot.arm_joints) - 1), 0.02, 0.02])
        msg.header.stamp.sec, msg.header.stamp.nanosec = 100, i * 50_000_000
        camera.joint_state(msg)
    camera.show(SimpleNamespace(stamp=100.2))  # taken at the fifth joint state
    positions, width = camera.arm_at_frame()
    assert positions[0] == pytest.approx(0.4) and width == pytest.approx(robot.width_of([0.02, 0.02]))
    camera.show(SimpleNamespace(stamp=107.0))  # none near it: the newest
    assert camera.arm_at_frame()[0][0] == pytest.approx(0.9)
