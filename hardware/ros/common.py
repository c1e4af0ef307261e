"""Shared pieces of the ROS 2 nodes: QoS per kind of stream, declared parameters, and a main loop."""
from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from typing import Any

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException, Executor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy

#: commands and operator input: reliable, volatile (a late joiner must never execute an old command)
COMMAND_QOS = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE,
                         durability=QoSDurabilityPolicy.VOLATILE)
#: status and catalogues: reliable, transient-local ("latched"): a late subscriber gets the last one
LATCHED_QOS = QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE,
                         durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
#: status streams: transient-local like LATCHED_QOS, but keeping the last 10 so that a transient state (a
#: rejection) is not overwritten in the writer's history by the next one before a reader has it
STATUS_QOS = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE,
                        durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
#: state streams we publish (joint states, objects): reliable keep-last, like ros2_control's broadcaster;
#: subscribers use sensor-data QoS (best effort), which matches reliable and best-effort publishers alike
STATE_PUB_QOS = QoSProfile(depth=5, history=QoSHistoryPolicy.KEEP_LAST, reliability=QoSReliabilityPolicy.RELIABLE,
                           durability=QoSDurabilityPolicy.VOLATILE)


def declare(node: Node, name: str, default: Any, description: str, read_only: bool = False) -> Any:
    """Declare a parameter with a description (shown by `ros2 param describe`) and return its value."""
    value = node.declare_parameter(name, default, ParameterDescriptor(description=description,
                                                                       read_only=read_only)).value
    return value


def spin_node(make_node: Callable[[], Node], make_executor: Callable[[], Executor] = SingleThreadedExecutor,
              args: list[str] | None = None) -> int:
    """Init rclpy, build the node, spin until Ctrl-C/SIGTERM, clean up. Returns an exit code."""
    rclpy.init(args=sys.argv if args is None else args)
    node = None
    try:
        node = make_node()
        # Everything loaded so far (models, simulators, indexes) lives as long as the node: keep it out of
        # the cyclic garbage collector. A full collection over that heap ran ~1 s inside the executor's
        # loop, no joint state was handled meanwhile, and the arm safety-stopped ("no joint states").
        gc.collect()
        gc.freeze()
        executor = make_executor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            close = getattr(node, "close", None)
            if close is not None:
                close()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0
