"""The recordings under a folder of runs (`skillstack runs`), read from each file's summary and metadata only.

A run directory holds run.mcap beside its episode log and video: `skillstack run --record` writes
`runs/<time>/run.mcap`, `skillstack record` the same layout for a ROS graph.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from mcap.exceptions import McapError
from mcap.reader import make_reader

RECORDING = "run.mcap"


def new_run_dir(out: Path) -> Path:
    """out/<time>, or out/<time>-N if several runs start within a second (not created)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir, suffix = out / stamp, 1
    while run_dir.exists():
        run_dir, suffix = out / f"{stamp}-{suffix}", suffix + 1
    return run_dir


@dataclass
class RunSummary:
    path: Path
    task: str
    #: "cli" (skillstack run), "ros" (skillstack record), or what a console writes
    source: str
    #: wall-clock seconds since the epoch when the recording opened (None if the file cannot tell)
    started: float | None
    #: seconds from the first to the last message, on the run's clock
    duration: float
    #: the task's outcome; None while unknown (a ROS recording with no finished task, a file never finished)
    success: bool | None
    size: int
    messages: int
    #: why the file could not be read in full ("" when it could)
    problem: str = ""

    @property
    def run_dir(self) -> Path:
        return self.path.parent


def summarize(path: str | Path) -> RunSummary:
    """What one recording says about its run, without reading its messages. A file that was never finished
    (the process was killed) is reported with its problem, not raised."""
    path = Path(path)
    size = path.stat().st_size
    try:
        with path.open("rb") as f:
            reader = make_reader(f)
            summary = reader.get_summary()
            meta = {m.name: dict(m.metadata) for m in reader.iter_metadata()}
    except (McapError, OSError, ValueError, EOFError) as err:
        return RunSummary(path, "", "", None, 0.0, None, size, 0, f"unreadable: {err}")
    if summary is None or summary.statistics is None:
        return RunSummary(path, "", "", None, 0.0, None, size, 0, "not finished (no summary)")
    stats = summary.statistics
    recording, result = meta.get("recording", {}), meta.get("result", {})
    started_ns = recording.get("started_ns")
    success = result.get("success")
    duration = (stats.message_end_time - stats.message_start_time) / 1e9 if stats.message_count else 0.0
    return RunSummary(path, result.get("task") or recording.get("task") or result.get("tasks", ""),
                      recording.get("source", ""), int(started_ns) / 1e9 if started_ns else None, duration,
                      None if success is None else success == "true", size, stats.message_count,
                      "" if result else "no result (stopped before the end)")


def list_runs(root: str | Path) -> list[RunSummary]:
    """Every recording in root's run directories (and root/run.mcap), newest first."""
    root = Path(root)
    paths = sorted({*root.glob(f"*/{RECORDING}"), *root.glob(RECORDING)})
    runs = [summarize(p) for p in paths]
    return sorted(runs, key=lambda r: (r.started or r.path.stat().st_mtime, str(r.path)), reverse=True)


def find_recording(run: str | Path, root: str | Path = "runs") -> Path:
    """RUN as given: an .mcap file, a run directory, a run's name under `root`, or "latest". Raises
    FileNotFoundError saying what exists."""
    root = Path(root)
    if str(run) == "latest":
        runs = list_runs(root)
        if not runs:
            raise FileNotFoundError(f"no recordings under {root}; record one with skillstack run --record TASK")
        return runs[0].path
    given = Path(run)
    for candidate in (given, given / RECORDING, root / given / RECORDING):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no recording {str(run)!r} (looked for {given}, {given / RECORDING} and "
                            f"{root / given / RECORDING}); skillstack runs lists them")
