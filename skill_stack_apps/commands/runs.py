"""`skillstack runs [--out DIR]`: the recorded runs (run.mcap), newest first."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from skill_stack_apps.commands import EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    runs = sub.add_parser("runs", help="list recorded runs (run.mcap), newest first")
    runs.add_argument("--out", type=Path, default=Path("runs"), help="the folder of run directories (default ./runs)")
    runs.add_argument("-n", type=int, default=0, help="show only the newest N")
    runs.add_argument("--json", action="store_true", help="one JSON object per line")
    runs.set_defaults(handler=cmd_runs)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB"):
        if n < 1000:
            return f"{n:.0f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return f"{n:.1f} GB"


def cmd_runs(args: argparse.Namespace) -> int:
    from skill_stack_apps.recording.runs import list_runs

    runs = list_runs(args.out)
    if args.n > 0:
        runs = runs[: args.n]
    if args.json:
        for r in runs:
            print(json.dumps({"run": str(r.run_dir), "recording": str(r.path), "task": r.task, "source": r.source,
                              "started": r.started, "duration": round(r.duration, 3), "success": r.success,
                              "size": r.size, "messages": r.messages, "problem": r.problem}))
        return EXIT_OK
    if not runs:
        print(f"no recordings under {args.out}; record one with: skillstack run --record \"pick up the red cube\"")
        return EXIT_OK
    print(f"{'run':<28} {'started':<19} {'source':<6} {'length':>7} {'outcome':<8} {'size':>8}  task")
    for r in runs:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started)) if r.started else "?"
        outcome = {True: "success", False: "FAILED", None: "-"}[r.success]
        task = r.task + (f"  [{r.problem}]" if r.problem else "")
        print(f"{str(r.run_dir):<28} {started:<19} {r.source:<6} {r.duration:>6.1f}s {outcome:<8} "
              f"{_size(r.size):>8}  {task}")
    return EXIT_OK
