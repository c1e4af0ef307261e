"""Recording an in-process run (`skillstack run --record`, the console): the arm, the task's events, its status.

    recording = RunRecording(run_dir / "run.mcap", arm, world, metadata={"task": task, "source": "cli"})
    log.listeners.append(recording.on_record)            # every episode-log record -> /events, /rosout
    report = scheduler.execute(plan, recording.arm, world, log=log, observer=recording.observer(printer))
    recording.close(report)

`recording.arm` stands in for the arm: each control step (`step()`) records the joint states (20 Hz, one per
step) with the arm's link frames (/tf), the joint target commanded since the last step (as the skill server's
one JointTrajectory per period), and every `camera_every` steps the RGB-D frame and the object states (with
their frames and boxes for Foxglove's 3D panel: recording/scene3d.py). The clock is the simulator's
(`arm.sim_time`), so the file's intervals are the robot's, however fast the process ran.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hardware.arm import ArmInterface, WorldView
from hardware.types import JointState, Pose
from planners.executor import ExecutionObserver, TaskReport
from planners.plan import SkillCall
from skill_lib.outcome import SkillOutcome
from skill_stack_apps.recording.writer import WARN, Recorder

#: control steps between camera frames and object states (20 Hz control: 5 frames a second)
CAMERA_EVERY = 4
#: episode-log events that carry an operator's words
CORRECTION_EVENTS = ("correction_live", "correction_rejected")


class RecordingArm(ArmInterface):
    """Passes everything to `arm` and records what happened at each control step."""

    def __init__(self, arm: ArmInterface, world: WorldView, recorder: Recorder, *,
                 camera_every: int = CAMERA_EVERY, clock: Callable[[], float] | None = None) -> None:
        self.inner, self.world, self.recorder = arm, world, recorder
        self.control_dt, self.gripper_max_width, self.robot_config = arm.control_dt, arm.gripper_max_width, \
            arm.robot_config
        self.camera_every = max(1, camera_every)
        self.clock = clock or (lambda: arm.sim_time)
        rc = arm.robot_config
        self._fingers: tuple[str, ...] = tuple(rc.finger_joints) if rc is not None else ()
        self._arm_target: np.ndarray | None = None
        self._gripper_target: float | None = None
        self._commanded = False
        self.steps = 0
        self._scene_at = -1
        self.record_state(camera=True)

    # -- what is recorded ---------------------------------------------------------------------------
    def _finger_positions(self, width: float) -> list[float]:
        rc = self.inner.robot_config
        return list(rc.finger_targets(width))[: len(self._fingers)] if rc is not None and self._fingers else []

    def record_state(self, camera: bool) -> None:
        """The joint states now; with `camera`, also the camera frame and the object states."""
        t, state = self.clock(), self.inner.joint_state()
        fingers = self._finger_positions(self.inner.gripper_width())
        self.recorder.joint_state(t, [*state.names, *self._fingers[: len(fingers)]],
                                  [*state.positions, *fingers], [*state.velocities, *([0.0] * len(fingers))])
        if camera:
            self.record_scene()

    def record_scene(self) -> None:
        """The camera frame and the object states now (once per control step at most)."""
        if self._scene_at != self.steps:
            self._scene_at, t = self.steps, self.clock()
            rgbd = getattr(self.inner, "rgbd", None)  # colour and depth from one render where the arm has both
            self.recorder.camera(t, rgbd() if callable(rgbd) else self.inner.camera_rgb())
            self.recorder.objects(t, self.world)

    def _record_command(self) -> None:
        names: list[str] = []
        values: list[float] = []
        if self._arm_target is not None:
            names, values = list(self.inner.joint_state().names), [float(v) for v in self._arm_target]
        if self._gripper_target is not None:
            fingers = self._finger_positions(self._gripper_target)
            names, values = names + list(self._fingers[: len(fingers)]), values + fingers
        if names:
            self.recorder.command(self.clock(), names, values)

    # -- the arm ----------------------------------------------------------------------------------
    def step(self) -> None:
        if self._commanded:  # sent at the start of the period, as the ROS arm does
            self._record_command()
            self._commanded = False
        self.inner.step()
        self.steps += 1
        self.record_state(camera=self.steps % self.camera_every == 0)

    def command_joints(self, positions: npt.ArrayLike) -> np.ndarray:
        self._arm_target = self.inner.command_joints(positions)
        self._commanded = True
        return self._arm_target

    def command_ee(self, position: npt.ArrayLike, orientation: npt.ArrayLike | None = None) -> np.ndarray:
        self._arm_target = self.inner.command_ee(position, orientation)
        self._commanded = True
        return self._arm_target

    def command_gripper(self, width: float) -> float:
        self._gripper_target = self.inner.command_gripper(width)
        self._commanded = True
        return self._gripper_target

    @property
    def sim_time(self) -> float:  # type: ignore[override]  # read through: a plain attribute on ArmInterface
        return self.inner.sim_time

    def joint_state(self) -> JointState:
        return self.inner.joint_state()

    def ee_pose(self) -> Pose:
        return self.inner.ee_pose()

    def tool_down(self, yaw: float = 0.0) -> np.ndarray:
        return self.inner.tool_down(yaw)

    def gripper_width(self) -> float:
        return self.inner.gripper_width()

    def gripper_holds(self) -> bool | None:
        return self.inner.gripper_holds()

    def camera_rgb(self, width: int = 320, height: int = 240) -> np.ndarray:
        return self.inner.camera_rgb(width, height)

    def estop(self) -> None:
        self.inner.estop()

    def reset_estop(self) -> None:
        self.inner.reset_estop()

    @property
    def estopped(self) -> bool:
        return self.inner.estopped

    def __getattr__(self, name: str) -> Any:  # a backend's extras (rgbd, scene, ...) read through
        if name == "inner":  # not set yet: no recursion during __init__
            raise AttributeError(name)
        return getattr(self.inner, name)


class StatusObserver(ExecutionObserver):
    """Executor hooks -> /status (TaskStatus, as the scheduler node publishes it), then on to `inner`."""

    def __init__(self, recording: RunRecording, inner: ExecutionObserver | None, count: int) -> None:
        self.recording, self.inner, self.count = recording, inner or ExecutionObserver(), count

    def skill_started(self, index: int, call: SkillCall, attempt: int) -> None:
        self.recording.status(skill_index=index, skill_count=self.count, skill_name=call.skill, progress=0.0,
                              message=f"{'retrying' if attempt else 'starting'} {call}")
        self.inner.skill_started(index, call, attempt)

    def skill_progress(self, index: int, fraction: float) -> None:
        self.recording.status(skill_index=index, progress=float(fraction), message="running")
        self.inner.skill_progress(index, fraction)

    def skill_finished(self, index: int, outcome: SkillOutcome) -> None:
        self.recording.status(skill_index=index, progress=1.0 if outcome.success else None,
                              message=f"{outcome.skill}: {outcome.message}")
        self.inner.skill_finished(index, outcome)

    def replanned(self, round: int, reason: str, calls: list[SkillCall]) -> None:
        self.count += len(calls)
        self.recording.status(skill_count=self.count, message=f"re-plan {round}: {reason}")
        self.inner.replanned(round, reason, calls)


class RunRecording:
    """One in-process run's MCAP file: see the module docstring."""

    def __init__(self, path: str | Path, arm: ArmInterface, world: WorldView, *,
                 metadata: Mapping[str, str] | None = None, camera_every: int = CAMERA_EVERY) -> None:
        self.recorder = Recorder(path, metadata=metadata, robot=arm.robot_config)  # robot: /tf of its links
        self.arm = RecordingArm(arm, world, self.recorder, camera_every=camera_every)
        self._status: dict[str, Any] = {"state": "idle", "task": "", "skill_index": 0, "skill_count": 0,
                                        "skill_name": "", "progress": 0.0, "message": "", "hardware_ok": True}

    @property
    def path(self) -> Path:
        return self.recorder.path

    def now(self) -> float:
        return self.arm.clock()

    def status(self, **changes: Any) -> None:
        """Change the task status (None leaves a field as it is) and record it."""
        self._status.update({k: v for k, v in changes.items() if v is not None})
        self.recorder.status(self.now(), **self._status)

    def observer(self, inner: ExecutionObserver | None = None, count: int = 0) -> ExecutionObserver:
        """The executor's observer: records /status, then calls `inner` (e.g. the progress printer)."""
        return StatusObserver(self, inner, count)

    def on_record(self, record: Mapping[str, Any]) -> None:
        """An EpisodeLog listener: each record on /events and /rosout; corrections also on /corrections."""
        t, kind = self.now(), record.get("event")
        failed = kind in ("correction_rejected", "fallback") or (kind == "skill_end" and not record.get("success"))
        self.recorder.event(t, record, level=WARN if failed else 20)
        if kind in CORRECTION_EVENTS:
            self.recorder.correction(t, str(record.get("text", "")))
        elif kind == "task_start":
            self.status(state="running", task=str(record.get("task", "")), skill_count=len(record.get("plan", [])),
                        message="planned")
        elif kind == "task_end":
            self.status(state="succeeded" if record.get("success") else "failed", message=record.get("message"))

    def close(self, report: TaskReport | None = None) -> None:
        """The last camera frame and object states (if not taken at this step), the outcome as metadata "result",
        and the file's index."""
        self.arm.record_scene()
        result = {} if report is None else {"success": str(report.success).lower(), "message": report.message,
                                            "skills": str(len(report.outcomes)), "replans": str(len(report.replans))}
        self.recorder.close(result)
