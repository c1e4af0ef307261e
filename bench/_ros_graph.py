"""Shared pieces of the ROS 2 benches: the header line, node processes in their own ROS domain and session, an
rclpy client spun in a thread, busy processes beside the graph, and a client of the hardware node and the
skill server (ExecuteSkill goals, joint and object states, e-stop, scene reset by parameter + lifecycle).

Every process started here runs with ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST and the bench's own
ROS_DOMAIN_ID, in a session of its own whose whole process group is killed at the end; busy processes exit
when the bench that started them is gone. Domains: the tests take 10-99 (from their pid), so the benches that
may run beside them use their own ranges (command_interval 60-89, ros_latency 100-129, push_accuracy 130-159,
stop_times 160-189).
"""
from __future__ import annotations

import collections
import datetime
import itertools
import json
import multiprocessing
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from hardware.ros.common import BackgroundNode

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"  # the bench's own node too, not only the graph's
REPO = Path(__file__).resolve().parents[1]
SIM_PARAMS = "config/sim.yaml"


def header(title: str) -> str:
    """`title, date, machine, N cores, git COMMIT`: the first line a bench prints."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return (f"{title}, {datetime.date.today()}, {platform.node()}, {os.cpu_count()} cores, "
            f"git {commit.stdout.strip()}")


def ros_env(domain: int) -> dict[str, str]:
    """The environment of a graph process: this bench's domain, discovery on this machine only."""
    return dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
                HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1")


def wait(future: Any, timeout: float, what: str = "an answer from the graph") -> Any:
    """The future's result, or TimeoutError after `timeout` seconds."""
    wait_until(future.done, timeout, what, poll=0.01)
    return future.result()


def wait_until(predicate: Callable[[], object], timeout: float, what: str, poll: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(poll)


# -- processes --------------------------------------------------------------------------------------------
class GraphProcesses:
    """Commands started in `domain`, each in a session of its own; their output goes to one log file.
    stop() sends SIGINT to each process group, then SIGKILL to whatever is left after `grace` seconds."""

    def __init__(self, commands: list[list[str]], domain: int, log: Path) -> None:
        self.log = log
        self._file = open(log, "w")
        self.processes = [subprocess.Popen(command, cwd=REPO, env=ros_env(domain), stdout=self._file,
                                           stderr=subprocess.STDOUT, start_new_session=True)
                          for command in commands]

    def stop(self, grace: float = 15.0) -> None:
        for process in self.processes:
            _signal_group(process, signal.SIGINT)
        deadline = time.monotonic() + grace
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(process, signal.SIGKILL)  # the leader may be gone; nothing in its group outlives it
        self._file.close()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def node_command(module: str, *params: str) -> list[str]:
    """`python -m MODULE --ros-args --params-file config/sim.yaml -p NAME:=VALUE ...`"""
    return [sys.executable, "-m", module, "--ros-args", "--params-file", SIM_PARAMS,
            *(arg for p in params for arg in ("-p", p))]


def start_skill_graph(domain: int, log: Path, seed: int = 0,
                      learned: tuple[str, ...] = ("move_to", "pick", "place", "push"),
                      realtime_priority: int | None = None) -> GraphProcesses:
    """The hardware node (PyBullet, scene seed `seed`) and the skill server (learned policies for `learned`),
    without the scheduler; `realtime_priority` for both (None: config/sim.yaml's)."""
    priority = [] if realtime_priority is None else [f"realtime_priority:={realtime_priority}"]
    return GraphProcesses([node_command("hardware.node", f"seed:={seed}", *priority),
                           node_command("skill_lib.node", f"learned_skills:=[{', '.join(learned)}]", *priority)],
                          domain, log)


def describe_graph(log: Path) -> str:
    """What the nodes logged about their scheduling (real-time or not), from their log so far."""
    lines = [line.split("]: ", 1)[-1] for line in log.read_text().splitlines() if "real-time" in line]
    return "; ".join(sorted(set(lines))) or "no word on real-time scheduling in the nodes' log"


def _busy(parent: int) -> None:
    """Spin a core until stopped, or until the bench that started it is gone (no orphan keeps the load)."""
    while os.getppid() == parent:
        pass


class BusyLoad:
    """`per_core` busy processes per core beside the graph, for a `with` block."""

    def __init__(self, per_core: int) -> None:
        self.workers = [multiprocessing.Process(target=_busy, args=(os.getpid(),), daemon=True)
                        for _ in range(per_core * (os.cpu_count() or 1))]

    def __enter__(self) -> BusyLoad:
        for w in self.workers:
            w.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for w in self.workers:
            w.terminate()
            w.join(timeout=5)


def describe_load(workers: int) -> str:
    return "idle" if not workers else f"{workers} busy processes beside the graph"


# -- an rclpy client ------------------------------------------------------------------------------------
@contextmanager
def client_of(graph: GraphProcesses, domain: int, name: str) -> Iterator[BackgroundNode]:
    """A client node in the graph's domain (hardware.ros.common.BackgroundNode: one executor thread, which
    takes no core from the graph); on exit it closes and the graph stops, also when the bench failed."""
    from hardware.ros.common import BackgroundNode

    client = None
    try:
        client = BackgroundNode(domain, name)
        yield client
    finally:
        if client is not None:
            client.close()
        graph.stop()


# -- the hardware node and the skill server, seen from outside ------------------------------------------
@dataclass
class JointSample:
    stamp: float  #: header stamp, s (the hardware node's clock: system time)
    arrival: float  #: time.time() when it arrived here
    positions: np.ndarray  #: the arm joints (no fingers), rad


@dataclass
class SkillGoal:
    handle: Any  #: rclpy's ClientGoalHandle
    result: Any  #: the future of its result


@dataclass
class SkillRun:
    """How one ExecuteSkill goal ended (status: action_msgs/GoalStatus)."""

    status: int
    result: Any


class SkillGraphClient:
    """ExecuteSkill goals to the skill server; joint states, object states, status and e-stop of the hardware
    node; a scene reset with a new seed (parameter `seed`, then deactivate, cleanup, configure, activate)."""

    def __init__(self, client: BackgroundNode, robot: str = "panda") -> None:
        from lifecycle_msgs.srv import ChangeState
        from rcl_interfaces.srv import SetParameters
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import JointState
        from skill_stack_interfaces.action import ExecuteSkill
        from skill_stack_interfaces.msg import HardwareStatus, ObjectStates
        from std_srvs.srv import Trigger

        from hardware.robots import load_robot
        from hardware.ros.common import STATUS_QOS, ActionClient

        node = client.node
        self.action_type = ExecuteSkill
        self.arm_joints = load_robot(robot).arm_joints
        self.action: Any = ActionClient(node, ExecuteSkill, "execute_skill")
        self.joints: collections.deque[JointSample] = collections.deque(maxlen=4000)  # 200 s at 20 Hz
        self.objects: dict[str, np.ndarray] = {}
        self.objects_arrival = 0.0
        self.status: Any = None
        self._lock = threading.Lock()
        node.create_subscription(JointState, "joint_states", self._on_joints, qos_profile_sensor_data)
        node.create_subscription(ObjectStates, "objects", self._on_objects, qos_profile_sensor_data)
        node.create_subscription(HardwareStatus, "hardware/status", self._on_status, STATUS_QOS)
        self.services: dict[str, Any] = {name: node.create_client(Trigger, f"hardware/{name}")
                                         for name in ("estop", "reset_estop")}
        self.set_parameters: Any = node.create_client(SetParameters, "hardware/set_parameters")
        self.change_state: Any = node.create_client(ChangeState, "hardware/change_state")

    # -- streams ---------------------------------------------------------------------------------------
    def _on_joints(self, msg: Any) -> None:
        index = {name: i for i, name in enumerate(msg.name)}
        positions = np.array([msg.position[index[n]] for n in self.arm_joints])
        sample = JointSample(msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9, time.time(), positions)
        with self._lock:
            self.joints.append(sample)

    def _on_objects(self, msg: Any) -> None:
        objects = {o.name: np.array([o.pose.position.x, o.pose.position.y, o.pose.position.z])
                   for o in msg.objects}
        with self._lock:
            self.objects, self.objects_arrival = objects, time.time()

    def _on_status(self, msg: Any) -> None:
        self.status = msg

    def joint_samples(self, since: float = 0.0) -> list[JointSample]:
        """The joint states that arrived after `since` (time.time())."""
        with self._lock:
            return [s for s in self.joints if s.arrival > since]

    def joint_speed(self, intervals: int = 1) -> float:
        """Largest arm joint speed (rad/s) from the joint states' stamps: the lowest over the last `intervals`
        intervals between consecutive states (0 until there are enough)."""
        with self._lock:
            last = list(self.joints)[-intervals - 1:]
        if len(last) < intervals + 1:
            return 0.0
        return min(max_speed(a, b) for a, b in itertools.pairwise(last))

    def object_position(self, name: str, after: float, timeout: float = 5.0) -> np.ndarray:
        """The object's position from the first object states that arrived after `after` (time.time())."""
        wait_until(lambda: self.objects_arrival > after, timeout, "fresh object states")
        with self._lock:
            return self.objects[name].copy()

    def wait_ready(self, timeout: float = 120.0) -> None:
        """The skill server answers goals and the hardware node's states arrive."""
        wait_until(lambda: self.action.wait_for_server(timeout_sec=0.5), timeout, "the execute_skill server")
        wait_until(lambda: self.objects and self.joints, 30, "object and joint states")
        # A goal sent at once after discovery was once lost (no response in 30 s, nothing in the skill
        # server's log): a goal that moves nothing (an unknown skill, refused at once) until one is answered.
        for _ in range(5):
            try:
                self.run("", {}, timeout=10)
                return
            except TimeoutError:
                continue
        raise TimeoutError("the skill server answered none of 5 goals")

    # -- skills ----------------------------------------------------------------------------------------
    def send(self, skill: str, params: dict[str, Any], scripted: bool = False, timeout: float = 30.0) -> SkillGoal:
        """An accepted goal, its result requested at once (a rejected goal raises)."""
        goal = self.action_type.Goal(skill=skill, params_json=json.dumps(params), scripted=scripted)
        handle = wait(self.action.send_goal_async(goal), timeout, f"the {skill or 'empty'} goal response")
        if not handle.accepted:
            raise RuntimeError(f"{skill} goal rejected (another skill running?)")
        return SkillGoal(handle, handle.get_result_async())

    def result(self, goal: SkillGoal, timeout: float = 60.0) -> SkillRun:
        response = wait(goal.result, timeout, "the skill result")
        return SkillRun(response.status, response.result)

    def run(self, skill: str, params: dict[str, Any], scripted: bool = False, timeout: float = 60.0) -> SkillRun:
        return self.result(self.send(skill, params, scripted, min(timeout, 30.0)), timeout)

    def cancel(self, goal: SkillGoal) -> None:
        wait(goal.handle.cancel_goal_async(), 10, "the cancel response")

    # -- hardware --------------------------------------------------------------------------------------
    def trigger(self, service: str) -> None:
        """Call hardware/estop or hardware/reset_estop; raises if it is refused."""
        from std_srvs.srv import Trigger

        client = self.services[service]
        if not client.wait_for_service(timeout_sec=10):
            raise TimeoutError(f"no hardware/{service} service")
        response = wait(client.call_async(Trigger.Request()), 10, f"hardware/{service}")
        if not response.success:
            raise RuntimeError(f"hardware/{service} refused: {response.message}")

    def reset_scene(self, seed: int, timeout: float = 30.0) -> None:
        """A fresh simulated world with scene seed `seed`: set the parameter, then deactivate, cleanup,
        configure (reads the parameters again), activate; returns once its states arrive."""
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState
        from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
        from rcl_interfaces.srv import SetParameters

        for client in (self.set_parameters, self.change_state):
            if not client.wait_for_service(timeout_sec=10):
                raise TimeoutError(f"no {client.srv_name} service")
        value = ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=seed)
        request = SetParameters.Request(parameters=[Parameter(name="seed", value=value)])
        result, = wait(self.set_parameters.call_async(request), 10, "hardware/set_parameters").results
        if not result.successful:
            raise RuntimeError(f"seed {seed} refused: {result.reason}")
        for transition in (Transition.TRANSITION_DEACTIVATE, Transition.TRANSITION_CLEANUP,
                           Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
            request = ChangeState.Request(transition=Transition(id=transition))
            if not wait(self.change_state.call_async(request), timeout, "hardware/change_state").success:
                raise RuntimeError(f"lifecycle transition {transition} failed (see the hardware node's log)")
        active = time.time()
        wait_until(lambda: self.objects_arrival > active and self.joint_samples(active), 10,
                   "states from the fresh world")


def max_speed(a: JointSample, b: JointSample) -> float:
    """Largest joint speed (rad/s) between two joint states, from their stamps."""
    dt = b.stamp - a.stamp
    return float(np.max(np.abs(b.positions - a.positions)) / dt) if dt > 0 else 0.0
