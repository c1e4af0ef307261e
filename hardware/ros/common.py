"""Shared pieces of the ROS 2 nodes: QoS per kind of stream, parameters from a config, and a main loop."""
from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import rclpy
import rclpy.action
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from rclpy.task import Future

from hardware.params import build, help_text, parameters, wants_help
from hardware.realtime import make_realtime

C = TypeVar("C")

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


def declare_config(node: Node, config: type[C]) -> C:
    """Declare every parameter of `config` (a hardware.params dataclass) on `node`, its doc as the
    description (`ros2 param describe`), and return the config with the values given (YAML, `-p`) or the
    defaults."""
    values = {p.name: node.declare_parameter(p.name, p.default, ParameterDescriptor(description=p.doc)).value
              for p in parameters(config)}
    return build(config, values)


def read_config(node: Node, config: type[C]) -> C:
    """`config` from the current values of `node`'s parameters, declared before by declare_config (a lifecycle
    node reads them again on configure, so `ros2 param set` then a configure transition applies them)."""
    return build(config, {p.name: node.get_parameter(p.name).value for p in parameters(config)})


async def in_thread(node: Node, thread: ThreadPoolExecutor, work: Callable[..., Any], *args: Any) -> Any:
    """`work(*args)` on `thread`, awaited by a callback of `node` (an action's execute callback) without holding
    the executor's thread: other callbacks keep running, and the executor is woken when the work ends. With
    this, one executor thread serves a node whose goals run for seconds (rclpy's multi-threaded executor
    re-polls a running goal in a busy loop, rclpy#1452). Raises what `work` raised."""
    job = thread.submit(work, *args)
    finished: Future = Future()
    executor = node.executor

    def resume(_: Any) -> None:
        finished.set_result(None)
        if executor is not None:
            executor.wake()

    job.add_done_callback(resume)
    await finished
    return job.result()


class ActionClient(rclpy.action.ActionClient):
    """rclpy's action client, safe to create on a node that another thread already spins: rclpy (the pip wheels)
    adds the client to its node before it sets the lock the executor takes to wait on it, and an executor that got
    there first died with "'ActionClient' object has no attribute '_lock'" (ros2/rclpy#1589), leaving a client
    that never hears back."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lock = threading.Lock()
        super().__init__(*args, **kwargs)


class BackgroundNode:
    """A client's rclpy context of its own (in `domain`) with one node, spun in a daemon thread: for scripts,
    benches, tests and the console that talk to a graph from outside. Callbacks should only store what arrives.
    One executor thread runs them, as in the nodes: rclpy's multi-threaded executor delivered messages up to
    ~2 s late (docs/BENCHMARKS.md, "ROS 2")."""

    def __init__(self, domain: int, name: str) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin()
                return
            except ExternalShutdownException:
                return
            except rclpy_implementation.InvalidHandle:
                # an entity (a subscription's QoS event) destroyed from another thread while the executor
                # waited on it: rclpy raises here; the next wait is built without it, so spinning goes on
                continue

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        self.context.try_shutdown()
        self._thread.join(timeout=5.0)


def _prog(argv0: str) -> str:
    """The command as typed: `hardware_node` (console script), or `python -m hardware.node`."""
    spec = sys.modules["__main__"].__spec__
    return f"python -m {spec.name}" if spec is not None and argv0.endswith(".py") else Path(argv0).name


def spin_node(make_node: Callable[[], Node], config: type, args: list[str] | None = None,
              realtime_priority: Callable[[Node], int] | None = None) -> int:
    """Init rclpy, build the node, spin until Ctrl-C/SIGTERM, clean up. Returns an exit code.

    `config` is the node's parameter dataclass: `-h`/`--help` prints its parameters and returns before
    rclpy starts. `args` is a full command line (program first), sys.argv by default. `realtime_priority`:
    the node's priority for the thread that spins it (hardware.realtime), set here, in the node's own process,
    never by building the node (a test that builds one in-process keeps its own scheduling)."""
    argv = sys.argv if args is None else args
    if wants_help(argv):
        print(help_text(config, _prog(argv[0])), end="")
        return 0
    rclpy.init(args=argv)
    node = None
    try:
        try:
            node = make_node()
        except ValueError as err:  # a parameter value the node refuses: one line, as the CLI says it
            print(f"error: {err}", file=sys.stderr)
            return 2
        # Everything loaded so far (models, simulators, indexes) lives as long as the node: keep it out of
        # the cyclic garbage collector. A full collection over that heap ran ~1 s inside the executor's
        # loop, no joint state was handled meanwhile, and the arm safety-stopped ("no joint states").
        gc.collect()
        gc.freeze()
        if realtime_priority is not None:
            node.get_logger().info(make_realtime(realtime_priority(node)))
        # one executor thread: callbacks never wait; long work (a skill, a task) runs on a thread of its own
        # (in_thread)
        executor = SingleThreadedExecutor()
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
