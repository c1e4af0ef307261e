"""The skill runner that sends each skill attempt to the skill server (ExecuteSkill), so the control loop runs
next to the arm and the scheduler only supervises: it forwards live corrections as parameter updates and
cancels the goal when the task must stop."""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from rclpy.node import Node
from std_msgs.msg import String

from hardware.ros.common import COMMAND_QOS, ActionClient
from skill_lib.outcome import OutcomeKind, SkillOutcome
from skill_lib.runner import SkillRunner, StartHook

#: how often the waiting thread looks at the goal (stop requests, live corrections)
POLL_S = 0.01


class RosSkillRunner(SkillRunner):
    """ExecuteSkill goals from `node` (spun by an executor in another thread than the one that runs skills)."""

    def __init__(self, node: Node, action: str, updates_topic: str, response_timeout: float = 5.0) -> None:
        from skill_stack_interfaces.action import ExecuteSkill

        self._action_type, self.action_name = ExecuteSkill, action
        self._client: ActionClient = ActionClient(node, ExecuteSkill, action)
        self._updates = node.create_publisher(String, updates_topic, COMMAND_QOS)
        self.response_timeout = response_timeout

    def ready(self, timeout: float) -> bool:
        """True once the skill server's action is reachable."""
        return bool(self._client.wait_for_server(timeout_sec=timeout))

    def run(self, skill: str, params: Mapping[str, Any], *, scripted: bool = False,
            on_start: StartHook | None = None, on_step: Callable[[int, float], None] | None = None,
            should_stop: Callable[[], bool] | None = None,
            param_updates: Callable[[], Mapping[str, Any] | None] | None = None) -> SkillOutcome:
        started: list[bool] = []

        def start_once(policy: str, fallback: str) -> None:
            if not started and on_start is not None:
                on_start(policy, fallback or None)
            started.append(True)

        def on_feedback(message: Any) -> None:
            fb = message.feedback
            start_once(fb.policy, fb.fallback)
            if on_step is not None and fb.step:
                on_step(int(fb.step), float(fb.progress))

        goal = self._action_type.Goal(skill=skill, params_json=json.dumps(dict(params), default=str),
                                      scripted=scripted)
        handle = self._wait(self._client.send_goal_async(goal, feedback_callback=on_feedback), self.response_timeout)
        if handle is None or not handle.accepted:
            why = "did not answer" if handle is None else "rejected the goal (is another client running skills?)"
            return SkillOutcome(skill, dict(params), OutcomeKind.SAFETY_STOP,
                                f"safety stop: the skill server ({self.action_name}) {why}")
        result_future = handle.get_result_async()
        canceling = False
        while not result_future.done():
            if not canceling and should_stop is not None and should_stop():
                handle.cancel_goal_async()  # the skill server holds the arm at once
                canceling = True
            if param_updates is not None and (updates := param_updates()):
                self._updates.publish(String(data=json.dumps(dict(updates), default=str)))
            time.sleep(POLL_S)
        result = result_future.result().result
        start_once(result.policy, result.fallback)
        return SkillOutcome(skill, json.loads(result.params_json or "{}") or dict(params), OutcomeKind(result.outcome),
                            result.message, int(result.steps), float(result.seconds), result.policy or "scripted",
                            list(result.failed_conditions))

    @staticmethod
    def _wait(future: Any, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while not future.done():
            if time.monotonic() > deadline:
                return None
            time.sleep(POLL_S)
        return future.result()

    def close(self) -> None:
        self._client.destroy()
