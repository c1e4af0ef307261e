"""Skill server node: the skills on ROS 2, and the control loop next to the arm.

`execute_skill` (skill_stack_interfaces/action/ExecuteSkill): runs one skill in its control loop on the arm
(hardware.ros: joint states in, joint trajectories out, every command through the safety filter), with the
learned policy where one exists and does not decline; one goal at a time (another is rejected); a cancel wakes
the loop at once, which sends the hold. `~/parameter_updates` (std_msgs/String, a JSON object of parameters) changes
the running skill's parameters inside its loop (an operator's live correction). `~/catalogue`
(skill_stack_interfaces/SkillCatalogue, transient-local): every skill, published once, so a late subscriber
still gets it. The process stays small: no language model, index or database (search is the scheduler's).
Parameters: skill_lib.node_config.SkillServerConfig (`skill_server --help` lists them).
"""
from __future__ import annotations

import json
import queue
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.node import Node
from std_msgs.msg import String

from hardware.ros.backend import RosArm
from hardware.ros.common import COMMAND_QOS, LATCHED_QOS, declare_config, in_thread, spin_node
from hardware.ros.world import RosWorldView
from hardware.realtime import make_realtime
from skill_lib.learning.policy import with_learned_policies
from skill_lib.node_config import SkillServerConfig
from skill_lib.outcome import OutcomeKind, SkillOutcome
from skill_lib.runner import LocalSkillRunner
from skill_lib.skills import default_skills
from skill_lib.spec import ParamSpec, SkillParamError, SkillSpec


def _describe_param(p: ParamSpec) -> str:
    need = "required" if p.required else f"default {p.default!r}"
    return f"{p.name}: {p.kind} ({need}) - {p.doc}"


def skill_info(spec: SkillSpec) -> Any:
    """A skill as a skill_stack_interfaces/SkillInfo message (the catalogue's, and search results')."""
    from skill_stack_interfaces.msg import SkillInfo

    return SkillInfo(name=spec.name, description=spec.description, phrasings=list(spec.phrasings),
                     parameters=[_describe_param(p) for p in spec.params])


class SkillServerNode(Node):
    def __init__(self, node_name: str = "skill_server", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        from skill_stack_interfaces.msg import SkillCatalogue

        self.config = declare_config(self, SkillServerConfig)
        specs = default_skills()
        catalogue = self.create_publisher(SkillCatalogue, "~/catalogue", LATCHED_QOS)
        catalogue.publish(SkillCatalogue(stamp=self.get_clock().now().to_msg(), skills=[skill_info(s) for s in specs]))
        self._serve_skills()
        self.get_logger().info(f"{len(specs)} skills: {', '.join(s.name for s in specs)}; action "
                               f"{self.config.execute_action}, arm on {self.arm_config.joint_states_topic} -> "
                               f"{self.arm_config.command_topic}")

    # -- ExecuteSkill ---------------------------------------------------------------------------
    def _serve_skills(self) -> None:
        """The arm and the world over ROS, the skills with their learned policies, the action. Callbacks run on
        the executor's one thread and never wait; skills run on the control thread."""
        from skill_stack_interfaces.action import ExecuteSkill

        cfg = self.config
        self.arm_config = cfg.arm_config()
        self.arm = RosArm(self, self.arm_config)
        self.world = RosWorldView(self, cfg.link.objects_topic, self.arm_config.state_timeout)
        self.skills = {s.name: s for s in with_learned_policies(default_skills(), only=set(cfg.learned_skills))}
        self.runner = LocalSkillRunner(self.skills, self.arm, self.world)
        self._busy = threading.Lock()
        #: the control loop's own thread, at real-time priority: a skill never runs on (or waits for) the
        #: executor's thread
        self._control = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="control",
            initializer=lambda: self.get_logger().info(make_realtime(cfg.realtime_priority)))
        self._control.submit(lambda: None)  # start it now: its scheduling is logged at start-up
        #: parameter updates for the running skill, from ~/parameter_updates
        self._updates: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.create_subscription(String, "~/parameter_updates", self._on_parameter_update, COMMAND_QOS)
        self._action_type = ExecuteSkill
        self._execute_server = ActionServer(
            self, ExecuteSkill, self.config.execute_action, execute_callback=self._execute,
            goal_callback=self._on_goal, cancel_callback=self._on_cancel)

    def _on_goal(self, goal: Any) -> GoalResponse:
        if not self._busy.acquire(blocking=False):  # released when the running goal ends
            self.get_logger().warning(f"ExecuteSkill goal {goal.skill!r} rejected: a skill is running")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _on_cancel(self, _: Any) -> CancelResponse:
        self.arm.interrupt()  # the loop sees the cancel now, not at the end of its period
        return CancelResponse.ACCEPT

    def _on_parameter_update(self, msg: String) -> None:
        try:
            update = json.loads(msg.data)
        except ValueError:
            update = None
        if not isinstance(update, dict):
            self.get_logger().warning(f"parameter update ignored: not a JSON object: {msg.data[:80]!r}")
            return
        self._updates.put(update)

    async def _execute(self, goal_handle: Any) -> Any:
        try:
            outcome, fallback = await in_thread(self, self._control, self._run, goal_handle)
        except Exception as err:  # the node must keep serving: report, log the trace, hold the arm
            self.get_logger().error(f"ExecuteSkill failed with an internal error: {traceback.format_exc()}")
            self.arm.stop_motion()
            request = goal_handle.request
            outcome = SkillOutcome(request.skill, {}, OutcomeKind.ERROR, f"internal error: {type(err).__name__}: "
                                   f"{err}")
            fallback = None
        finally:
            self.arm.forget_targets()
            self._busy.release()
        if outcome.kind is OutcomeKind.STOPPED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        elif outcome.success:
            goal_handle.succeed()
        else:
            goal_handle.abort()
        self.get_logger().info(f"{outcome.skill}: {outcome.kind.value}: {outcome.message}")
        return self._action_type.Result(
            outcome=outcome.kind.value, success=outcome.success, message=outcome.message,
            failed_conditions=list(outcome.failed_conditions), policy=outcome.policy, fallback=fallback or "",
            params_json=json.dumps(outcome.params, default=str), steps=outcome.steps,
            seconds=float(outcome.sim_seconds))

    def _run(self, goal_handle: Any) -> tuple[SkillOutcome, str | None]:
        """One skill attempt on the arm: the outcome, and why the scripted controller ran if it did."""
        goal = goal_handle.request
        spec = self.skills.get(goal.skill)
        try:
            params = json.loads(goal.params_json or "{}")
        except ValueError as err:
            params = f"not JSON ({err})"
        if spec is None or not isinstance(params, dict):
            why = f"unknown skill {goal.skill!r}; known: {', '.join(self.skills)}" if spec is None else \
                f"params_json must be a JSON object, got {goal.params_json[:80]!r}: {params}"
            return SkillOutcome(goal.skill, {}, OutcomeKind.BAD_PARAMETERS, f"bad parameters: {why}"), None
        while not self._updates.empty():  # updates meant for an earlier skill
            self._updates.get_nowait()
        self.arm.wait_ready(timeout=self.arm_config.state_timeout)
        feedback = _SkillFeedback(goal_handle, self._action_type, self.config.feedback_rate, params)

        def param_updates() -> dict[str, Any] | None:
            merged: dict[str, Any] = {}
            while not self._updates.empty():
                merged.update(self._updates.get_nowait())
            if not merged:
                return None
            try:
                spec.bind({**params, **merged})
            except SkillParamError as err:  # a bad correction never stops the skill
                self.get_logger().warning(f"parameter update {merged} refused: {err}")
                return None
            params.update(merged)
            feedback.send(feedback.step, feedback.progress, force=True)
            return merged

        outcome = self.runner.run(spec.name, params, scripted=goal.scripted, on_start=feedback.start,
                                  on_step=feedback.send,
                                  should_stop=lambda: goal_handle.is_cancel_requested or not goal_handle.is_active,
                                  param_updates=param_updates)
        if not outcome.success:
            self.arm.stop_motion()
        return outcome, feedback.fallback or None

    def close(self) -> None:
        self._execute_server.destroy()
        self._control.shutdown(wait=True, cancel_futures=True)
        self.world.close()
        self.arm.close()


class _SkillFeedback:
    """ExecuteSkill feedback at a bounded rate (always when the policy is chosen and when parameters change)."""

    def __init__(self, goal_handle: Any, action_type: Any, rate: float, params: dict[str, Any]) -> None:
        self.goal_handle, self.action_type, self.params = goal_handle, action_type, params
        self.period = 1.0 / max(rate, 0.1)
        self.policy, self.fallback = "", ""
        self.step, self.progress, self._last = 0, 0.0, float("-inf")

    def start(self, policy: str, fallback: str | None) -> None:
        self.policy, self.fallback = policy, fallback or ""
        self.send(0, 0.0, force=True)

    def send(self, step: int, progress: float, force: bool = False) -> None:
        self.step, self.progress = step, progress
        now = time.monotonic()
        if force or now - self._last >= self.period:
            self._last = now
            self.goal_handle.publish_feedback(self.action_type.Feedback(
                step=step, progress=float(progress), policy=self.policy, fallback=self.fallback,
                params_json=json.dumps(self.params, default=str)))


def main(args: list[str] | None = None) -> int:
    # One executor thread is enough (a running skill is on the control thread, its goal awaits it), and
    # cheaper: rclpy's multi-threaded executor re-polls a running goal's task in a busy loop.
    return spin_node(SkillServerNode, SkillServerConfig, args=args)


if __name__ == "__main__":
    raise SystemExit(main())
