"""The scheduling layer's entry point: task text -> plan (parser + skill library) -> execution."""
from __future__ import annotations

from collections.abc import Callable, Collection

from hardware.arm import ArmInterface, WorldView
from planners.episode_log import EpisodeLog
from planners.corrections.live import LiveCorrections
from planners.executor import REPLANS, ExecutionObserver, Executor, TaskReport
from planners.parser import parse_task
from planners.plan import Plan, TaskPlanner
from planners.recording import VideoRecorder
from planners.corrections.memory.retrieval import CorrectionMemory
from skill_lib.library import SkillLibrary
from skill_lib.runner import SkillRunner
from skill_lib.skills import default_skills


class Scheduler:
    """Plans and runs language tasks with the skills of one library."""

    def __init__(self, library: SkillLibrary | None = None, corrections: CorrectionMemory | None = None,
                 learned: bool | Collection[str] = True, replans: int = REPLANS,
                 planner: TaskPlanner | None = None) -> None:
        """`learned`: fill skills' policy slots from checkpoints/ where one exists (else scripted); a
        collection of skill names: only for those. `replans`: how often a task is planned again from the world
        when its goals do not hold (0: a failed task is reported as it stands). `planner`: turns task text into
        a plan (default: the deterministic parser over this library)."""
        self.library = library or SkillLibrary(default_skills())
        skills = [self.library.get(name) for name in self.library.names()]
        if learned:
            from skill_lib.learning.policy import with_learned_policies
            skills = with_learned_policies(skills, only=None if learned is True else set(learned))
        self.skills = {spec.name: spec for spec in skills}
        #: stored operator corrections, retrieved and applied to plans and before each skill (None: off)
        self.corrections = corrections
        if replans < 0:
            raise ValueError(f"replans must be 0 or more, got {replans}")
        self.replans = replans
        self.planner = planner
        #: the last corrected plan and what was retrieved/applied to it, logged when that plan runs
        self._plan_corrections: tuple[Plan, list, list] | None = None

    def plan(self, task: str, world: WorldView) -> Plan:
        """Raises planners.plan.TaskError with a one-line reason if the task cannot be planned."""
        if self.planner is not None:
            plan = self.planner(task, world.objects())
        else:
            taught = None
            if self.corrections is not None:
                from planners.corrections.definitions import TaughtTasks
                taught = TaughtTasks(self.corrections)
            plan = parse_task(task, world.objects(), self.library, taught=taught)
        if self.corrections is not None:
            from planners.corrections.runtime import correct_plan
            plan, retrieved, applied = correct_plan(self.corrections, plan, world.objects())
            self._plan_corrections = (plan, retrieved, applied)
        return plan

    def execute(self, plan: Plan, arm: ArmInterface, world: WorldView, *, log: EpisodeLog | None = None,
                recorder: VideoRecorder | None = None, observer: ExecutionObserver | None = None,
                should_stop: Callable[[], bool] | None = None, live: LiveCorrections | None = None,
                runner: SkillRunner | None = None) -> TaskReport:
        """Run `plan`; each skill attempt runs on `runner` (default: in this process, on `arm`)."""
        prepare_call = None
        if self.corrections is not None:
            from planners.corrections.runtime import CallCorrector
            prepare_call = CallCorrector(self.corrections, plan.task, world, log=log)
            if live is not None:
                live.corrector = prepare_call  # a live correction sees what memory gave the running skill
            if log is not None and self._plan_corrections is not None and self._plan_corrections[0] is plan:
                _, retrieved, applied = self._plan_corrections
                log.write("corrections_retrieved", stage="plan", corrections=[r.summary() for r in retrieved])
                log.write("corrections_applied", stage="plan", corrections=[a.to_dict() for a in applied])
        executor = Executor(arm, world, self.skills, replans=self.replans, log=log, recorder=recorder,
                            observer=observer, should_stop=should_stop, prepare_call=prepare_call, live=live,
                            runner=runner)
        return executor.run(plan)
