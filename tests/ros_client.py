"""A test client of one robot graph: the task action, e-stop, and every stream the graph publishes."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
from ros_helpers import Spinner, wait_for


@dataclass
class GoalRun:
    accepted: bool
    handle: object = None
    feedback: list = field(default_factory=list)
    result_future: object = None


class RobotClient:
    """Talks to the graph under `namespace` ('' for the root) from the spinner's node."""

    def __init__(self, spinner: Spinner, namespace: str = "") -> None:
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import JointState
        from skill_stack_interfaces.action import ExecuteTask
        from skill_stack_interfaces.msg import HardwareStatus, ObjectStates, TaskStatus
        from std_msgs.msg import String
        from std_srvs.srv import Trigger

        from hardware.ros.common import COMMAND_QOS, STATUS_QOS, ActionClient

        self.spinner, node = spinner, spinner.node
        ns = f"/{namespace.strip('/')}" if namespace.strip("/") else ""
        self.ns = ns
        self._lock = threading.Lock()
        self.objects = None
        self.joints = None
        self.hardware_status = None
        self.task_status: list = []
        self.action = ActionClient(node, ExecuteTask, f"{ns}/execute_task")
        self.goal_type = ExecuteTask.Goal
        node.create_subscription(ObjectStates, f"{ns}/objects", self._set("objects"), qos_profile_sensor_data)
        node.create_subscription(JointState, f"{ns}/joint_states", self._set("joints"), qos_profile_sensor_data)
        node.create_subscription(HardwareStatus, f"{ns}/hardware/status", self._set("hardware_status"), STATUS_QOS)
        node.create_subscription(TaskStatus, f"{ns}/status", self.task_status.append, STATUS_QOS)
        self.corrections = node.create_publisher(String, f"{ns}/corrections", COMMAND_QOS)
        self.estop_client = node.create_client(Trigger, f"{ns}/hardware/estop")
        self.reset_client = node.create_client(Trigger, f"{ns}/hardware/reset_estop")

    def _set(self, attr: str):
        def callback(msg) -> None:
            setattr(self, attr, msg)
        return callback

    def wait_ready(self, timeout: float = 60.0) -> None:
        wait_for(lambda: self.action.wait_for_server(timeout_sec=0.2), timeout, f"{self.ns}/execute_task")
        wait_for(lambda: self.objects is not None and self.joints is not None, timeout,
                 f"{self.ns} objects and joint states")
        # the scheduler has discovered the arm too (its status heartbeat says so)
        wait_for(lambda: any(s.hardware_ok for s in self.task_status[-3:]), timeout, f"{self.ns}/status hardware_ok")

    def wait_idle(self, timeout: float = 30.0) -> None:
        """No task running: the last status is not 'running' (a failed test must not starve the next)."""
        wait_for(lambda: self.task_status and self.task_status[-1].state != "running", timeout, "scheduler idle")

    # -- tasks ----------------------------------------------------------------------------------
    def send(self, task: str, timeout: float = 20.0, **options) -> GoalRun:
        run = GoalRun(False)
        future = self.action.send_goal_async(self.goal_type(task=task, **options),
                                             feedback_callback=lambda f: run.feedback.append(f.feedback))
        handle = self.spinner.result(future, timeout, f"goal response for {task[:40]!r}")
        run.accepted, run.handle = handle.accepted, handle
        if handle.accepted:
            run.result_future = handle.get_result_async()
        return run

    def result(self, run: GoalRun, timeout: float = 90.0):
        """(status, result) of an accepted goal."""
        wrapped = self.spinner.result(run.result_future, timeout, "task result")
        return wrapped.status, wrapped.result

    def run(self, task: str, timeout: float = 90.0, **options):
        run = self.send(task, **options)
        assert run.accepted, f"goal {task[:40]!r} was rejected"
        status, result = self.result(run, timeout)
        return status, result, run.feedback

    def cancel(self, run: GoalRun, timeout: float = 10.0):
        return self.spinner.result(run.handle.cancel_goal_async(), timeout, "cancel response")

    def move_object(self, name: str, position, timeout: float = 10.0):
        """Simulation only: put an object somewhere, as a person would (the hardware node's service)."""
        from skill_stack_interfaces.srv import SetObjectPose

        client = self.spinner.node.create_client(SetObjectPose, f"{self.ns}/hardware/set_object_pose")
        assert client.wait_for_service(timeout_sec=timeout), "no set_object_pose service"
        x, y, z = (float(v) for v in position)
        return self.spinner.result(client.call_async(SetObjectPose.Request(name=name, x=x, y=y, z=z)), timeout,
                                   "set_object_pose response")

    def estop(self, reset: bool = False):
        from std_srvs.srv import Trigger

        client = self.reset_client if reset else self.estop_client
        assert client.wait_for_service(timeout_sec=10.0), "no e-stop service"
        return self.spinner.result(client.call_async(Trigger.Request()), 10.0, "e-stop response")

    # -- world, read independently of the scheduler ----------------------------------------------
    def object_positions(self) -> dict[str, np.ndarray]:
        msg = self.objects
        return {o.name: np.array([o.pose.position.x, o.pose.position.y, o.pose.position.z]) for o in msg.objects}

    def object_msg(self, name: str):
        return next(o for o in self.objects.objects if o.name == name)

    def arm_positions(self) -> np.ndarray:
        return np.array(self.joints.position[:7])

    def arm_motion(self, seconds: float) -> float:
        """Largest joint travel (rad) over `seconds`: ~0 when the arm stands still."""
        start = self.arm_positions()
        time.sleep(seconds)
        return float(np.max(np.abs(self.arm_positions() - start)))
