"""The hardware node's lifecycle over real rclpy: nothing moves or publishes until it is configured and
activated; deactivate stops the stream; cleanup closes the backend; shutdown finalizes the node. The status
comes at its rate."""
from __future__ import annotations

import time

import pytest
from ros_helpers import hardware_node, requires_ros, wait_for

pytestmark = [requires_ros, pytest.mark.slow, pytest.mark.serial]
NS = "/lc_robot"


@pytest.fixture(scope="module")
def hardware(tmp_path_factory):
    with hardware_node(tmp_path_factory.mktemp("ros_lifecycle"), NS, ["autostart:=false", "camera_rate:=0.0"]) as ends:
        yield ends


def test_transitions_gate_the_robot(hardware):
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState, GetState
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import JointState
    from skill_stack_interfaces.msg import HardwareStatus

    from hardware.ros.common import STATUS_QOS

    spinner, log = hardware
    node = spinner.node
    states, joints = [], []
    node.create_subscription(HardwareStatus, f"{NS}/hardware/status", states.append, STATUS_QOS)
    node.create_subscription(JointState, f"{NS}/joint_states", joints.append, qos_profile_sensor_data)
    change = node.create_client(ChangeState, f"{NS}/hardware/change_state")
    get = node.create_client(GetState, f"{NS}/hardware/get_state")
    assert change.wait_for_service(timeout_sec=30), log.read_text()

    def transition(tid: int, expected: str) -> None:
        ok = spinner.result(change.call_async(ChangeState.Request(transition=Transition(id=tid))), 30, "change")
        assert ok.success, f"transition {tid} failed"
        state = spinner.result(get.call_async(GetState.Request()), 10, "get_state").current_state.label
        assert state == expected
        wait_for(lambda: states and states[-1].lifecycle_state == expected, 5, f"status {expected}")

    assert spinner.result(get.call_async(GetState.Request()), 10, "get").current_state.label == "unconfigured"
    time.sleep(0.5)
    assert not joints, "an unconfigured hardware node publishes no joint states"
    transition(Transition.TRANSITION_CONFIGURE, "inactive")
    time.sleep(0.5)
    assert not joints, "an inactive hardware node publishes no joint states"
    transition(Transition.TRANSITION_ACTIVATE, "active")
    wait_for(lambda: len(joints) > 5, 5, "joint states while active")
    before = len(states)
    time.sleep(2.0)
    assert len(states) - before >= 3, "the status comes at its rate (2 Hz), not only when it changes"
    transition(Transition.TRANSITION_DEACTIVATE, "inactive")
    time.sleep(0.3)
    count = len(joints)
    time.sleep(0.5)
    assert len(joints) == count, "deactivate stops the stream"
    transition(Transition.TRANSITION_CLEANUP, "unconfigured")
    transition(Transition.TRANSITION_CONFIGURE, "inactive")  # a fresh backend after cleanup
    transition(Transition.TRANSITION_INACTIVE_SHUTDOWN, "finalized")
