"""`skillstack report [RUN]`: a run's timeline as a PNG beside its recording (skills, corrections, commands)."""
from __future__ import annotations

import argparse
from pathlib import Path

from skill_stack_apps.commands import EXIT_OK, error


def register(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser("report", help="plot a recorded run's timeline (skills, corrections, command "
                                           "intervals) to a PNG")
    report.add_argument("run", nargs="?", default="latest",
                        help="a run directory, its name under --out, an .mcap file, or latest (default)")
    report.add_argument("--out", type=Path, default=Path("runs"), help="the folder of run directories (default ./runs)")
    report.add_argument("--png", type=Path, help="where the PNG goes (default: RUN_DIR/timeline.png)")
    report.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    import numpy as np

    from skill_stack_apps.recording.runs import find_recording
    from skill_stack_apps.recording.timeline import plot_timeline, read_timeline

    try:
        path = find_recording(args.run, args.out)
    except FileNotFoundError as err:
        return error(str(err))
    timeline = read_timeline(path)
    png = plot_timeline(timeline, args.png or path.parent / "timeline.png")
    for span in timeline.skills:
        took = f"{span.end - span.start:5.2f} s" if span.end is not None else "   (no end)"
        print(f"  {span.start:6.2f} s  {span.index + 1}. {span.skill:<14} {took}  {span.outcome} ({span.policy})")
    for t, kind, text in timeline.corrections:
        print(f"  {t:6.2f} s  {kind}: {text}")
    intervals = timeline.command_intervals
    if len(intervals):
        print(f"  {len(timeline.command_times)} commands, interval median {1000 * float(np.median(intervals)):.1f} ms, "
              f"max {1000 * float(intervals.max()):.1f} ms")
    print(png)
    return EXIT_OK
