"""Our action client is whole before its node hands it to an executor: rclpy's adds itself to the node before it
sets the lock the executor waits under, and a console whose executor thread got there first never heard from the
graph again (ros2/rclpy#1589; all five console-over-ROS tests of one fresh-clone run failed that way)."""
from __future__ import annotations

from ros_helpers import domain_id, requires_ros

pytestmark = requires_ros


def test_an_action_client_has_its_lock_when_its_node_adds_it():
    import rclpy
    from skill_stack_interfaces.action import ExecuteTask

    from hardware.ros.common import ActionClient

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id())
    node = rclpy.create_node("action_client_test", context=context)
    added, add = [], node.add_waitable
    node.add_waitable = lambda waitable: (added.append(hasattr(waitable, "_lock")), add(waitable))[1]
    try:
        client = ActionClient(node, ExecuteTask, "execute_task")
        assert added == [True] and not client.server_is_ready()
    finally:
        node.destroy_node()
        context.try_shutdown()
