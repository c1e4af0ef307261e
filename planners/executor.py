"""Runs a plan skill by skill: checks each postcondition in the world, retries once, then checks the
task's goals. Every step goes to the episode log."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from hardware.arm import ArmInterface, WorldView
from hardware.safety import SafetyError
from planners.corrections.live import LiveCorrections
from planners.episode_log import EpisodeLog
from planners.goals import describe, goal_holds
from planners.plan import Plan, SkillCall
from planners.recording import VideoRecorder
from skill_lib import predicates as P
from skill_lib.runner import SkillOutcome, run_skill
from skill_lib.spec import Policy, SkillSpec

SETTLE_STEPS = 10


class ExecutionObserver:
    """Hooks for progress display; every method is optional."""

    def skill_started(self, index: int, call: SkillCall, attempt: int) -> None: ...

    def skill_progress(self, index: int, fraction: float) -> None: ...

    def skill_finished(self, index: int, outcome: SkillOutcome) -> None: ...


@dataclass
class TaskReport:
    task: str
    plan: list[str]
    success: bool
    message: str
    outcomes: list[SkillOutcome] = field(default_factory=list)
    goals: list[tuple[str, bool]] = field(default_factory=list)
    sim_seconds: float = 0.0


class Executor:
    def __init__(self, arm: ArmInterface, world: WorldView, skills: Mapping[str, SkillSpec], *,
                 retries: int = 1, log: EpisodeLog | None = None, recorder: VideoRecorder | None = None,
                 observer: ExecutionObserver | None = None, should_stop: Callable[[], bool] | None = None,
                 prepare_call: Callable[[int, SkillCall], SkillCall] | None = None,
                 live: LiveCorrections | None = None) -> None:
        self.arm, self.world, self.skills = arm, world, skills
        #: called before each skill attempt; may return the call with adjusted parameters (corrections)
        self.prepare_call = prepare_call
        #: corrections arriving mid-skill, applied inside the running control loop
        self.live = live
        self.retries, self.log, self.recorder = retries, log, recorder
        self.observer = observer or ExecutionObserver()
        self.should_stop = should_stop
        #: object positions when the current call's first attempt started
        self._attempt_start: dict[str, np.ndarray] = {}

    def _log(self, event: str, **data) -> None:
        if self.log is not None:
            self.log.write(event, **data)

    def _run_call(self, index: int, call: SkillCall, attempt: int, policy: Policy | None = None) -> SkillOutcome:
        if self.prepare_call is not None:
            call = self.prepare_call(index, call)
        spec = self.skills[call.skill]
        self.observer.skill_started(index, call, attempt)
        why = {}
        if policy is None and spec.policy is not None:
            policy = spec.policy()
            # a learned policy may decline a context it was not trained for (another object shape)
            try:
                declined = policy.declines(self.world, call.params) if hasattr(policy, "declines") else None
            except KeyError:  # an object that is not there: the skill's preconditions say so
                declined = None
            if declined:
                policy, why = spec.scripted(), {"fallback": declined}
        elif policy is None:
            policy, why = spec.scripted(), {"fallback": "no learned policy"}
        kind = policy.kind
        self._log("skill_start", index=index, skill=call.skill, params=call.params, attempt=attempt, policy=kind,
                  **why)

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

        try:
            outcome = run_skill(spec, call.params, self.arm, self.world, policy=policy, on_step=on_step,
                                should_stop=self.should_stop, param_updates=param_updates)
        except SafetyError as err:  # e-stop or a refused command: stop here, report it
            outcome = SkillOutcome(call.skill, dict(call.params), False, f"safety stop: {err}")
        self.observer.skill_finished(index, outcome)
        self._log("skill_end", index=index, skill=call.skill, success=outcome.success, message=outcome.message,
                  steps=outcome.steps, sim_seconds=round(outcome.sim_seconds, 3), policy=outcome.policy)
        return outcome

    def _remaining(self, call: SkillCall) -> SkillCall | None:
        """What is left of a call after a failed attempt. A push is not idempotent: pushing the full
        distance again from where the object now is would overshoot (a 10 cm push became 21 cm), so the
        retry pushes only the rest; None when less than the skill's minimum is left."""
        from skill_lib.skills.push import DIRECTIONS
        if (call.skill != "push" or call.params.get("object") not in self._attempt_start
                or call.params.get("direction") not in DIRECTIONS):
            return call  # nothing to subtract (bad parameters fail again, with their own message)
        direction = np.asarray(DIRECTIONS[call.params["direction"]])
        moved = float((self.world.object(call.params["object"]).position -
                       self._attempt_start[call.params["object"]])[:2] @ direction)
        left = float(call.params.get("distance") or 0.10) - moved
        if left < 0.02:
            return None
        return SkillCall("push", {**call.params, "distance": min(left, 0.25)})

    def _recover(self, index: int, call: SkillCall, failed: SkillOutcome) -> SkillOutcome:
        """One retry. A place whose object slipped out of the hand picks it up again first; a learned
        policy that failed is retried with the scripted reference controller (logged as a fallback)."""
        remaining = self._remaining(call)
        if remaining is None:
            return failed
        if remaining is not call:
            self._log("recovery", index=index, action="push the remaining distance", call=str(remaining))
            call = remaining
        policy = None
        if failed.policy == "learned":
            self._log("fallback", index=index, skill=call.skill, reason=failed.message, to="scripted")
            policy = self.skills[call.skill].scripted()
        if call.skill == "place" and not P.is_held(self.world, call.params["object"]):
            self._log("recovery", index=index, action="re-pick before place", object=call.params["object"])
            # recovery uses the reference controller: the object may now lie where no policy was trained
            regrasp = self._run_call(index, SkillCall("pick", {"object": call.params["object"]}), 1,
                                     policy=self.skills["pick"].scripted())
            if not regrasp.success:
                return regrasp
        return self._run_call(index, call, 1, policy=policy)

    def run(self, plan: Plan) -> TaskReport:
        start = {name: obj.position.copy() for name, obj in self.world.objects().items()}
        report = TaskReport(plan.task, plan.skill_names, False, "")
        self._log("task_start", task=plan.task, plan=[str(c) for c in plan.calls], notes=list(plan.notes))
        for index, call in enumerate(plan.calls):
            self._attempt_start = {name: obj.position.copy() for name, obj in self.world.objects().items()}
            outcome = self._run_call(index, call, 0)
            for _ in range(self.retries):
                if outcome.success or outcome.message.startswith(("safety stop", "stopped")):
                    break
                outcome = self._recover(index, call, outcome)
            report.outcomes.append(outcome)
            report.sim_seconds += outcome.sim_seconds
            if not outcome.success:
                report.message = f"skill {index + 1} {call} failed: {outcome.message}"
                break
        else:
            for _ in range(SETTLE_STEPS):
                self.arm.step()
            report.goals = [(describe(g), goal_holds(g, self.world, self.arm, start)) for g in plan.goals]
            unmet = [d for d, ok in report.goals if not ok]
            report.success = not unmet
            report.message = "goal reached: " + "; ".join(d for d, _ in report.goals) if not unmet \
                else "skills finished but the goal does not hold: " + "; ".join(unmet)
        final = {n: o.position for n, o in self.world.objects().items()}
        self._log("task_end", success=report.success, message=report.message, goals=report.goals,
                  object_positions=final)
        return report
