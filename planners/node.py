"""Scheduler node: the `execute_task` action server (skill_stack_interfaces/action/ExecuteTask).

It plans a task in words, retrieves skills and corrections, and sends each skill attempt to the skill server
(ExecuteSkill), whose control loop drives the arm; it judges success from the object states on `objects` and
the arm's joint states, and never commands the arm itself. `~/search` (SearchSkills) retrieves skills by
meaning (MiniLM + FAISS), which live here, not in the skill server.

One goal at a time: a goal that arrives while another runs is REJECTED (and the rejection is published on
`status`); queueing would start a motion the operator did not see coming. Cancel stops the arm at once.
Operator corrections arrive on `corrections` and go to `handle_correction`, the hook the corrections
work fills in; every correction is acknowledged on `status`.
Parameters: planners.node_config.SchedulerConfig (`scheduler --help` lists them).
"""
from __future__ import annotations

import json
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.node import Node
from std_msgs.msg import String

from hardware.ros.backend import RosArm
from hardware.ros.common import COMMAND_QOS, STATUS_QOS, declare_config, in_thread, spin_node
from hardware.ros.world import RosWorldView
from hardware.safety import SafetyError
from planners.corrections.context import CorrectionContext as DistillContext
from planners.corrections.context import CorrectionError
from planners.corrections.live import LiveCorrections
from planners.corrections.memory.retrieval import CorrectionMemory
from planners.corrections.runtime import record_correction
from planners.episode_log import EpisodeLog, jsonable
from planners.llm import LlmConfig, LlmPlanner
from planners.executor import ExecutionObserver
from planners.node_config import SchedulerConfig
from planners.plan import SkillCall, TaskError
from planners.ros.skill_client import RosSkillRunner
from planners.scheduler import Scheduler
from planners.task_result import ErrorCode, TaskResult, check_task_text, classify, params_json, shorten
from skill_lib.library import SkillLibrary
from skill_lib.node import skill_info
from skill_lib.outcome import SkillOutcome
from skill_lib.skills import default_skills

MAX_QUERY_CHARS = 500


@dataclass(frozen=True)
class CorrectionContext:
    """What was going on when a correction arrived."""

    text: str
    task: str | None
    skill_index: int | None
    skill_name: str | None
    running: bool


class _Feedback(ExecutionObserver):
    """Executor hooks -> action feedback (every skill start and end, progress at a bounded rate)."""

    def __init__(self, node: SchedulerNode, goal_handle, count: int) -> None:
        self.node, self.goal_handle, self.count = node, goal_handle, count
        self._last = 0.0

    def _send(self, index: int, name: str, progress: float, message: str) -> None:
        from skill_stack_interfaces.action import ExecuteTask

        fb = ExecuteTask.Feedback(skill_index=index, skill_count=self.count, skill_name=name,
                                  progress=float(progress), message=message)
        self.goal_handle.publish_feedback(fb)
        self.node.set_progress(index, self.count, name, progress, message)

    def skill_started(self, index: int, call: SkillCall, attempt: int) -> None:
        self._send(index, call.skill, 0.0, f"{'retrying' if attempt else 'starting'} {call}")

    def skill_progress(self, index: int, fraction: float) -> None:
        now = time.monotonic()
        if now - self._last >= 1.0 / self.node.config.feedback_rate:
            self._last = now
            self._send(index, self.node.current_skill or "", fraction, "running")

    def skill_finished(self, index: int, outcome: SkillOutcome) -> None:
        self._send(index, outcome.skill, 1.0, f"{outcome.skill}: {'ok' if outcome.success else outcome.message}")

    def replanned(self, round: int, reason: str, calls: list[SkillCall]) -> None:
        self.node.get_logger().info(f"re-plan {round}: {reason} -> {', '.join(str(c) for c in calls)}")
        self._send(self.count, "", 0.0, f"re-plan {round}: {reason}")
        self.count += len(calls)


class SchedulerNode(Node):
    def __init__(self, node_name: str = "scheduler", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        from skill_stack_interfaces.action import ExecuteTask
        from skill_stack_interfaces.msg import TaskStatus

        self._action_type, self._status_type = ExecuteTask, TaskStatus
        self.config = declare_config(self, SchedulerConfig)
        self.arm_config = self.config.link.arm
        self._connect_hardware()
        self._load_memory()
        #: corrections for the task that is running now (None when idle)
        self._live: LiveCorrections | None = None
        self._last_task: str | None = None
        self._lock = threading.Lock()
        self._busy = False
        self._status = TaskStatus(state=TaskStatus.STATE_IDLE, message="ready")
        self.current_skill: str | None = None
        self._serve()

    def _connect_hardware(self) -> None:
        """The arm (watched, not commanded) and the world view over ROS; the skill server's client."""
        self.arm = RosArm(self, self.arm_config, commands=False)
        self.world = RosWorldView(self, self.config.link.objects_topic, self.arm_config.state_timeout)
        self.skill_runner = RosSkillRunner(self, self.config.skill_action, self.config.skill_updates_topic)

    def _load_memory(self) -> None:
        """The correction memory (if corrections are on) and the scheduler that plans with it."""
        cfg = self.config
        planner = llm_planner(cfg.planner)  # a bad choice fails before seconds of loading
        self.memory = CorrectionMemory.open(cfg.corrections_db or None) if cfg.use_corrections else None
        library = SkillLibrary(default_skills(), index_dir=Path(cfg.index_dir) if cfg.index_dir else None)
        # Load the embedding model now, not at a task's first retrieval or search: loading takes seconds.
        library.embedder.encode(["warm up"])
        self._search_lock = threading.Lock()  # the embedder is not safe to call from several threads at once
        # policies are the skill server's: it chooses learned or scripted for each attempt
        self.scheduler = Scheduler(library=library, corrections=self.memory, learned=False,
                                   replans=self.config.replans, planner=planner)

    def _serve(self) -> None:
        """Status publisher, corrections subscriber and the action server: the node is reachable from here on."""
        cfg = self.config
        self._status_pub = self.create_publisher(self._status_type, cfg.status_topic, STATUS_QOS)
        self._events_pub = self.create_publisher(String, cfg.events_topic, COMMAND_QOS)  # reliable, no replay
        self.create_subscription(String, cfg.corrections_topic, self._on_correction, COMMAND_QOS)
        #: a running task's own thread: callbacks never wait for it
        self._task_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="task")
        self._server = ActionServer(self, self._action_type, cfg.action_name, execute_callback=self._execute,
                                    goal_callback=self._on_goal, cancel_callback=lambda _: CancelResponse.ACCEPT)
        from skill_stack_interfaces.srv import SearchSkills
        self.create_service(SearchSkills, "~/search", self._on_search)
        self.create_timer(1.0, self._publish_status)
        self._publish_status()
        self.get_logger().info(f"ready: action {cfg.action_name}, skills run by {cfg.skill_action}, arm state on "
                               f"{self.arm_config.joint_states_topic}")

    # -- status ---------------------------------------------------------------------------------
    def hardware_ok(self) -> bool:
        arm_age, world_age = self.arm.state_age(), self.world.age()
        limit = self.arm_config.state_timeout
        return arm_age is not None and arm_age < limit and world_age is not None and world_age < limit

    def _publish_status(self, **changes) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(self._status, key, value)
            self._status.stamp = self.get_clock().now().to_msg()
            self._status.hardware_ok = self.hardware_ok() and self.skill_runner.ready(timeout=0.0)
            self._status_pub.publish(self._status)

    def _publish_event(self, record: dict[str, Any]) -> None:
        self._events_pub.publish(String(data=json.dumps(record, default=jsonable)))

    def set_progress(self, index: int, count: int, name: str, progress: float, message: str) -> None:
        self.current_skill = name
        self._publish_status(skill_index=index, skill_count=count, skill_name=name, progress=float(progress),
                             message=message)

    # -- goals ----------------------------------------------------------------------------------
    def _on_goal(self, goal) -> GoalResponse:
        with self._lock:
            busy, self._busy = self._busy, True
        if busy:
            self.get_logger().warning(f"goal rejected, busy: {shorten(goal.task)!r}")
            self._publish_status(state=self._status_type.STATE_REJECTED,
                                 message=f"rejected {shorten(goal.task)!r}: busy with {shorten(self._status.task)!r}")
            self._publish_status(state=self._status_type.STATE_RUNNING)
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    async def _execute(self, goal_handle):
        # the task runs on its own thread: joint states, the skill server's answers, cancels and corrections
        # keep arriving meanwhile
        return await in_thread(self, self._task_thread, self._execute_task, goal_handle)

    def _execute_task(self, goal_handle):
        try:
            result = self._run(goal_handle)
        except SafetyError as err:  # the arm or the world view vanished outside a skill
            result = TaskResult(False, f"hardware: {err}", ErrorCode.HARDWARE)
        except Exception as err:  # the node must keep serving: report, log the trace, stay up
            self.get_logger().error(f"task failed with an internal error: {traceback.format_exc()}")
            result = TaskResult(False, f"internal error: {type(err).__name__}: {err}", ErrorCode.INTERNAL)
        finally:
            self.current_skill = None
        state = self._status_type
        if result.error == ErrorCode.CANCELED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
            final = state.STATE_CANCELED
        elif result.success:
            goal_handle.succeed()
            final = state.STATE_SUCCEEDED
        else:
            goal_handle.abort()
            final = state.STATE_FAILED
        line = f"task {shorten(goal_handle.request.task)!r}: {final}: {result.message}"
        if result.success:  # one severity per logging call site (rclpy)
            self.get_logger().info(line)
        else:
            self.get_logger().warning(line)
        self._publish_status(state=final, message=result.message)
        with self._lock:
            self._busy = False
        return self._to_msg(result)

    def _run(self, goal_handle) -> TaskResult:
        goal = goal_handle.request
        task = goal.task
        self._publish_status(state=self._status_type.STATE_RUNNING, task=shorten(task, 200), skill_index=0,
                             skill_count=0, skill_name="", progress=0.0, message="planning")
        refused = check_task_text(task)
        if refused:
            return TaskResult(False, f"invalid task: {refused}", ErrorCode.INVALID_TASK)
        deadline = time.monotonic() + self.config.ready_timeout
        while not self.hardware_ok() and time.monotonic() < deadline:
            self.arm.wait_ready(timeout=0.1)
        if not self.hardware_ok():
            return TaskResult(False, "hardware not available: no fresh joint states on "
                              f"{self.arm_config.joint_states_topic} or object states; is the hardware node "
                              "(or the robot's controllers and perception) running?", ErrorCode.HARDWARE)
        if not self.skill_runner.ready(timeout=max(0.0, deadline - time.monotonic())):
            return TaskResult(False, f"hardware not available: no skill server on {self.config.skill_action}; is "
                              "the skill_server node running?", ErrorCode.HARDWARE)
        try:
            plan = self.scheduler.plan(task, self.world)
        except TaskError as err:
            return TaskResult(False, f"invalid task: {err}", ErrorCode.INVALID_TASK)
        calls = [str(c) for c in plan.calls]
        if goal.dry_run:
            return TaskResult(False, f"dry run: planned {len(calls)} skill(s); nothing was executed or checked",
                              ErrorCode.NONE, calls, list(plan.notes))
        timeout = goal.timeout if goal.timeout > 0 else self.config.task_timeout
        deadline = time.monotonic() + timeout
        timed_out = [False]

        def should_stop() -> bool:
            if time.monotonic() > deadline:
                timed_out[0] = True
            return goal_handle.is_cancel_requested or timed_out[0] or not goal_handle.is_active

        self._last_task = task
        events = EpisodeLog(None, listeners=[self._publish_event])  # the episode log, as a topic
        self._live = LiveCorrections(task, self.world, self.memory, log=events, notify=self.get_logger().info)
        try:
            report = self.scheduler.execute(plan, self.arm, self.world, log=events,
                                            observer=_Feedback(self, goal_handle, len(plan.calls)),
                                            should_stop=should_stop, live=self._live, runner=self.skill_runner)
        finally:
            self._live = None
        canceled = goal_handle.is_cancel_requested
        result = classify(report, canceled=canceled, timed_out=timed_out[0] and not canceled)
        result.notes = list(plan.notes)
        return result

    def _to_msg(self, result: TaskResult):
        from skill_stack_interfaces.msg import SkillOutcome as OutcomeMsg

        msg = self._action_type.Result(success=result.success, message=result.message, error_code=int(result.error),
                                       plan=result.plan, notes=result.notes)
        if result.report is not None:
            msg.outcomes = [OutcomeMsg(skill=o.skill, params_json=params_json(o.params), success=o.success,
                                       message=o.message, policy=o.policy, steps=o.steps,
                                       seconds=float(o.sim_seconds)) for o in result.report.outcomes]
            msg.goals = [g for g, _ in result.report.goals]
            msg.goals_hold = [bool(ok) for _, ok in result.report.goals]
        return msg

    # -- search ---------------------------------------------------------------------------------
    def _on_search(self, request: Any, response: Any) -> Any:
        query = " ".join(request.query.split())
        if not query or len(query) > MAX_QUERY_CHARS or not query.isprintable():
            response.success = False
            response.message = f"the query must be non-empty plain text of at most {MAX_QUERY_CHARS} characters"
            return response
        library = self.scheduler.library
        k = min(request.k or 3, self.config.max_results, len(library))
        with self._search_lock:
            matches = library.search(query, k=k)
        response.success, response.message = True, f"{len(matches)} skill(s), best first"
        response.skills = [skill_info(m.skill) for m in matches]
        response.scores = [float(m.score) for m in matches]
        return response

    # -- corrections ----------------------------------------------------------------------------
    def _on_correction(self, msg: String) -> None:
        text = " ".join(msg.data.split())
        with self._lock:
            running = self._busy
            task = self._status.task or None
        context = CorrectionContext(text, task if running else None, self._status.skill_index if running else None,
                                    self.current_skill if running else None, running)
        if not text or check_task_text(text):
            ack = "ignored: a correction must be non-empty plain text of at most 500 characters"
        else:
            ack = self.handle_correction(context)
        self.get_logger().info(f"correction {shorten(text)!r}: {ack}")
        self._publish_status(last_correction=shorten(text, 200), correction_ack=ack)

    def handle_correction(self, context: CorrectionContext) -> str:
        """HOOK: store and apply one operator correction; returns the acknowledgement put on `status`.

        While a task runs the correction goes to the running skill (its control loop applies it); when
        idle it is distilled and stored for the next matching task. A subclass overrides this to handle
        corrections otherwise. With corrections off (`use_corrections: false`) it is only acknowledged.
        """
        live = self._live
        if live is not None:  # applied inside the running skill's control loop
            live.submit(context.text, "topic")
            return f"queued for the running skill ({context.skill_name or 'planning'})"
        if self.memory is not None:  # idle: remember it for the next matching task
            try:
                records = record_correction(context.text, DistillContext(
                    task=self._last_task, objects=self.world.objects() if self.hardware_ok() else None,
                    source="topic"), self.memory)
            except CorrectionError as err:
                return f"not understood: {err}"
            return "stored: " + "; ".join(json.dumps(r.knowledge, sort_keys=True) for r in records)
        where = f" during {context.skill_name} of {shorten(context.task or '')!r}" if context.running else ""
        return f"received{where}; not applied (use_corrections is false)"

    def close(self) -> None:
        self._server.destroy()
        self._task_thread.shutdown(wait=True, cancel_futures=True)
        self.skill_runner.close()
        self.world.close()
        self.arm.close()


def llm_planner(choice: str) -> LlmPlanner | None:
    """The planner the `planner` parameter asks for: None for the parser; the LLM planner from the environment
    (SKILL_STACK_LLM_URL, docs/LLM_PLANNER.md). Raises ValueError for anything else or a missing URL."""
    if choice == "parser":
        return None
    if choice != "llm":
        raise ValueError(f"planner must be 'parser' or 'llm', got {choice!r}")
    config = LlmConfig.from_env()
    if config is None:
        raise ValueError("planner 'llm' needs SKILL_STACK_LLM_URL in the node's environment (docs/LLM_PLANNER.md)")
    return LlmPlanner(config)


def main(args: list[str] | None = None) -> int:
    # one executor thread: a task runs on its own thread and its goal awaits it (rclpy's multi-threaded
    # executor re-polls a running goal's task in a busy loop)
    return spin_node(SchedulerNode, SchedulerConfig, args=args)


if __name__ == "__main__":
    raise SystemExit(main())
