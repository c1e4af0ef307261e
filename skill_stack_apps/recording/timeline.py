"""One run's timeline from its recording (`skillstack report RUN`): skills as bars coloured by outcome, corrections
and re-plans as markers, and the interval between consecutive arm commands, as a PNG.

Read from the MCAP file, not the episode log, so times are on the run's clock (simulated seconds in-process, ROS
time over ROS) and a ROS recording (`skillstack record`) plots the same way. Times are seconds from the first
message of the recording.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory

from skill_lib.outcome import OutcomeKind

#: bar colour per skill outcome (skill_lib.outcome.OutcomeKind values); "running": no end recorded
OUTCOME_COLOURS = {
    OutcomeKind.SUCCEEDED.value: "#2ca02c", OutcomeKind.POSTCONDITION_FAILED.value: "#d62728",
    OutcomeKind.TIMED_OUT.value: "#ff7f0e", OutcomeKind.PRECONDITION_FAILED.value: "#e377c2",
    OutcomeKind.BAD_PARAMETERS.value: "#8c564b", OutcomeKind.STOPPED.value: "#7f7f7f",
    OutcomeKind.SAFETY_STOP.value: "#000000", OutcomeKind.ERROR.value: "#9467bd", "running": "#bcbd22",
}
CORRECTION_EVENTS = ("correction_live", "correction_rejected")


@dataclass
class SkillSpan:
    index: int
    skill: str
    attempt: int
    policy: str
    start: float
    end: float | None = None
    #: OutcomeKind value, or "running" when the recording ends first
    outcome: str = "running"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Timeline:
    task: str
    success: bool | None
    #: seconds the recording covers
    duration: float
    skills: list[SkillSpan]
    #: (time, kind, text) of each correction, e.g. "correction_live", "slower"
    corrections: list[tuple[float, str, str]]
    #: (time, reason) of each re-plan
    replans: list[tuple[float, str]]
    #: when each arm command was sent
    command_times: np.ndarray

    @property
    def command_intervals(self) -> np.ndarray:
        """Seconds between consecutive commands (one fewer than commands)."""
        return np.diff(self.command_times)


def _leaf(topic: str) -> str:
    return topic.rsplit("/", 1)[-1]


def read_timeline(path: str | Path) -> Timeline:
    """The skills, corrections, re-plans and command times of one recording (any namespace)."""
    events: list[tuple[float, dict[str, Any]]] = []
    commands: list[float] = []
    with Path(path).open("rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        stats = summary.statistics if summary is not None else None
        origin = stats.message_start_time if stats is not None and stats.message_count else None
        wanted = [c.topic for c in (summary.channels.values() if summary is not None else [])
                  if _leaf(c.topic) in ("events", "joint_trajectory")]
        for _, channel, message, decoded in reader.iter_decoded_messages(topics=wanted or None, log_time_order=True):
            if origin is None:
                origin = message.log_time
            t = (message.log_time - origin) / 1e9
            if _leaf(channel.topic) == "events":
                events.append((t, json.loads(decoded.data)))
            elif _leaf(channel.topic) == "joint_trajectory" and decoded.points:  # no points: "hold", not a target
                commands.append(t)
        meta = {m.name: dict(m.metadata) for m in reader.iter_metadata()}
    duration = (stats.message_end_time - stats.message_start_time) / 1e9 if stats and stats.message_count else 0.0
    return _assemble(events, np.array(commands), duration, meta)


def _assemble(events: list[tuple[float, dict[str, Any]]], commands: np.ndarray, duration: float,
              meta: dict[str, dict[str, str]]) -> Timeline:
    skills: list[SkillSpan] = []
    corrections: list[tuple[float, str, str]] = []
    replans: list[tuple[float, str]] = []
    task, success = meta.get("recording", {}).get("task", ""), None
    for t, record in events:
        kind = record.get("event")
        if kind == "task_start":
            task = record.get("task", task)
        elif kind == "skill_start":
            skills.append(SkillSpan(int(record.get("index", 0)), record.get("skill", "?"),
                                    int(record.get("attempt", 0)), record.get("policy", ""), t,
                                    params=record.get("params", {})))
        elif kind == "skill_end":
            open_spans = [s for s in skills if s.end is None and s.index == record.get("index")]
            if open_spans:
                open_spans[-1].end, open_spans[-1].outcome = t, record.get("outcome", "error")
        elif kind in CORRECTION_EVENTS:
            corrections.append((t, kind, record.get("text", "")))
        elif kind == "replan":
            replans.append((t, record.get("reason", "")))
        elif kind == "task_end":
            success = bool(record.get("success"))
    if success is None and "success" in meta.get("result", {}):
        success = meta["result"]["success"] == "true"
    return Timeline(task, success, duration, skills, corrections, replans, commands)


def plot_timeline(timeline: Timeline, png: str | Path, title: str | None = None) -> Path:
    """Draw the timeline to `png` (skills above, command intervals below, one time axis)."""
    import matplotlib
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    png = Path(png)
    rows = max(1, len(timeline.skills))
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(10, 2.2 + 0.35 * rows),
                                      gridspec_kw={"height_ratios": [max(1.5, 0.35 * rows), 1.4]})
    for row, span in enumerate(timeline.skills):
        end = span.end if span.end is not None else timeline.duration
        top.barh(row, max(end - span.start, 1e-3), left=span.start, height=0.6,
                 color=OUTCOME_COLOURS.get(span.outcome, "#17becf"), edgecolor="black", linewidth=0.5)
        top.text(span.start + 0.02, row, f" {span.outcome} ({span.policy})", fontsize=7, va="center",
                 color="white" if span.outcome != "running" else "black", clip_on=True)
    top.set_yticks(range(len(timeline.skills)))
    top.set_yticklabels([f"{s.index + 1}. {s.skill}{' (retry)' if s.attempt else ''}" for s in timeline.skills],
                        fontsize=8)
    top.set_ylim(rows - 0.5, -0.7)
    for t, kind, text in timeline.corrections:
        colour = "#1f77b4" if kind == "correction_live" else "#d62728"
        top.axvline(t, color=colour, linestyle="--", linewidth=1)
        top.plot([t], [-0.55], marker="v", color=colour, markersize=9)
        top.annotate(text[:40], (t, -0.55), xytext=(4, 0), textcoords="offset points", fontsize=7, color=colour,
                     va="center")
    for t, _ in timeline.replans:
        top.axvline(t, color="#9467bd", linestyle=":", linewidth=1.5)
    seen = sorted({s.outcome for s in timeline.skills})
    handles = [Patch(color=OUTCOME_COLOURS.get(o, "#17becf"), label=o) for o in seen]
    if timeline.corrections:
        handles.append(Patch(color="#1f77b4", label="correction"))
    if timeline.replans:
        handles.append(Patch(color="#9467bd", label="re-plan"))
    if handles:
        top.legend(handles=handles, fontsize=7, loc="upper right")
    outcome = {True: "succeeded", False: "FAILED", None: "outcome unknown"}[timeline.success]
    top.set_title(title or f"{timeline.task or 'run'}: {outcome}, {timeline.duration:.1f} s", fontsize=10)
    intervals = timeline.command_intervals
    if len(intervals):
        bottom.plot(timeline.command_times[1:], intervals * 1000.0, ".", markersize=3, color="#1f77b4")
        bottom.set_ylim(0, max(100.0, float(intervals.max()) * 1000.0 * 1.1))  # the outliers are the news
    else:
        bottom.text(0.5, 0.5, "no arm commands recorded", transform=bottom.transAxes, ha="center", fontsize=8)
    bottom.set_ylabel("command\ninterval (ms)", fontsize=8)
    bottom.set_xlabel("time (s, the run's clock)", fontsize=8)
    bottom.set_xlim(0, max(timeline.duration, 1e-3))
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return png
