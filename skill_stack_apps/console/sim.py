"""The console's in-process backend: the stack of `skillstack run` on a headless PyBullet arm.

PyBullet is not thread-safe, so one worker thread owns the arm: it runs tasks and renders the camera, and the
web server's threads only leave it requests (a task, an e-stop, a reset) and read the ConsoleState it keeps.
Tasks run paced to real time (`speed` 1.0; the simulator is much faster than an arm) so that an operator can
watch, correct and stop them as on the robot. Each task writes runs/console-<time>-<id>/episode.jsonl, whose
records also feed the page (the policy of each step, the corrections retrieved with their scores), and with
`record` its run.mcap (`skillstack runs` lists them).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from hardware.scene import load_scene, nominal_objects
from planners.corrections.live import LiveCorrections, LiveResult
from planners.corrections.memory.store import CorrectionStore
from planners.episode_log import EpisodeLog, Listener
from planners.executor import ExecutionObserver
from planners.plan import Plan, TaskError
from skill_stack_apps.console.backend import Backend, ConsoleError, done, stored_now
from skill_stack_apps.console.model import CorrectionView, TaskView, encode_jpeg
from skill_stack_apps.recording.runs import RECORDING

if TYPE_CHECKING:
    from hardware.pybullet import PyBulletArm
    from planners.scheduler import Scheduler

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class SimConfig:
    """The simulated robot the console drives (as `skillstack run`'s options)."""

    scene: str = "default"
    seed: int = 0
    robot: str = "panda"
    #: simulated seconds per wall-clock second; 1.0 = real time, as an arm moves
    speed: float = 1.0
    #: run every skill with its scripted controller (default: the learned policy where there is one)
    scripted: bool = False
    #: where each task's episode log goes (a run directory per task)
    out: Path = Path("runs")
    #: the correction store: a file or a postgresql:// URL (default: $SKILL_STACK_MEMORY, else the default file)
    db: str | Path | None = None
    #: camera frames per wall-clock second while a task runs, and while idle
    fps: float = 8.0
    idle_fps: float = 2.0
    #: write each task's run.mcap beside its episode log (joint states, commands, camera, objects, events)
    record: bool = False
    #: how speech is heard: "agreement" (Whisper and pocketsphinx) or "pocketsphinx" alone (`--recogniser`)
    recogniser: str = "agreement"


class _ConsoleLog(EpisodeLog):
    """The task's episode log, whose every record also goes to the page."""

    def __init__(self, path: Path, view_event: Any, listeners: Sequence[Listener] = ()) -> None:
        super().__init__(path, listeners)
        self._view_event = view_event

    def write(self, event: str, **data: Any) -> None:
        super().write(event, **data)
        self._view_event({"event": event, **data})


class SimBackend(Backend):
    mode = "sim"

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        if self.config.speed <= 0:
            raise ValueError(f"speed must be positive, got {self.config.speed}")
        self.scene = load_scene(self.config.scene)  # a bad scene fails here, before the server starts
        super().__init__(CorrectionStore(self.config.db), nominal_objects(self.scene), self.config.recogniser)
        #: work for the worker thread: a task to run, a call to make on the arm (None: wake up)
        self._requests: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._estop_request = threading.Event()
        self._reset_request = threading.Event()
        self._closing = threading.Event()
        self._ready = threading.Event()
        self._failed: str | None = None
        #: the running task's live corrections (None while idle); set and cleared under the state's lock
        self._live: LiveCorrections | None = None
        self._thread = threading.Thread(target=self._work, name="console-sim", daemon=True)
        # only the worker thread touches these
        self.arm: PyBulletArm | None = None
        self._scheduler: Scheduler | None = None
        self._last_frame = 0.0

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, timeout: float = 120.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout) or self._failed:
            raise RuntimeError(f"the simulator did not start: {self._failed or 'timed out'}")

    def close(self) -> None:
        self._closing.set()
        self._requests.put(None)  # wake the worker
        if self._thread.ident is not None:  # closed before start (the server could not listen): no worker yet
            self._thread.join(timeout=30)
        super().close()

    def _work(self) -> None:
        from hardware.pybullet import PyBulletArm, PyBulletConfig
        from planners.corrections.memory.retrieval import CorrectionMemory
        from planners.scheduler import Scheduler

        try:
            self.arm = PyBulletArm(PyBulletConfig(robot=self.config.robot, seed=self.config.seed), scene=self.scene)
            memory = CorrectionMemory(self.store)
            self._scheduler = Scheduler(corrections=memory, learned=not self.config.scripted)
        except Exception as err:  # shown by start(); the server does not come up
            log.exception("simulator start failed")
            self._failed = f"{type(err).__name__}: {err}"
            self._ready.set()
            return
        self.objects = self.arm.objects()
        self._grab_frame()
        with self.state.change():
            self.state.ready, self.state.status = True, (
                f"simulation: scene {self.scene.name}, seed {self.config.seed}, robot {self.config.robot}, "
                f"{self.config.speed:g}x real time")
        self.memory_changed()
        self._ready.set()
        try:
            while not self._closing.is_set():
                try:
                    work = self._requests.get(timeout=1.0 / self.config.idle_fps)
                except queue.Empty:
                    work = None
                self._handle_estop()
                if work is not None and not self._closing.is_set():
                    work()
                self._grab_frame()
                self.memory_changed()  # another process (skillstack correct) may have changed the store
        finally:
            memory.index.flush()  # the index's background save, finished
            self.arm.close()

    # -- the worker's hooks ------------------------------------------------------------------------
    def _handle_estop(self) -> None:
        """E-stop and reset requests, applied on the worker thread (the arm's)."""
        assert self.arm is not None
        if self._estop_request.is_set():
            self._estop_request.clear()
            self.arm.estop()
        if self._reset_request.is_set():
            self._reset_request.clear()
            self.arm.reset_estop()
        if self.arm.estopped != self.state.estopped:
            with self.state.change():
                self.state.estopped = self.arm.estopped

    def _grab_frame(self, goals: tuple[Plan, dict] | None = None) -> None:
        """The camera as JPEG, the arm's joints and (during a task) whether each goal holds now."""
        assert self.arm is not None
        self._last_frame = time.monotonic()
        self.frames.put(encode_jpeg(self.arm.camera_rgb()))
        joints = self.arm.joint_state().positions
        with self.state.change():
            self.state.arm = {"joints": [round(float(q), 4) for q in joints],
                              "gripper": round(float(self.arm.gripper_width()), 4)}
        if goals is not None:
            from planners.goals import describe, goal_holds

            plan, start = goals
            holds = [(describe(g), goal_holds(g, self.arm, self.arm, start)) for g in plan.goals]
            view = self.state.running()
            if view is not None:
                with self.state.change():
                    view.goals = [(g, bool(ok)) for g, ok in holds]

    # -- tasks -----------------------------------------------------------------------------------
    def _start_task(self, task_id: int, text: str) -> None:
        if not self._ready.is_set() or self._failed:
            raise ConsoleError(503, "the simulator is not running")
        self._requests.put(lambda: self._run_task(task_id, text))

    def in_worker(self, call: Callable[[PyBulletArm], T], timeout: float = 30.0) -> T:
        """`call(arm)` on the worker thread, between tasks (a test's look at the simulator, a scene change)."""
        future: Future[T] = Future()

        def work() -> None:
            assert self.arm is not None
            try:
                future.set_result(call(self.arm))
            except Exception as err:
                future.set_exception(err)
        self._requests.put(work)
        return future.result(timeout)

    def _cancel(self, task_id: int) -> None:
        pass  # the worker's should_stop reads view.cancel_requested

    def _run_task(self, task_id: int, text: str) -> None:
        assert self.arm is not None and self._scheduler is not None
        with self.state.lock:
            view = self.state.tasks.get(task_id)
        if view is None or view.cancel_requested:
            if view is not None:
                self._finish(view, "canceled", "canceled before it started")
            return
        try:
            plan = self._scheduler.plan(text, self.arm)
        except TaskError as err:  # nothing moved
            self._finish(view, "refused", str(err))
            return
        with self.state.change():
            view.set_plan((str(c), c.params) for c in plan.calls)
            view.notes, view.message = list(plan.notes), f"running {len(plan.calls)} skill(s)"
        try:
            report = self._execute(view, plan)
        except Exception as err:  # a bug: the console stays up and says so
            log.exception("task %s failed", task_id)
            self._finish(view, "failed", f"internal error: {type(err).__name__}: {err}")
            return
        self.objects = self.arm.objects()  # where things are now: the context of corrections until the next task
        state = "canceled" if view.cancel_requested else "succeeded" if report.success else "failed"
        self._finish(view, state, report.message, report.success, report.goals)

    def _execute(self, view: TaskView, plan: Plan):
        assert self.arm is not None and self._scheduler is not None
        arm, start = self.arm, {n: o.position.copy() for n, o in self.arm.objects().items()}
        run_dir = self.config.out / f"console-{time.strftime('%Y%m%d-%H%M%S')}-{view.id}"

        def event(record: dict[str, Any]) -> None:
            with self.state.change():
                view.apply_event(record)

        recording = None
        if self.config.record:
            from skill_stack_apps.recording.session import RunRecording

            recording = RunRecording(run_dir / RECORDING, arm, arm, metadata={
                "task": view.task, "source": "console", "scene": self.scene.name, "seed": str(self.config.seed),
                "robot": self.config.robot})
        report = None
        with _ConsoleLog(run_dir / "episode.jsonl", event, [recording.on_record] if recording else []) as episode:
            episode.write("run", task=view.task, scene=self.scene.name, seed=self.config.seed,
                          robot=self.config.robot, source="console")
            live = LiveCorrections(view.task, arm, self._scheduler.corrections, log=episode,
                                   notify=lambda message: log.info("task %s: %s", view.id, message))
            with self.state.lock:
                self._live = live
            pacer = _Pacer(self, view, (plan, start))
            try:
                report = self._scheduler.execute(
                    plan, recording.arm if recording else arm, arm, log=episode, should_stop=pacer.should_stop,
                    observer=recording.observer(pacer, len(plan.calls)) if recording else pacer, live=live)
                return report
            finally:
                with self.state.lock:
                    self._live = None
                for pending in live.drain():  # typed as the task ended: remembered for the next one
                    pending.future.set_result(self._store(pending.text, pending.source, view.task))
                if recording is not None:
                    recording.close(report)

    def _finish(self, view: TaskView, state: str, message: str, success: bool = False,
                goals: list[tuple[str, bool]] | None = None) -> None:
        with self.state.change():
            view.finish(state, message, success, goals)
        log.info("task %s %r: %s: %s", view.id, view.task, state, message)

    # -- e-stop, corrections -----------------------------------------------------------------------
    def estop(self) -> dict[str, Any]:
        self._estop_request.set()
        with self.state.change():
            self.state.estopped = True  # the worker applies it within one control step
        return {"estopped": True}

    def reset_estop(self) -> dict[str, Any]:
        self._reset_request.set()
        deadline = time.monotonic() + 2.0
        while self._reset_request.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        return {"estopped": self.state.estopped}

    def _correct(self, view: CorrectionView, text: str, source: str, task: str | None) -> Future[LiveResult]:
        with self.state.lock:
            live = self._live
            if live is not None:  # to the running skill's control loop, which stores it too
                return live.submit(text, source)
        return done(self._store(text, source, task))

    def _store(self, text: str, source: str, task: str | None) -> LiveResult:
        return stored_now(self.store, text, source, self.objects, task)


class _Pacer(ExecutionObserver):
    """The executor's hooks on the worker thread: real-time pacing, progress, camera frames, e-stop, cancel."""

    def __init__(self, backend: SimBackend, view: TaskView, goals: tuple[Plan, dict]) -> None:
        self.backend, self.view, self.goals = backend, view, goals
        self._dt = backend.arm.control_dt if backend.arm is not None else 0.05
        self._t0, self._steps = time.monotonic(), 0

    def skill_progress(self, index: int, fraction: float) -> None:
        backend = self.backend
        with backend.state.change():
            step = self.view.step(index)
            step.state, step.progress = "running", float(fraction)
        self._steps += 1
        lag = self._t0 + self._steps * self._dt / backend.config.speed - time.monotonic()
        if lag > 0:
            time.sleep(lag)
        elif lag < -0.5:  # fell behind (a slow frame, a busy machine): carry on from now, do not rush
            self._t0, self._steps = time.monotonic(), 0
        if time.monotonic() - backend._last_frame >= 1.0 / backend.config.fps:
            backend._grab_frame(self.goals)

    def should_stop(self) -> bool:
        self.backend._handle_estop()  # an e-stop takes effect before the next command: the skill stops
        return self.view.cancel_requested
