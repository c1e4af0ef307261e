"""The scheduling layer's entry point: task text -> plan (parser + skill library) -> execution."""
from __future__ import annotations

from collections.abc import Callable

from hardware.arm import ArmInterface, WorldView
from planners.episode_log import EpisodeLog
from planners.executor import ExecutionObserver, Executor, TaskReport
from planners.parser import parse_task
from planners.plan import Plan
from planners.recording import VideoRecorder
from skill_lib.library import SkillLibrary
from skill_lib.skills import default_skills


class Scheduler:
    """Plans and runs language tasks with the skills of one library."""

    def __init__(self, library: SkillLibrary | None = None) -> None:
        self.library = library or SkillLibrary(default_skills())
        self.skills = {name: self.library.get(name) for name in self.library.names()}

    def plan(self, task: str, world: WorldView) -> Plan:
        """Raises planners.plan.TaskError with a one-line reason if the task cannot be planned."""
        return parse_task(task, world.objects(), self.library)

    def execute(self, plan: Plan, arm: ArmInterface, world: WorldView, *, log: EpisodeLog | None = None,
                recorder: VideoRecorder | None = None, observer: ExecutionObserver | None = None,
                should_stop: Callable[[], bool] | None = None) -> TaskReport:
        executor = Executor(arm, world, self.skills, log=log, recorder=recorder, observer=observer,
                            should_stop=should_stop)
        return executor.run(plan)
