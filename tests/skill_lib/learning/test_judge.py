"""The experimenter's judge (skill_lib/learning/experimenter/judge.py) on synthetic learning curves and synthetic
held-out episodes: each verdict and decision, both directions, the safety veto, and the tests' p-values against
values worked out by hand."""
from __future__ import annotations

from pathlib import Path

import pytest

from skill_lib.learning.experimenter.judge import (ALPHA, CurveVerdict, Decision, HeldOut, compare, judge_curve,
                                                   read_curve, sign_test)

SEEDS = tuple(range(1_070_000, 1_070_020))


@pytest.mark.parametrize("curve, verdict", [
    ([0.2, 0.3, 0.35, 0.5, 0.6, 0.7], CurveVerdict.STILL_IMPROVING),
    ([0.1, 0.1, 0.9, 0.96, 0.98, 1.0, 0.98, 1.0, 0.98, 1.0], CurveVerdict.CONVERGED),  # early rise, flat window
    ([0.5, 0.52, 0.48, 0.5, 0.51, 0.49], CurveVerdict.STALLED),
    ([1.0, 0.98, 0.9, 0.85, 0.8, 0.7], CurveVerdict.DECLINING),
    ([0.2, 0.5, 0.9], CurveVerdict.TOO_SHORT),
])
def test_curve_verdicts(curve: list[float], verdict: CurveVerdict) -> None:
    assert judge_curve(curve).verdict is verdict


def test_the_trend_test_is_exact_over_the_orderings_of_the_window() -> None:
    # strictly increasing over 6 evaluations: only 1 of the 6! = 720 orderings has S = 15
    judged = judge_curve([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert judged.s == 15 and judged.p_up == pytest.approx(1 / 720) and judged.p_down == 1.0
    # 4 increasing points: 1/24 < 0.05, the shortest curve a trend can be shown on
    assert judge_curve([0.1, 0.2, 0.3, 0.4]).verdict is CurveVerdict.STILL_IMPROVING
    # a constant curve: every ordering ties, no trend either way
    flat = judge_curve([1.0] * 6)
    assert flat.verdict is CurveVerdict.CONVERGED and flat.p_up == flat.p_down == 1.0
    # only the last WINDOW evaluations count: a rise long ago is not a trend now
    assert judge_curve([0.0, 0.2, 0.4, *[0.97] * 6]).window == (0.97,) * 6


def test_a_noisy_rise_is_not_called_improving_on_too_little_evidence() -> None:
    # S = 4 (9 pairs up, 5 down, 1 tie): 210 of the 720 orderings of these values have S >= 4
    judged = judge_curve([0.5, 0.6, 0.55, 0.7, 0.5, 0.65])
    assert judged.s == 4 and judged.p_up == pytest.approx(210 / 720) and judged.p_up > ALPHA
    assert judged.verdict is CurveVerdict.STALLED


def test_read_curve_sorts_by_step(tmp_path: Path) -> None:
    (tmp_path / "curve.csv").write_text("demo_success,step,success\n1.0,0,0.5\n,1000,0.75\n,500,0.625\n")
    assert read_curve(tmp_path / "curve.csv") == [(0, 0.5), (500, 0.625), (1000, 0.75)]


def held_out(successes: list[bool], safety: float = 0.0, effort: float = -1.0, name: str = "p") -> HeldOut:
    n = len(successes)
    return HeldOut(name, SEEDS[:n], tuple(successes), tuple((float(s), safety, effort) for s in successes))


def test_sign_test_values() -> None:
    assert sign_test(5, 0) == pytest.approx(1 / 32)
    assert sign_test(4, 0) == pytest.approx(1 / 16)
    assert sign_test(6, 1) == pytest.approx(8 / 128)
    assert sign_test(0, 0) == 1.0


def test_a_significantly_more_successful_candidate_is_kept() -> None:
    current = held_out([True] * 10 + [False] * 10)
    candidate = held_out([True] * 16 + [False] * 4)  # succeeds in 6 episodes the current one failed, fails none
    judged = compare(candidate, current)
    assert (judged.b, judged.c) == (6, 0) and judged.p_more_success == pytest.approx(1 / 64)
    assert judged.decision is Decision.KEEP_MORE_SUCCESS and judged.decision.kept


def test_a_less_successful_candidate_is_rejected() -> None:
    # the other direction: the same pair with the roles swapped
    current = held_out([True] * 16 + [False] * 4)
    candidate = held_out([True] * 10 + [False] * 10)
    judged = compare(candidate, current)
    assert (judged.b, judged.c) == (0, 6) and judged.decision is Decision.REJECT_NOT_BETTER
    assert not judged.decision.kept


def test_a_few_more_successes_are_not_enough() -> None:
    current = held_out([True] * 16 + [False] * 4)
    candidate = held_out([True] * 19 + [False] * 1)  # b = 3, c = 0: p = 1/8
    judged = compare(candidate, current)
    assert judged.p_more_success == pytest.approx(1 / 8) and judged.decision is Decision.REJECT_NOT_BETTER


def test_as_successful_with_less_effort_is_kept_and_more_effort_is_not() -> None:
    current = held_out([True] * 20, effort=-2.0)
    cheaper = held_out([True] * 20, effort=-1.5)
    judged = compare(cheaper, current)
    assert (judged.effort_wins, judged.effort_losses) == (20, 0) and judged.decision is Decision.KEEP_LESS_EFFORT
    assert compare(current, cheaper).decision is Decision.REJECT_NOT_BETTER
    # less effort does not excuse fewer successes, significant or not
    fewer = held_out([True] * 19 + [False], effort=-1.5)
    assert compare(fewer, current).decision is Decision.REJECT_NOT_BETTER


def test_the_safety_veto_overrides_more_success() -> None:
    current = held_out([True] * 10 + [False] * 10, safety=0.0)
    candidate = held_out([True] * 20, safety=0.0)
    assert compare(candidate, current).decision is Decision.KEEP_MORE_SUCCESS
    # one unsafe step in one of its 20 episodes: vetoed
    unsafe = HeldOut("unsafe", candidate.seeds, candidate.successes,
                     tuple((1.0, -1.0 if i == 3 else 0.0, -1.0) for i in range(20)))
    judged = compare(unsafe, current)
    assert judged.decision is Decision.REJECT_LESS_SAFE and judged.safety == (-1.0, 0.0)
    # as unsafe as the current one is not less safe
    both = HeldOut("current", current.seeds, current.successes, unsafe.returns)
    assert compare(unsafe, both).decision is Decision.KEEP_MORE_SUCCESS


def test_only_the_same_seeds_are_compared() -> None:
    current = held_out([True] * 10)
    other = HeldOut("p", tuple(s + 1 for s in current.seeds), current.successes, current.returns)
    with pytest.raises(ValueError, match="same held-out seeds"):
        compare(other, current)
