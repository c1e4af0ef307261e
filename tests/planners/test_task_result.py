"""What the ExecuteTask action reports, decided without ROS: text checks and outcome classification."""
from __future__ import annotations

import pytest

from planners.executor import TaskReport
from planners.task_result import ErrorCode, check_task_text, classify, shorten
from skill_lib.outcome import OutcomeKind, SkillOutcome


@pytest.mark.parametrize("text, reason", [("", "empty"), ("   \n", "empty"), ("x" * 501, "too long"),
                                          ("pick\x00up", "control"), ("put \ufffd", "non-text")])
def test_refused_texts(text, reason):
    assert reason in check_task_text(text)


def test_plain_text_passes():
    assert check_task_text("put the red cube in the tray,\tthen\nstack it") is None
    assert check_task_text("posez le cube rouge à gauche") is None  # not ours to refuse: the parser says why


def test_classification_order():
    ok = SkillOutcome("pick", {}, OutcomeKind.SUCCEEDED, "ok")
    bad = SkillOutcome("place", {}, OutcomeKind.POSTCONDITION_FAILED, "postcondition failed: x")
    safety = SkillOutcome("pick", {}, OutcomeKind.SAFETY_STOP, "safety stop: e-stop is active")
    assert classify(TaskReport("t", ["pick"], True, "goal reached", [ok])).error == ErrorCode.NONE
    assert classify(TaskReport("t", ["pick"], False, "m", [ok]), canceled=True).error == ErrorCode.CANCELED
    assert classify(TaskReport("t", ["pick"], False, "m", [ok]), timed_out=True).error == ErrorCode.TIMEOUT
    assert classify(TaskReport("t", ["pick"], False, "m", [safety])).error == ErrorCode.HARDWARE
    assert classify(TaskReport("t", ["pick"], False, "goal does not hold", [ok])).error == ErrorCode.GOAL_NOT_MET
    assert classify(TaskReport("t", ["pick", "place"], False, "m", [ok, bad])).error == ErrorCode.SKILL_FAILED
    assert len(shorten("a " * 1000)) == 80
