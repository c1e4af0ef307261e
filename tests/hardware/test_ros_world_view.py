"""RosWorldView over real rclpy: a delayed object-state message is waited for, a missing one raises
HardwareTimeout after `state_timeout`, never earlier and never silently; states say how old they are."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from ros_helpers import Spinner, domain_id, requires_ros, wait_for

pytestmark = [requires_ros, pytest.mark.serial]
TIMEOUT = 1.0  # wide enough that a loaded CI machine's scheduling delays stay well inside it


@pytest.fixture()
def ends():
    from rclpy.qos import qos_profile_sensor_data
    from skill_stack_interfaces.msg import ObjectStates

    from hardware.ros import messages
    from hardware.ros.world import RosWorldView
    from hardware.types import ObjectState

    domain = domain_id()
    sender, receiver = Spinner(domain, "fake_perception"), Spinner(domain, "world_reader")
    pub = sender.node.create_publisher(ObjectStates, "objects", qos_profile_sensor_data)
    cube = ObjectState("red_cube", "cube", np.array([0.5, 0.0, 0.02]), np.array([0.0, 0.0, 0.0, 1.0]),
                       np.full(3, 0.02), color="red")

    def publish(measured_ago: float | None = None) -> None:
        """Send the cube, stamped `measured_ago` seconds ago (None: unstamped)."""
        msg = ObjectStates()
        if measured_ago is not None:
            now = sender.node.get_clock().now().nanoseconds - int(measured_ago * 1e9)
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(now, 10**9)
        msg.objects = [messages.object_to_msg(cube, [], False)]
        pub.publish(msg)

    world = RosWorldView(receiver.node, "objects", state_timeout=TIMEOUT)
    try:
        yield world, publish
    finally:
        world.close()
        sender.close()
        receiver.close()


def test_no_state_ever_raises_after_the_timeout(ends):
    from hardware.ros.backend import HardwareTimeout

    world, _ = ends
    start = time.monotonic()
    with pytest.raises(HardwareTimeout, match="no object states on /objects for ever"):
        world.objects()
    assert time.monotonic() - start >= TIMEOUT * 0.9


def test_a_late_message_is_waited_for_and_a_stopped_stream_raises(ends):
    from hardware.ros.backend import HardwareTimeout

    world, publish = ends

    def delivered() -> bool:
        publish()
        return world.age() is not None

    wait_for(delivered, 10.0, "the first object state (discovery)", poll=0.1)
    assert set(world.objects()) == {"red_cube"}
    assert world.objects()["red_cube"].opening is None  # NaN on the wire: not articulated
    time.sleep(TIMEOUT * 1.5)  # stale now; the next message is on its way
    threading.Timer(TIMEOUT / 3, publish).start()
    start = time.monotonic()
    assert world.objects()["red_cube"].color == "red"
    assert time.monotonic() - start < TIMEOUT
    time.sleep(TIMEOUT * 1.5)  # nothing else comes
    with pytest.raises(HardwareTimeout, match=r"for \d+\.\d s"):
        world.contacts("red_cube", "gripper")


def test_the_age_of_a_measurement_comes_from_its_stamp(ends):
    world, publish = ends
    assert world.measurement_age() == 0.0  # nothing yet

    def delivered() -> bool:
        publish(0.3)
        return world.age() is not None

    wait_for(delivered, 10.0, "the first object state (discovery)", poll=0.1)
    time.sleep(0.2)  # anything still in flight from discovery has come
    sent = time.monotonic()
    publish(0.3)
    wait_for(lambda: world.age() < time.monotonic() - sent, 5.0, "the message sent after discovery")
    measurement_age, age = world.measurement_age(), world.age()
    since_sent = time.monotonic() - sent
    # Bounds from the send, so a delay in this process cannot fail the test.
    assert 0.3 <= measurement_age <= 0.3 + since_sent + 0.01, "measured 0.3 s before it was sent"
    assert age <= since_sent, "and its arrival age counts from when it came"
    publish()  # an unstamped publisher: its arrival is all there is
    wait_for(lambda: world.measurement_age() < 0.2, 5.0, "the unstamped message")


def test_a_drawers_opening_and_grasp_points_cross_the_wire():
    from hardware.ros import messages
    from hardware.types import ObjectState

    drawer = ObjectState("drawer", "drawer", np.array([0.6, 0.2, 0.07]), np.array([0.0, 0.0, 0.0, 1.0]),
                         np.array([0.14, 0.13, 0.04]), opening=0.4,
                         grasp_points={"handle": np.array([0.47, 0.2, 0.07, 0.0])})
    back = messages.object_from_msg(messages.object_to_msg(drawer, ["table"], False))
    assert back.opening == pytest.approx(0.4) and back.category == "drawer"
    np.testing.assert_allclose(back.grasp_points["handle"], [0.47, 0.2, 0.07, 0.0], atol=1e-6)
