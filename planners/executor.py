"""Runs a plan skill by skill: checks each postcondition in the world, retries as the skill says, then
checks the task's goals. When a skill still fails, or the goals do not hold at the end (the world changed under
the robot), it re-plans from the world as it is for the goals not yet holding (planners.replan), up to
`replans` times. Every step and every replan goes to the episode log. Which policy runs and how a skill retries
are the skill's to say (skill_lib); the executor only sequences."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from hardware.arm import ArmInterface, WorldView
from planners.corrections.live import LiveCorrections
from planners.episode_log import EpisodeLog
from planners.goals import ARM_GOALS, describe, follow, goal_holds
from planners.plan import Goal, Plan, SkillCall, TaskError
from planners.replan import replan
from planners.recording import VideoRecorder
from skill_lib.outcome import SkillOutcome
from skill_lib.runner import LocalSkillRunner, SkillRunner
from skill_lib.spec import RetryContext, SkillParamError, SkillSpec

SETTLE_STEPS = 10
#: how many times a task is re-planned from the world as it is before it is reported as failed
REPLANS = 2


class ExecutionObserver:
    """Hooks for progress display; every method is optional."""

    def skill_started(self, index: int, call: SkillCall, attempt: int) -> None: ...

    def skill_progress(self, index: int, fraction: float) -> None: ...

    def skill_finished(self, index: int, outcome: SkillOutcome) -> None: ...

    def replanned(self, round: int, reason: str, calls: list[SkillCall]) -> None: ...


@dataclass
class TaskReport:
    task: str
    plan: list[str]
    success: bool
    message: str
    outcomes: list[SkillOutcome] = field(default_factory=list)
    goals: list[tuple[str, bool]] = field(default_factory=list)
    sim_seconds: float = 0.0
    #: why each re-plan happened, in order
    replans: list[str] = field(default_factory=list)


class Executor:
    def __init__(self, arm: ArmInterface, world: WorldView, skills: Mapping[str, SkillSpec], *,
                 retries: int = 1, replans: int = REPLANS, log: EpisodeLog | None = None,
                 recorder: VideoRecorder | None = None, observer: ExecutionObserver | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 prepare_call: Callable[[int, SkillCall], SkillCall] | None = None,
                 live: LiveCorrections | None = None, runner: SkillRunner | None = None) -> None:
        self.arm, self.world, self.skills = arm, world, skills
        #: where each skill attempt runs: in this process by default, or in the skill server (ROS)
        self.runner = runner or LocalSkillRunner(skills, arm, world)
        #: called before each skill attempt; may return the call with adjusted parameters (corrections)
        self.prepare_call = prepare_call
        #: corrections arriving mid-skill, applied inside the running control loop
        self.live = live
        self.retries, self.replans, self.log, self.recorder = retries, replans, log, recorder
        self.observer = observer or ExecutionObserver()
        self.should_stop = should_stop
        #: object positions when the current call's first attempt started
        self._attempt_start: dict[str, np.ndarray] = {}
        #: the running task's goals, as the corrections applied so far have moved them
        self._goals: list[Goal] = []

    def _log(self, event: str, **data) -> None:
        if self.log is not None:
            self.log.write(event, **data)

    def _run_call(self, index: int, call: SkillCall, attempt: int, *, scripted: bool = False) -> SkillOutcome:
        planned = call
        if self.prepare_call is not None:
            call = self.prepare_call(index, call)
        self.observer.skill_started(index, call, attempt)

        def on_start(policy: str, fallback: str | None) -> None:
            why = {"fallback": fallback} if fallback else {}
            self._log("skill_start", index=index, skill=call.skill, params=call.params, attempt=attempt,
                      policy=policy, **why)

        def on_step(step: int, progress: float) -> None:
            if self.recorder is not None:
                self.recorder.on_step()
            self.observer.skill_progress(index, progress)

        params = dict(call.params)

        def param_updates() -> dict | None:
            updates = self.live.updates_for(call, params) if self.live is not None else None
            if updates:
                params.update(updates)
            return updates

        outcome = self.runner.run(call.skill, call.params, scripted=scripted, on_start=on_start, on_step=on_step,
                                  should_stop=self.should_stop, param_updates=param_updates)
        self.observer.skill_finished(index, outcome)
        self._follow_corrections(planned, params)
        self._log("skill_end", index=index, skill=call.skill, success=outcome.success, message=outcome.message,
                  outcome=outcome.kind.value, steps=outcome.steps, sim_seconds=round(outcome.sim_seconds, 3),
                  policy=outcome.policy)
        return outcome

    def _follow_corrections(self, planned: SkillCall, ran: Mapping) -> None:
        """Move the goals built from `planned` to where the corrected parameters that ran (`ran`) aim."""
        spec = self.skills[planned.skill]
        try:
            before, after = spec.bind(planned.params), spec.bind(ran)
        except SkillParamError:  # the call failed on its parameters: it moved nothing to follow
            return
        if before != after:
            self._goals = [follow(g, planned.skill, before, after) for g in self._goals]

    def _recover(self, index: int, call: SkillCall, failed: SkillOutcome) -> SkillOutcome:
        """One retry, as the skill's retry rule says: its recovery steps (e.g. a re-pick before a place whose
        object slipped out of the hand) run with the scripted controller; then the call, with the scripted
        controller if a learned attempt just failed (logged as a fallback)."""
        steps = self.skills[call.skill].retry(RetryContext(call.skill, call.params, self.world, self._attempt_start))
        if not steps:  # nothing left to do (a push that got all but the last centimetre)
            return failed
        if failed.policy == "learned":
            self._log("fallback", index=index, skill=call.skill, reason=failed.message, to="scripted")
        outcome = failed
        for step in steps:
            retried = SkillCall(step.skill, step.params)
            if step.note:
                self._log("recovery", index=index, action=step.note, call=str(retried))
            after_learned = step.skill == call.skill and failed.policy == "learned"
            outcome = self._run_call(index, retried, 1, scripted=step.scripted or after_learned)
            if not outcome.success:
                break
        return outcome

    def _run_calls(self, calls: list[SkillCall], first: int,
                   report: TaskReport) -> tuple[str, SkillOutcome] | None:
        """Run `calls` (numbered from `first`) until one fails after its retries: (why, its outcome), or None."""
        for index, call in enumerate(calls, first):
            self._attempt_start = {name: obj.position.copy() for name, obj in self.world.objects().items()}
            outcome = self._run_call(index, call, 0)
            for _ in range(self.retries):
                if not outcome.kind.retryable:
                    break
                outcome = self._recover(index, call, outcome)
            report.outcomes.append(outcome)
            report.sim_seconds += outcome.sim_seconds
            if not outcome.success:
                return f"skill {index + 1} {call} failed: {outcome.message}", outcome
        return None

    def run(self, plan: Plan) -> TaskReport:
        start = {name: obj.position.copy() for name, obj in self.world.objects().items()}
        report = TaskReport(plan.task, plan.skill_names, False, "")
        self._goals = list(plan.goals)
        self._log("task_start", task=plan.task, plan=[str(c) for c in plan.calls], notes=list(plan.notes))
        calls, first = list(plan.calls), 0
        while True:
            failed = self._run_calls(calls, first, report)
            first += len(calls)
            if failed is not None and not failed[1].kind.retryable:  # a stop, a safety stop: never carry on
                report.message = failed[0]
                break
            for _ in range(SETTLE_STEPS):
                self.arm.step()
            goals = self._goals
            holds = [goal_holds(g, self.world, self.arm, start) for g in goals]
            report.goals = [(describe(g), ok) for g, ok in zip(goals, holds)]
            unmet = [g for g, ok in zip(goals, holds) if not ok]
            if failed is None and not unmet:
                report.success = True
                report.message = "goal reached: " + "; ".join(d for d, _ in report.goals)
                break
            why = failed[0] if failed else "skills finished but the goal does not hold: " + \
                "; ".join(describe(g) for g in unmet)
            if len(report.replans) == self.replans or not unmet:
                report.message = why + (f" (after {len(report.replans)} re-plans)" if report.replans else "")
                break
            try:
                calls = replan(_to_redo(goals, holds), self.world, start)
            except TaskError as err:
                report.message = f"{why}; cannot re-plan: {err}"
                break
            report.replans.append(why)
            self._log("replan", round=len(report.replans), reason=why, plan=[str(c) for c in calls])
            self.observer.replanned(len(report.replans), why, calls)
        final = {n: o.position for n, o in self.world.objects().items()}
        self._log("task_end", success=report.success, message=report.message, goals=report.goals,
                  object_positions=final)
        return report


def _to_redo(goals: Sequence[Goal], holds: Sequence[bool]) -> list[Goal]:
    """The goals a re-plan must bring about: those not holding, and the goals on the arm itself (where the tool
    is, the gripper) that come after the first of them in the task, since redoing that one moves the arm."""
    first = holds.index(False)
    return [g for i, (g, ok) in enumerate(zip(goals, holds)) if not ok or (i > first and g.kind in ARM_GOALS)]
