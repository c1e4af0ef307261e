"""What ArmInterface and WorldView declare as optional, with its defaults: a backend that leaves it out still
works, in Python and in the hardware node (which uses the members directly, without probing)."""
from __future__ import annotations

import dataclasses
import time

import pytest
from mock_arm import JOINTS, MockArm
from ros_helpers import domain_id, requires_ros


def test_a_backend_without_the_optional_members_gets_the_declared_defaults():
    arm = MockArm()
    assert arm.robot_config is None and arm.sim_time == 0.0
    assert arm.is_grasped("cube") is True  # the default: contact with the gripper
    arm.cube = dataclasses.replace(arm.cube, name="mug")  # the mock's gripper touches only "cube"
    assert arm.is_grasped("mug") is False


def test_the_pybullet_arm_overrides_them():
    from hardware.pybullet import PyBulletArm, PyBulletConfig

    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        assert arm.robot_config is not None and arm.robot_config.name == "panda"
        before = arm.sim_time
        arm.step()
        assert arm.sim_time - before == pytest.approx(arm.control_dt)
        assert type(arm).is_grasped is not MockArm.is_grasped  # both fingers, not any contact


@requires_ros
def test_the_hardware_node_runs_a_backend_without_them():
    """Joint names from joint_state(), no finger joints, sim_time 0.0, grasped from the gripper contact."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import JointState as JointStateMsg
    from skill_stack_interfaces.msg import HardwareStatus, ObjectStates

    from hardware.node import HardwareNode
    from hardware.ros.common import STATUS_QOS

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id())
    executor = SingleThreadedExecutor(context=context)
    node = listener = None
    try:
        node = HardwareNode(context=context, namespace="/mock_robot", parameter_overrides=[
            Parameter("backend", value="mock_arm:make_mock_arm"), Parameter("camera_rate", value=0.0)])
        # real-time scheduling is for the node's own process (spin_node): building one here must not make this
        # test process, and every process it starts later, real-time
        from hardware.realtime import is_realtime
        assert not is_realtime()
        listener = rclpy.create_node("listener", context=context)
        joints, objects, status = [], [], []
        listener.create_subscription(JointStateMsg, "/mock_robot/joint_states", joints.append, qos_profile_sensor_data)
        listener.create_subscription(ObjectStates, "/mock_robot/objects", objects.append, qos_profile_sensor_data)
        listener.create_subscription(HardwareStatus, "/mock_robot/hardware/status", status.append, STATUS_QOS)
        executor.add_node(node)
        executor.add_node(listener)
        deadline = time.monotonic() + 10
        while not (joints and objects and any(s.lifecycle_state == "active" for s in status)):
            assert time.monotonic() < deadline, f"{len(joints)} joint states, {len(objects)} objects, {status}"
            executor.spin_once(timeout_sec=0.1)
        assert list(joints[-1].name) == list(JOINTS)  # no robot description: joint_state()'s names, no fingers
        assert [(o.name, o.grasped) for o in objects[-1].objects] == [("cube", True)]
        assert status[-1].sim_time == 0.0 and status[-1].robot == "panda" and status[-1].backend.startswith("mock")
    finally:
        executor.shutdown(timeout_sec=2.0)
        if node is not None:
            node.close()
            node.destroy_node()
        if listener is not None:
            listener.destroy_node()
        context.try_shutdown()
