"""Skill server node: the skill library on ROS 2, and the control loop next to the arm.

`~/catalogue` (skill_stack_interfaces/SkillCatalogue, transient-local): every skill, published once, so a
late subscriber still gets it. `~/search` (skill_stack_interfaces/SearchSkills): retrieval by meaning
(MiniLM + FAISS). The embedding model loads on the first search, or at start-up with `preload_model`.
`execute_skill` (skill_stack_interfaces/action/ExecuteSkill): runs one skill in its control loop on the arm
(hardware.ros: joint states in, joint trajectories out, every command through the safety filter), with the
learned policy where one exists and does not decline; one goal at a time (another is rejected), cancel stops
the arm within a control period. `~/parameter_updates` (std_msgs/String, a JSON object of parameters) changes
the running skill's parameters inside its loop (an operator's live correction).
Parameters: skill_lib.node_config.SkillServerConfig (`skill_server --help` lists them).
"""
from __future__ import annotations

import json
import queue
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import String

from hardware.ros.backend import RosArm
from hardware.ros.common import COMMAND_QOS, LATCHED_QOS, declare_config, spin_node
from hardware.ros.world import RosWorldView
from skill_lib.learning.policy import with_learned_policies
from skill_lib.library import SkillLibrary
from skill_lib.node_config import SkillServerConfig
from skill_lib.outcome import OutcomeKind, SkillOutcome
from skill_lib.runner import choose_policy, run_skill
from skill_lib.skills import default_skills
from skill_lib.spec import SkillParamError, SkillSpec

MAX_QUERY_CHARS = 500


def _describe_param(p) -> str:
    need = "required" if p.required else f"default {p.default!r}"
    return f"{p.name}: {p.kind} ({need}) - {p.doc}"


class SkillServerNode(Node):
    def __init__(self, node_name: str = "skill_server", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        from skill_stack_interfaces.msg import SkillCatalogue
        from skill_stack_interfaces.srv import SearchSkills

        self.config = declare_config(self, SkillServerConfig)
        index_dir = self.config.index_dir
        self.library = SkillLibrary(default_skills(), index_dir=Path(index_dir) if index_dir else None)
        self._search_lock = threading.Lock()
        catalogue = self.create_publisher(SkillCatalogue, "~/catalogue", LATCHED_QOS)
        msg = SkillCatalogue(stamp=self.get_clock().now().to_msg(), skills=[self._info(s) for s in self.library])
        catalogue.publish(msg)
        self.create_service(SearchSkills, "~/search", self._on_search)
        if self.config.preload_model:
            threading.Thread(target=lambda: self.library.embedder, daemon=True).start()
        self._serve_skills()
        self.get_logger().info(f"{len(self.library)} skills: {', '.join(self.library.names())}")

    # -- ExecuteSkill ---------------------------------------------------------------------------
    def _serve_skills(self) -> None:
        """The arm and world over ROS (their states on a callback group of their own, so they keep arriving
        while a skill's loop blocks another thread), the skills with their learned policies, the action."""
        from skill_stack_interfaces.action import ExecuteSkill

        control = self.config.control
        self.arm_config = control.arm_config()
        sensors = ReentrantCallbackGroup()
        self.arm = RosArm(self, self.arm_config, callback_group=sensors)
        self.world = RosWorldView(self, control.objects_topic, self.arm_config.state_timeout,
                                  callback_group=sensors)
        self.skills = {s.name: s for s in with_learned_policies(default_skills(), only=set(control.learned_skills))}
        self._busy = threading.Lock()
        #: parameter updates for the running skill, from ~/parameter_updates
        self._updates: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.create_subscription(String, "~/parameter_updates", self._on_parameter_update, COMMAND_QOS,
                                 callback_group=MutuallyExclusiveCallbackGroup())
        self._action_type = ExecuteSkill
        self._execute_server = ActionServer(
            self, ExecuteSkill, self.config.execute_action, execute_callback=self._execute,
            goal_callback=self._on_goal, cancel_callback=lambda _: CancelResponse.ACCEPT,
            callback_group=ReentrantCallbackGroup())

    def _on_goal(self, goal: Any) -> GoalResponse:
        if not self._busy.acquire(blocking=False):  # released when the running goal ends
            self.get_logger().warning(f"ExecuteSkill goal {goal.skill!r} rejected: a skill is running")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _on_parameter_update(self, msg: String) -> None:
        try:
            update = json.loads(msg.data)
        except ValueError:
            update = None
        if not isinstance(update, dict):
            self.get_logger().warning(f"parameter update ignored: not a JSON object: {msg.data[:80]!r}")
            return
        self._updates.put(update)

    def _execute(self, goal_handle: Any) -> Any:
        try:
            outcome, fallback = self._run(goal_handle)
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
        if goal.scripted:
            policy, fallback = spec.scripted(), None
        else:
            policy, fallback = choose_policy(spec, self.world, params)
        feedback = _SkillFeedback(goal_handle, self._action_type, policy.kind, fallback, self.config.feedback_rate)
        feedback.send(0, 0.0, params)

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
            feedback.send(feedback.step, feedback.progress, params, force=True)
            return merged

        outcome = run_skill(spec, params, self.arm, self.world, policy=policy,
                            on_step=lambda step, progress: feedback.send(step, progress, params),
                            should_stop=lambda: goal_handle.is_cancel_requested or not goal_handle.is_active,
                            param_updates=param_updates)
        if not outcome.success:
            self.arm.stop_motion()
        return outcome, fallback

    @staticmethod
    def _info(spec: SkillSpec):
        from skill_stack_interfaces.msg import SkillInfo

        return SkillInfo(name=spec.name, description=spec.description, phrasings=list(spec.phrasings),
                         parameters=[_describe_param(p) for p in spec.params])

    def _on_search(self, request, response):
        query = " ".join(request.query.split())
        if not query or len(query) > MAX_QUERY_CHARS or not query.isprintable():
            response.success = False
            response.message = f"the query must be non-empty plain text of at most {MAX_QUERY_CHARS} characters"
            return response
        k = min(request.k or 3, self.config.max_results, len(self.library))
        with self._search_lock:  # the embedder is not safe to call from several threads at once
            matches = self.library.search(query, k=k)
        response.success, response.message = True, f"{len(matches)} skill(s), best first"
        response.skills = [self._info(m.skill) for m in matches]
        response.scores = [float(m.score) for m in matches]
        return response


    def close(self) -> None:
        self._execute_server.destroy()
        self.world.close()
        self.arm.close()


class _SkillFeedback:
    """ExecuteSkill feedback at a bounded rate (always the first message and parameter changes)."""

    def __init__(self, goal_handle: Any, action_type: Any, policy: str, fallback: str | None, rate: float) -> None:
        self.goal_handle, self.action_type = goal_handle, action_type
        self.policy, self.fallback, self.period = policy, fallback or "", 1.0 / max(rate, 0.1)
        self.step, self.progress, self._last = 0, 0.0, float("-inf")

    def send(self, step: int, progress: float, params: dict[str, Any], force: bool = False) -> None:
        self.step, self.progress = step, progress
        now = time.monotonic()
        if force or now - self._last >= self.period:
            self._last = now
            self.goal_handle.publish_feedback(self.action_type.Feedback(
                step=step, progress=float(progress), policy=self.policy, fallback=self.fallback,
                params_json=json.dumps(params, default=str)))


def main(args: list[str] | None = None) -> int:
    # several threads: a running skill blocks one while joint states, object states, cancels and parameter
    # updates need others
    return spin_node(SkillServerNode, SkillServerConfig,
                     make_executor=lambda: MultiThreadedExecutor(num_threads=4), args=args)


if __name__ == "__main__":
    raise SystemExit(main())
