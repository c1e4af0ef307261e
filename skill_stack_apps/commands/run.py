"""`skillstack run TASK`: plan a task in words and run it in PyBullet, checking the goal in the simulator."""
from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from typing import TYPE_CHECKING

from hardware.resources import config_dir
from hardware.scene import SceneError, load_scene
from planners.plan import Plan, TaskError, TaskPlanner
from skill_stack_apps.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, error
from skill_stack_apps.recording import RECORD_ENV, recording_on
from skill_stack_apps.recording.runs import new_run_dir

if TYPE_CHECKING:  # imported where used: `skillstack --help` stays light
    from hardware.arm import WorldView
    from hardware.pybullet import PyBulletArm
    from planners.corrections.memory.retrieval import CorrectionMemory
    from planners.executor import TaskReport
    from planners.scheduler import Scheduler


def _robots() -> list[str]:
    return sorted(p.stem for p in (config_dir() / "robots").glob("*.yaml"))


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="plan and run a task in words, in PyBullet")
    run.add_argument("task", help='e.g. "put the red cube in the tray"')
    run.add_argument("--scene", default="default", help="scene name in config/scenes or a YAML path")
    run.add_argument("--seed", type=int, default=0, help="randomises object poses (default 0)")
    run.add_argument("--robot", default="panda", choices=_robots())
    run.add_argument("--gui", action="store_true", help="show the PyBullet window")
    run.add_argument("--video", type=Path, help="MP4 path (default: RUN_DIR/video.mp4)")
    run.add_argument("--no-video", action="store_true", help="skip recording (faster)")
    run.add_argument("--out", type=Path, default=Path("runs"), help="where run directories go (default ./runs)")
    run.add_argument("--json", action="store_true", help="end with one JSON line describing the outcome")
    run.add_argument("--scripted", action="store_true",
                     help="run every skill with its scripted controller, even where a learned policy exists")
    run.add_argument("--no-corrections", action="store_true",
                     help="ignore stored operator corrections (default: retrieve and apply them)")
    run.add_argument("--interactive", action=argparse.BooleanOptionalAction, default=None,
                     help="read corrections typed on stdin while the task runs (default: when stdin is a terminal)")
    run.add_argument("--perception", action="store_true",
                     help="plan and run on what the camera sees (tabletop perception), not the simulator's object "
                          "states; the goals are still checked on the simulator")
    run.add_argument("--planner", choices=("parser", "llm"), default="parser",
                     help="parser (default): the deterministic parser; llm: a model server from SKILL_STACK_LLM_URL, "
                          "checked like the parser (docs/LLM_PLANNER.md)")
    run.add_argument("--record", action=argparse.BooleanOptionalAction, default=None,
                     help="write RUN_DIR/run.mcap (joint states, commands, camera, objects, events; opens in "
                          f"Foxglove) (default: on when ${RECORD_ENV}=1)")
    run.set_defaults(handler=cmd_run)


def _fail(message: str, as_json: bool, **extra) -> int:
    error(message)
    if as_json:
        print(json.dumps({"success": False, "error": message, "plan": [], "video": None, **extra}))
    return EXIT_USAGE


def _read_corrections(live) -> None:
    """Console thread: every line typed while the task runs is a correction for the running skill."""
    for line in sys.stdin:
        if line.strip():
            live.submit(line.strip(), "interactive")


def cmd_run(args: argparse.Namespace) -> int:
    """Check the options, plan in the scene, run the plan with a log, a video and live corrections, report."""
    # Imported here so `skillstack --help` and `skillstack skills` stay light.
    from hardware.pybullet import PyBulletArm, PyBulletConfig
    from planners.corrections.memory.retrieval import CorrectionMemory
    from planners.scheduler import Scheduler

    if not args.task.strip():
        return _fail("empty task; try: skillstack run \"put the red cube in the tray\"", args.json)
    if args.video is not None and args.video.suffix.lower() != ".mp4":
        return _fail(f"--video must be an .mp4 path, got {args.video}", args.json)
    try:
        scene = load_scene(args.scene)
    except SceneError as err:
        return _fail(str(err), args.json)
    planner: TaskPlanner | None = None
    if args.planner == "llm":  # checked before anything starts: a missing server setting is a usage error
        from planners.llm import LlmConfig, LlmPlanner
        try:
            config = LlmConfig.from_env()
        except ValueError as err:
            return _fail(str(err), args.json)
        if config is None:
            return _fail("--planner llm needs SKILL_STACK_LLM_URL, e.g. http://127.0.0.1:8080/v1 (see "
                         "docs/LLM_PLANNER.md)", args.json)
        planner = LlmPlanner(config)
    from planners.corrections.memory.store import StoreError
    from skill_lib.learning.registry import RegistryError
    try:
        memory = None if args.no_corrections else CorrectionMemory.open()
        scheduler = Scheduler(corrections=memory, learned=not args.scripted, planner=planner)
    except (StoreError, RegistryError) as err:  # a broken policy registry or an unreadable store: one line
        return _fail(str(err), args.json)
    with PyBulletArm(PyBulletConfig(robot=args.robot, seed=args.seed, gui=args.gui), scene=scene) as arm:
        world = _world(arm, args.perception)
        try:
            plan = scheduler.plan(args.task, world)
        except TaskError as err:
            return _fail(str(err), args.json)
        print(f"scene {scene.name}, seed {args.seed}, robot {args.robot}")
        _print_plan(args.task, plan)
        run_dir = new_run_dir(args.out)
        video = None if args.no_video else (args.video or run_dir / "video.mp4")
        report, log_path, mcap = _execute(args, scheduler, plan, arm, world, memory, run_dir, video, scene.name)
    print(("SUCCESS: " if report.success else "FAILURE: ") + report.message)
    print(f"log:   {log_path}")
    if video:
        print(f"video: {video}")
    if mcap:
        print(f"recording: {mcap}  (Foxglove; skillstack report {run_dir})")
    if args.json:
        print(json.dumps({**_summary(args, report, plan, video, log_path, scene.name),
                          "recording": str(mcap) if mcap else None}))
    return EXIT_OK if report.success else EXIT_FAILED


def _print_plan(task: str, plan: Plan) -> None:
    print(f'plan for "{task}":')
    for i, call in enumerate(plan.calls, 1):
        print(f"  {i}. {call}")
    for note in plan.notes:
        print(f"  note: {note}")


def _world(arm: PyBulletArm, perception: bool) -> WorldView:
    """The object states the task plans and runs on: the simulator's, or perception's on its camera."""
    if not perception:
        return arm
    from hardware.perception import Perception
    from hardware.perception.world import PerceivedWorld
    return PerceivedWorld(arm, arm, Perception(arm.scene))


def _execute(args: argparse.Namespace, scheduler: Scheduler, plan: Plan, arm: PyBulletArm, world: WorldView,
             memory: CorrectionMemory | None, run_dir: Path, video: Path | None, scene: str
             ) -> tuple[TaskReport, Path, Path | None]:
    """Run the plan with the episode log, the video recorder, progress bars, (on a terminal) corrections
    typed while it runs and, if on, the MCAP recording."""
    from planners.corrections.live import LiveCorrections
    from planners.episode_log import EpisodeLog
    from planners.recording import VideoRecorder
    from skill_stack_apps.progress import ProgressPrinter

    log_path = run_dir / "episode.jsonl"
    recording = None
    if recording_on(args.record):
        from skill_stack_apps.recording.session import RunRecording
        recording = RunRecording(run_dir / "run.mcap", arm, world, metadata={
            "source": "cli", "task": args.task, "scene": scene, "seed": str(args.seed), "robot": args.robot})
    report: TaskReport | None = None
    with EpisodeLog(log_path, listeners=[recording.on_record] if recording else []) as log:
        log.write("run", task=args.task, scene=scene, seed=args.seed, robot=args.robot)
        recorder = VideoRecorder(video, arm) if video else None
        live = LiveCorrections(args.task, world, memory, log=log, notify=lambda m: print(f"  {m}"))
        interactive = sys.stdin.isatty() if args.interactive is None else args.interactive
        if interactive:
            print("  type a correction and Enter at any time (e.g. 'slower', '2 cm to the left')")
            threading.Thread(target=_read_corrections, args=(live,), daemon=True).start()
        printer = ProgressPrinter(len(plan.calls))
        start = {n: o.position.copy() for n, o in arm.objects().items()}
        try:
            report = scheduler.execute(plan, recording.arm if recording else arm, world, log=log, recorder=recorder,
                                       live=live, observer=recording.observer(printer, len(plan.calls))
                                       if recording else printer)
            if args.perception:  # the simulator's truth is the judge
                from planners.goals import goal_holds
                truth = all(goal_holds(g, arm, arm, start) for g in plan.goals)
                print(f"simulator: the goals {'hold' if truth else 'DO NOT hold'}")
                report.success = report.success and truth
        finally:
            if recorder is not None:
                recorder.close()
            if recording is not None:
                recording.close(report)
    return report, log_path, recording.path if recording else None


def _summary(args: argparse.Namespace, report: TaskReport, plan: Plan, video: Path | None, log_path: Path,
             scene: str) -> dict:
    """The --json line."""
    return {
        "success": report.success, "task": args.task, "plan": report.plan, "message": report.message,
        "video": str(video) if video else None, "log": str(log_path), "seed": args.seed, "scene": scene,
        "notes": list(plan.notes), "goals": [{"goal": g, "holds": ok} for g, ok in report.goals],
        "replans": report.replans,
        "skills": [{"skill": o.skill, "params": o.params, "success": o.success, "message": o.message,
                    "outcome": o.kind.value, "policy": o.policy, "sim_seconds": round(o.sim_seconds, 2)}
                   for o in report.outcomes],
    }
