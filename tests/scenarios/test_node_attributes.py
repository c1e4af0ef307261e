"""No node of ours assigns an attribute that rclpy's Node keeps for itself: the hardware node's `self._timers`
replaced rclpy's timer list, so its executor stopped waiting on the status timer once the node was activated
(status only on change, not at status_rate)."""
from __future__ import annotations

import ast

import pytest
from ros_helpers import REPO, domain_id, requires_ros

pytestmark = requires_ros
NODE_MODULES = ["hardware/node.py", "hardware/perception/node.py", "skill_lib/node.py", "planners/node.py",
                "skill_stack_apps/recording/node.py"]


def assigned_attributes(path: str) -> set[str]:
    """`self.<name>` targets of assignments anywhere in the file."""
    names = set()
    for node in ast.walk(ast.parse((REPO / path).read_text())):
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        for target in targets:
            for t in ast.walk(target):
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                    names.add(t.attr)
    return names


@pytest.fixture(scope="module")
def rclpy_attributes() -> set[str]:
    import rclpy
    from rclpy.lifecycle import LifecycleNode

    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id())
    try:
        node = LifecycleNode("attribute_probe", context=context, start_parameter_services=False)
        names = set(vars(node))
        node.destroy_node()
    finally:
        rclpy.shutdown(context=context)
    return names


@pytest.mark.parametrize("path", NODE_MODULES)
def test_a_node_keeps_its_state_out_of_rclpys_attributes(path, rclpy_attributes):
    assert "_timers" in rclpy_attributes, "rclpy changed: the probe would prove nothing"
    assert not assigned_attributes(path) & rclpy_attributes
