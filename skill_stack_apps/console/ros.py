"""The console's ROS backend: a client of the running graph (`skillstack launch sim`), the only console module
that imports rclpy. Tasks go to the scheduler's `execute_task` action (feedback: the running skill's progress;
result: the outcomes and goals); the scheduler's `events` topic (its episode log, one JSON record each) gives
the plan, each skill's policy and the corrections retrieved; corrections are published on `corrections` and
acknowledged on `status`; e-stop is the hardware node's `hardware/estop` service and its `hardware/status`;
the camera is `camera/image_raw`.

The correction store is the scheduler's SQLite file, opened here too (the console lists, disables and deletes
records in it): the console must run on the scheduler's machine with the same SKILL_STACK_DATA (or --db).
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from std_srvs.srv import Trigger

from hardware.ros.common import COMMAND_QOS, STATUS_QOS, ActionClient, BackgroundNode
from hardware.ros.messages import rgb_from_image
from hardware.scene import load_scene, nominal_objects
from planners.corrections.live import LiveResult
from planners.corrections.memory.store import MEMORY_ERRORS, CorrectionStore
from planners.task_result import ErrorCode, shorten
from skill_stack_apps.console.backend import Backend, ConsoleError
from skill_stack_apps.console.model import CorrectionView, TaskView, encode_jpeg

log = logging.getLogger(__name__)

#: how long a correction sent on the topic is followed (the running skill may take it late), and e-stop calls
CORRECTION_FOLLOW_S, SERVICE_TIMEOUT_S = 60.0, 5.0
#: joint states arrive at the control rate; the page needs a few a second
ARM_UPDATES_HZ = 5.0


def _unawaited(future: Any) -> None:
    """A request whose answer nobody reads (the result or the feedback says how it ended): its failure, e.g. the
    node destroyed at close while it was in flight, is fetched when it completes, so rclpy does not print it."""
    future.add_done_callback(lambda done: done.exception())


@dataclass
class RosConfig:
    #: the graph's namespace ("" for the root, e.g. "robot1")
    namespace: str = ""
    #: the scene whose objects name the voice grammar's words (the graph's scene)
    scene: str = "default"
    #: the scheduler's correction store: a file or a postgresql:// URL (default: as the scheduler chooses it)
    db: str | Path | None = None
    #: ROS domain (default: $ROS_DOMAIN_ID, else 0)
    domain: int | None = None
    #: how speech is heard: "agreement" (Whisper and pocketsphinx) or "pocketsphinx" alone (`--recogniser`)
    recogniser: str = "agreement"


@dataclass
class _SentCorrection:
    """A correction published on the topic, followed until the scheduler says what became of it."""

    text: str
    sent: float
    #: records in the store before it was sent: what it stores has a larger id
    after_id: int
    future: Future[LiveResult]
    updates: dict[str, Any] | None = None


class RosBackend(Backend):
    mode = "ros"

    def __init__(self, config: RosConfig | None = None) -> None:
        self.config = config or RosConfig()
        scene = load_scene(self.config.scene)
        super().__init__(CorrectionStore(self.config.db), nominal_objects(scene), self.config.recogniser)
        ns = self.config.namespace.strip("/")
        self.ns = f"/{ns}" if ns else ""
        self._spun: BackgroundNode | None = None
        self._closing = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="console-ros", daemon=True)
        self._lock = threading.Lock()
        #: the console's task on the scheduler now: (task id, goal handle or None while the goal is sent)
        self._goal: tuple[int, Any] | None = None
        #: the task the scheduler's events belong to (the console's last task)
        self._events_for: int | None = None
        self._sent: list[_SentCorrection] = []
        self._last_status: Any = None
        self._last_arm = 0.0

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> None:
        from skill_stack_interfaces.action import ExecuteTask
        from skill_stack_interfaces.msg import HardwareStatus, TaskStatus

        domain = self.config.domain if self.config.domain is not None else int(os.environ.get("ROS_DOMAIN_ID", "0"))
        self._spun = BackgroundNode(domain, "operator_console")
        node, ns = self._spun.node, self.ns
        self._action: Any = ActionClient(node, ExecuteTask, f"{ns}/execute_task")
        self._goal_type, self._task_status = ExecuteTask.Goal, TaskStatus
        self._corrections = node.create_publisher(String, f"{ns}/corrections", COMMAND_QOS)
        self._estop: Any = node.create_client(Trigger, f"{ns}/hardware/estop")
        self._reset: Any = node.create_client(Trigger, f"{ns}/hardware/reset_estop")
        node.create_subscription(TaskStatus, f"{ns}/status", self._on_status, STATUS_QOS)
        node.create_subscription(String, f"{ns}/events", self._on_event, COMMAND_QOS)
        node.create_subscription(HardwareStatus, f"{ns}/hardware/status", self._on_hardware, STATUS_QOS)
        node.create_subscription(Image, f"{ns}/camera/image_raw", self._on_image, qos_profile_sensor_data)
        node.create_subscription(JointState, f"{ns}/joint_states", self._on_joints, qos_profile_sensor_data)
        self._watcher.start()
        with self.state.change():
            self.state.status = f"ROS graph{' ' + ns if ns else ''}: waiting for the scheduler ({ns}/execute_task)"
        self.memory_changed()
        deadline = time.monotonic() + timeout
        while not self.state.ready and time.monotonic() < deadline:
            time.sleep(0.1)

    def close(self) -> None:
        self._closing.set()
        if self._watcher.is_alive():
            self._watcher.join(timeout=5)
        if self._spun is not None:
            self._action.destroy()  # before the node: no request left in flight on a destroyed node
            self._spun.close()
            self._spun = None
        super().close()

    def _watch(self) -> None:
        """Whether the scheduler is there; the store's fingerprint (the scheduler writes it too)."""
        while not self._closing.is_set():
            ready = self._action.server_is_ready()
            if ready != self.state.ready:
                with self.state.change():
                    self.state.ready = ready
                    where = f" {self.ns}" if self.ns else ""
                    self.state.status = (f"ROS graph{where}: scheduler ready" if ready else
                                         f"ROS graph{where}: no scheduler on {self.ns}/execute_task; is "
                                         "`skillstack launch sim` running in this ROS domain?")
            self.memory_changed()
            self._follow_corrections()
            self._closing.wait(0.2)

    # -- topics ----------------------------------------------------------------------------------
    def _on_image(self, msg: Any) -> None:
        try:
            self.frames.put(encode_jpeg(rgb_from_image(msg)))
        except ValueError as err:
            log.warning("camera image not shown: %s", err)

    def _on_joints(self, msg: Any) -> None:
        now = time.monotonic()
        if now - self._last_arm < 1.0 / ARM_UPDATES_HZ:
            return
        self._last_arm = now
        names = list(msg.name)
        arm = [round(float(q), 4) for n, q in zip(names, msg.position) if "finger" not in n]
        with self.state.change():
            self.state.arm = {"joints": arm}

    def _on_hardware(self, msg: Any) -> None:
        if bool(msg.estopped) != self.state.estopped:
            with self.state.change():
                self.state.estopped = bool(msg.estopped)

    def _on_status(self, msg: Any) -> None:
        with self._lock:
            self._last_status = msg

    def _on_event(self, msg: Any) -> None:
        try:
            record = json.loads(msg.data)
        except json.JSONDecodeError:
            return
        if record.get("event") in ("correction_live", "correction_rejected"):
            self._live_event(record)
        with self.state.lock:
            view = self.state.tasks.get(self._events_for) if self._events_for is not None else None
        if view is None:
            return  # a task another client started: not the console's to show
        if record.get("event") == "task_start" and record.get("task") != view.task:
            return
        with self.state.change():
            view.apply_event(record)

    # -- tasks -----------------------------------------------------------------------------------
    def _start_task(self, task_id: int, text: str) -> None:
        if not self._action.server_is_ready():
            with self.state.change():
                self.state.tasks[task_id].finish("failed", f"no scheduler on {self.ns}/execute_task: is the graph "
                                                 "running (skillstack launch sim) in this ROS domain?")
            return
        with self._lock:
            self._goal, self._events_for = (task_id, None), task_id
        future = self._action.send_goal_async(self._goal_type(task=text),
                                              feedback_callback=lambda f: self._on_feedback(task_id, f.feedback))
        future.add_done_callback(lambda done: self._on_goal_response(task_id, done))

    def _view(self, task_id: int) -> TaskView:
        with self.state.lock:
            return self.state.tasks[task_id]

    def _on_goal_response(self, task_id: int, future: Any) -> None:
        handle = future.result()
        view = self._view(task_id)
        if not handle.accepted:
            self._end(task_id)
            with self._lock:
                self._events_for = None
            with self.state.change():
                view.finish("failed", "the scheduler rejected the task: it is busy with another client's task")
            return
        with self._lock:
            self._goal = (task_id, handle)
        if view.cancel_requested:
            _unawaited(handle.cancel_goal_async())
        handle.get_result_async().add_done_callback(lambda done: self._on_result(task_id, done))

    def _on_feedback(self, task_id: int, feedback: Any) -> None:
        view = self._view(task_id)
        with self.state.change():
            step = view.step(int(feedback.skill_index))
            if step.call == "?":
                step.call = step.skill = feedback.skill_name
            if step.state in ("pending", "running"):
                step.state, step.progress = "running", float(feedback.progress)
            view.message = feedback.message or view.message

    def _on_result(self, task_id: int, future: Any) -> None:
        result = future.result().result
        self._end(task_id)
        view = self._view(task_id)
        try:
            code = ErrorCode(result.error_code)
        except ValueError:
            code = ErrorCode.INTERNAL
        state = ("succeeded" if result.success else "refused" if code is ErrorCode.INVALID_TASK else
                 "canceled" if code is ErrorCode.CANCELED else "failed")
        with self.state.change():
            if list(result.plan) and len(view.plan) < len(result.plan):
                view.set_plan((c, None) for c in result.plan)
            for step, outcome in zip(view.plan, result.outcomes):  # one outcome per call, in order
                step.policy = outcome.policy or step.policy
                if step.state in ("pending", "running"):
                    step.state = "succeeded" if outcome.success else "failed"
                    step.message = outcome.message
            view.notes = list(result.notes) or view.notes
            view.finish(state, result.message, bool(result.success), zip(result.goals, result.goals_hold))

    def _end(self, task_id: int) -> None:
        with self._lock:
            if self._goal is not None and self._goal[0] == task_id:
                self._goal = None

    def _cancel(self, task_id: int) -> None:
        with self._lock:
            goal = self._goal
        if goal is not None and goal[0] == task_id and goal[1] is not None:
            _unawaited(goal[1].cancel_goal_async())
        # a goal still being sent is cancelled when it is accepted (_on_goal_response)

    # -- e-stop ----------------------------------------------------------------------------------
    def _trigger(self, client: Any, what: str) -> None:
        if not client.wait_for_service(timeout_sec=SERVICE_TIMEOUT_S):
            raise ConsoleError(503, f"no {what} service on {self.ns}/hardware: is the hardware node running?")
        future = client.call_async(Trigger.Request())
        deadline = time.monotonic() + SERVICE_TIMEOUT_S
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not future.done() or not future.result().success:
            message = future.result().message if future.done() else "no answer"
            raise ConsoleError(502, f"{what} failed: {message}")

    def estop(self) -> dict[str, Any]:
        self._trigger(self._estop, "e-stop")
        with self.state.change():
            self.state.estopped = True
        return {"estopped": True}

    def reset_estop(self) -> dict[str, Any]:
        self._trigger(self._reset, "e-stop reset")
        with self.state.change():
            self.state.estopped = False
        return {"estopped": False}

    # -- corrections -----------------------------------------------------------------------------
    def _correct(self, view: CorrectionView, text: str, source: str, task: str | None) -> Future[LiveResult]:
        """Published on the scheduler's topic (idle, the scheduler gives it its last task's context; `task` is
        not sent: the topic carries text only). Followed on `status`, `events` and the store."""
        if self._corrections.get_subscription_count() == 0:
            raise ConsoleError(503, f"nobody listens on {self.ns}/corrections: is the scheduler running?")
        try:
            after = max(self.store.ids(), default=0)
        except MEMORY_ERRORS as err:
            raise ConsoleError(503, f"the correction store is unavailable: {err}") from None
        sent = _SentCorrection(text, time.time(), after, Future())
        with self._lock:
            self._sent.append(sent)
        self._corrections.publish(String(data=text))
        return sent.future

    def _live_event(self, record: dict[str, Any]) -> None:
        """The scheduler's running skill took a correction (or could not understand it)."""
        with self._lock:
            sent = next((s for s in self._sent if s.text == record.get("text") and s.updates is None), None)
            if sent is None:
                return
            if record["event"] == "correction_rejected":
                self._sent.remove(sent)
            else:
                sent.updates = dict(record.get("updates") or {})
        if record["event"] == "correction_rejected":
            sent.future.set_result(LiveResult(sent.text, record.get("skill"), error=str(record.get("error"))))
        else:
            self._settle(sent, record.get("skill"))

    def _follow_corrections(self) -> None:
        """Resolve what the status acknowledgement or the store says about each correction followed."""
        with self._lock:
            status = self._last_status
            pending = list(self._sent)
        for sent in pending:
            ack = status.correction_ack if status is not None and status.last_correction == shorten(sent.text, 200) \
                and _stamp(status) >= sent.sent - 0.5 else ""
            if ack.startswith(("not understood", "ignored", "received")):
                self._forget(sent)
                sent.future.set_result(LiveResult(sent.text, error=ack.split(": ", 1)[-1] if ": " in ack else ack))
            elif ack.startswith("stored") or sent.updates is not None:
                self._settle(sent, None)
            elif time.time() - sent.sent > CORRECTION_FOLLOW_S:
                self._forget(sent)
                sent.future.set_result(LiveResult(sent.text, error="the scheduler did not say what became of it"))

    def _settle(self, sent: _SentCorrection, skill: str | None) -> None:
        """Resolve once the records it stored are in the store."""
        try:
            stored = [r for r in self.store.get_many(i for i in self.store.ids() if i > sent.after_id)
                      if r.source == "topic"]
        except MEMORY_ERRORS:
            stored = []
        if not stored and time.time() - sent.sent < 3.0:
            return  # the scheduler's transaction may not be visible yet: look again on the next round
        if self._forget(sent):
            sent.future.set_result(LiveResult(sent.text, skill, stored=stored, records=stored,
                                              updates=sent.updates or {}))

    def _forget(self, sent: _SentCorrection) -> bool:
        with self._lock:
            if sent in self._sent:
                self._sent.remove(sent)
                return True
            return False


def _stamp(msg: Any) -> float:
    return float(msg.stamp.sec) + msg.stamp.nanosec * 1e-9

