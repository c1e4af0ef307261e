"""Corrections that arrive while a skill runs take effect inside its control loop; bad ones are
reported and the task goes on."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from hardware.pybullet import PyBulletArm, PyBulletConfig
from planners.corrections.live import LiveCorrections
from planners.episode_log import EpisodeLog, read_log
from planners.executor import ExecutionObserver, Executor
from planners.plan import Goal, Plan, SkillCall
from planners.corrections.memory.retrieval import CorrectionMemory
from skill_lib.skills import default_skills

SKILLS = {s.name: s for s in default_skills()}
PLAN = Plan("put the red cube in the tray",
            (SkillCall("pick", {"object": "red_cube"}), SkillCall("place", {"object": "red_cube", "target": "tray"})),
            (Goal("in", "red_cube", "tray"),))


class SayDuringPlace(ExecutionObserver):
    """The operator speaks up a few control steps into the place skill."""

    def __init__(self, live: LiveCorrections, texts: list[str]) -> None:
        self.live, self.texts, self.skill, self.steps = live, texts, None, 0

    def skill_started(self, index, call, attempt):
        self.skill, self.steps = call.skill, 0

    def skill_progress(self, index, fraction):
        self.steps += 1
        if self.skill == "place" and self.steps == 5:
            for text in self.texts:
                self.live.submit(text)


def run_with(texts, tmp_path, seed=3):
    memory = CorrectionMemory.open(tmp_path / "corrections.db")
    messages = []
    with PyBulletArm(PyBulletConfig(seed=seed)) as arm, EpisodeLog(tmp_path / "log.jsonl") as log:
        live = LiveCorrections(PLAN.task, arm, memory, log=log, notify=messages.append)
        report = Executor(arm, arm, SKILLS, log=log, live=live, observer=SayDuringPlace(live, texts)).run(PLAN)
        rel = arm.object("red_cube").position[:2] - arm.object("tray").position[:2]
    return report, rel, messages, read_log(tmp_path / "log.jsonl"), memory


def test_mid_skill_correction_moves_the_drop_point(tmp_path):
    report, rel, messages, events, memory = run_with(["3 cm to the left"], tmp_path)
    assert report.success
    assert abs(rel[1] - 0.03) < 0.008, rel  # landed 3 cm to the robot's left of the tray centre
    live = [e for e in events if e["event"] == "correction_live"]
    assert live and live[0]["updates"] == {"offset_y": 0.03}
    assert len(memory.store.all()) == 1  # and it was remembered


def test_a_bad_correction_is_reported_and_the_task_goes_on(tmp_path):
    report, rel, messages, events, memory = run_with(["\x00\x01 gibberish", "faster and slower"], tmp_path)
    assert report.success and np.all(np.abs(rel) < 0.01)
    assert sum("not understood" in m for m in messages) == 2
    assert [e["event"] for e in events].count("correction_rejected") == 2
    assert memory.store.all() == []


def test_cli_reads_corrections_from_stdin_while_running(tmp_path):
    env = {**os.environ, "SKILL_STACK_DATA": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "skill_stack_apps.cli", "run", "pick up the green cube",
                           "--interactive", "--no-video", "--json", "--out", str(tmp_path / "runs")],
                          input="slower\n", capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    events = read_log(result["log"])
    applied = [e for e in events if e["event"] == "correction_live"]
    assert applied and applied[0]["updates"]["speed"] < 1.0


def test_submit_says_what_became_of_a_correction_and_drain_returns_what_no_skill_took(tmp_path):
    memory = CorrectionMemory.open(tmp_path / "corrections.db")
    with PyBulletArm(PyBulletConfig(seed=3)) as arm:
        live = LiveCorrections(PLAN.task, arm, memory, notify=lambda message: None)
        good, bad = live.submit("3 cm to the left"), live.submit("faster and slower")
        assert not good.done()  # waits for a running skill
        assert live.updates_for(PLAN.calls[1], {}) == {"offset_y": 0.03}
        late = live.submit("slower", "console")
        [pending] = live.drain()
    result = good.result(timeout=0)
    assert (result.skill, result.updates, result.error) == ("place", {"offset_y": 0.03}, None)
    assert [r.id for r in result.stored] == [r.id for r in memory.store.all()] == [1]
    assert bad.result(timeout=0).error and not bad.result(timeout=0).stored
    assert (pending.text, pending.source, pending.future) == ("slower", "console", late) and not late.done()
    assert live.drain() == []
