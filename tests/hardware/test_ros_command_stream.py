"""The hardware node's command stream over real rclpy: a stream that ends with an empty trajectory holds the arm
where it is without a watchdog trip, one that just stops trips the watchdog; a configure
transition reads the parameters again (a new seed, a new scene); the node says whether it runs real-time; a RosArm
acts on the arm as its last command left it."""
from __future__ import annotations

import contextlib
import time

import numpy as np
import pytest
from ros_helpers import hardware_node, requires_ros, wait_for

pytestmark = [requires_ros, pytest.mark.slow, pytest.mark.serial]
NS = "/stream_robot"
ARM = [f"panda_joint{i}" for i in range(1, 8)]


@pytest.fixture(scope="module")
def hardware(tmp_path_factory):
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import JointState
    from skill_stack_interfaces.msg import HardwareStatus, ObjectStates
    from trajectory_msgs.msg import JointTrajectory

    from hardware.ros.common import COMMAND_QOS, STATUS_QOS

    with hardware_node(tmp_path_factory.mktemp("ros_stream"), NS, ["camera_rate:=0.0"]) as (spinner, log):
        node = spinner.node
        seen: dict[str, list] = {"status": [], "joints": [], "objects": []}
        node.create_subscription(HardwareStatus, f"{NS}/hardware/status", seen["status"].append, STATUS_QOS)
        node.create_subscription(JointState, f"{NS}/joint_states", seen["joints"].append, qos_profile_sensor_data)
        node.create_subscription(ObjectStates, f"{NS}/objects", seen["objects"].append, qos_profile_sensor_data)
        publisher = node.create_publisher(JointTrajectory, f"{NS}/joint_trajectory", COMMAND_QOS)
        wait_for(lambda: seen["status"] and seen["status"][-1].lifecycle_state == "active" and seen["joints"], 60,
                 "the hardware node, active")
        yield spinner, seen, publisher, log


def _arm(seen) -> np.ndarray:
    msg = seen["joints"][-1]
    return np.array([dict(zip(msg.name, msg.position))[n] for n in ARM])


def _stream(publisher, target: np.ndarray, seconds: float) -> float:
    """Publish `target` at 20 Hz for `seconds`; returns the longest gap between two messages (this process's own
    lateness: under load a sleep here can outlast the node's watchdog timeout)."""
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

    sent = []
    for _ in range(int(seconds / 0.05)):
        publisher.publish(JointTrajectory(joint_names=ARM, points=[JointTrajectoryPoint(positions=target.tolist())]))
        sent.append(time.monotonic())
        time.sleep(0.05)
    return float(np.max(np.diff(sent)))


def test_a_stream_ended_with_an_empty_trajectory_holds_its_target_without_a_watchdog_trip(hardware):
    from trajectory_msgs.msg import JointTrajectory

    _, seen, publisher, _ = hardware
    target = _arm(seen) + np.array([0.3, 0, 0, 0, 0, 0, 0])
    before = seen["status"][-1].commands_received
    gap = _stream(publisher, target, 0.6)
    publisher.publish(JointTrajectory(joint_names=ARM))  # the end of the stream
    time.sleep(1.2)  # over twice the watchdog timeout
    last = seen["status"][-1]
    # statuses by the commands the node had taken: after the end of the stream (the last command), and during it.
    # A trip after the end would publish one of its own (statuses go out on every change)
    after_end = [s for s in seen["status"] if s.commands_received == last.commands_received]
    during = [s for s in seen["status"] if before < s.commands_received < last.commands_received]
    assert after_end and not any(s.watchdog_tripped for s in after_end), last.message
    if gap < 0.4:  # this process kept its stream within the watchdog's 0.5 s (it does unless starved of CPU)
        assert not any(s.watchdog_tripped for s in during), last.message
    assert np.abs(_arm(seen) - target).max() < 0.01, "the arm keeps the stream's last target"
    assert last.commands_rejected == 0, last.message


def test_a_stream_that_just_stops_trips_the_watchdog(hardware):
    _, seen, publisher, _ = hardware
    _stream(publisher, _arm(seen) - np.array([0.3, 0, 0, 0, 0, 0, 0]), 0.3)
    wait_for(lambda: seen["status"][-1].watchdog_tripped, 2.0, "a watchdog trip")
    assert "watchdog" in seen["status"][-1].message


def test_configure_reads_the_parameters_again(hardware):
    from lifecycle_msgs.msg import Transition
    from lifecycle_msgs.srv import ChangeState
    from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
    from rcl_interfaces.srv import SetParameters

    spinner, seen, _, log = hardware
    node = spinner.node

    def positions() -> dict[str, np.ndarray]:
        count = len(seen["objects"])
        wait_for(lambda: len(seen["objects"]) > count + 2, 5, "object states")
        return {o.name: np.array([o.pose.position.x, o.pose.position.y]) for o in seen["objects"][-1].objects}

    before = positions()
    setter = node.create_client(SetParameters, f"{NS}/hardware/set_parameters")
    change = node.create_client(ChangeState, f"{NS}/hardware/change_state")
    assert setter.wait_for_service(timeout_sec=10) and change.wait_for_service(timeout_sec=10)
    seed = Parameter(name="seed", value=ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=7))
    assert spinner.result(setter.call_async(SetParameters.Request(parameters=[seed])), 10, "set seed").results[0]\
        .successful
    for transition in (Transition.TRANSITION_DEACTIVATE, Transition.TRANSITION_CLEANUP,
                       Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
        assert spinner.result(change.call_async(ChangeState.Request(transition=Transition(id=transition))), 30,
                              "transition").success, log.read_text()[-2000:]
    after = positions()
    assert set(after) == set(before)
    assert max(np.linalg.norm(after[n] - before[n]) for n in before) > 0.01, "seed 7 places the objects elsewhere"


def test_the_node_logs_its_scheduling(hardware):
    _, _, _, log = hardware
    text = log.read_text()
    assert "SCHED_FIFO 50" in text, text[-2000:]
    assert "at real-time priority" in text or "real-time scheduling refused" in text


@pytest.mark.parametrize("stream_end", [True, False])
def test_a_ros_arm_ends_its_stream_only_where_the_controller_accepts_an_empty_trajectory(hardware, stream_end):
    from trajectory_msgs.msg import JointTrajectory

    from hardware.ros.backend import RosArm
    from hardware.ros.common import COMMAND_QOS
    from hardware.ros.config import RosArmConfig

    spinner, seen, _, _ = hardware
    sent: list = []
    listener = spinner.node.create_subscription(JointTrajectory, f"{NS}/joint_trajectory", sent.append, COMMAND_QOS)
    config = RosArmConfig(joint_states_topic=f"{NS}/joint_states", command_topic=f"{NS}/joint_trajectory",
                          hardware_status_topic=f"{NS}/hardware/status", camera_topic=f"{NS}/camera/image_raw",
                          stream_end=stream_end)
    arm = RosArm(spinner.node, config)
    try:
        assert arm.wait_ready(10.0)
        # this case's own listener matched (the publisher's count alone may include an earlier case's listener)
        wait_for(lambda: arm._arm_pub.get_subscription_count() >= 2 and listener.get_publisher_count() >= 1, 10,
                 "the hardware and this test subscribed")
        arm.stop_motion()  # a cancel
        arm.forget_targets()  # the skill's end
        # delivery, not a fixed pause (a loaded machine's DDS can take longer); then time for any extra message
        with contextlib.suppress(TimeoutError):
            wait_for(lambda: len(sent) >= (2 if stream_end else 1), 5.0, "the stream's end")
        time.sleep(0.5)
    finally:
        arm.close()
    points = [len(m.points) for m in sent]
    if stream_end:  # the hardware node holds where the arm is; nothing else is sent
        assert points == [0, 0], points
        # a commander that ends its stream is back: a trip before it (the test above) is over
        wait_for(lambda: not seen["status"][-1].watchdog_tripped, 3.0, "the trip cleared on hardware/status")
    else:  # a ros2_control controller would reject an empty trajectory: the hold is a position
        assert points == [1], points


def test_each_step_of_a_ros_arm_sees_the_arm_after_the_command_it_sent(hardware):
    """In-process, the state after step() is the arm after that step's command; a policy is trained so. Over ROS,
    at any phase between the loop's period and the arm's 20 Hz ticks, the joint moves the way the step just told
    it to (alternating targets: a state from before the last command shows the previous step's direction)."""
    from hardware.ros.backend import RosArm
    from hardware.ros.config import RosArmConfig

    spinner, _, _, _ = hardware
    config = RosArmConfig(joint_states_topic=f"{NS}/joint_states", command_topic=f"{NS}/joint_trajectory",
                          hardware_status_topic=f"{NS}/hardware/status", camera_topic=f"{NS}/camera/image_raw")
    arm = RosArm(spinner.node, config)
    wrong = []
    try:
        assert arm.wait_ready(10.0)
        home = arm.joint_state().positions.copy()
        for phase in np.linspace(0.0, 0.049, 40):  # where the loop's period starts, after a state of the arm's
            seen = arm._state_count
            wait_for(lambda: arm._state_count > seen, 2.0, "a joint state")
            time.sleep(phase)
            for k in range(4):
                sign = 1.0 if k % 2 == 0 else -1.0
                arm.command_joints(home + np.r_[sign * 0.02, np.zeros(6)])
                arm.step()
                if np.sign(arm.joint_state().velocities[0]) != sign:
                    wrong.append((round(float(phase), 3), k))
            arm.forget_targets()  # a skill's end: the next starts its own schedule
            time.sleep(0.06)
    finally:
        arm.close()
    assert not wrong, f"(phase s, step) where the state showed the arm before the step's command: {wrong}"
