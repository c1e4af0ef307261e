"""Judge: has a training run stopped learning, and is a candidate policy better than the one it would replace.

Both are stated statistical tests on numbers the report prints, so each verdict can be recomputed from the report.

**A learning curve** (a run's curve.csv: evaluation success against environment steps). The last WINDOW
evaluations x_1..x_n are tested for a monotonic trend with the Mann-Kendall statistic S = sum_{i<j} sign(x_j - x_i),
exactly: under "no trend" every ordering of those n values is equally likely, so p_up is the share of all n!
orderings of the same values (ties kept) whose S is at least the observed one, p_down the share at most it.
- STILL_IMPROVING: p_up < ALPHA (more steps would likely help);
- DECLINING: p_down < ALPHA (the run is losing what it had: RL unlearning a cloned policy looks like this);
- CONVERGED: neither, and the window's mean success is at least TARGET;
- STALLED: neither, below TARGET;
- TOO_SHORT: fewer than MIN_POINTS evaluations (with 3 the smallest possible p is 1/6: no test can pass).
A fixed step count decides nothing here; a verdict is reported, not acted on (see loop.py).

**A candidate against the current policy**, held out: both run the same episodes (the same seeds, none of them a
seed either policy was trained or selected on), so the outcomes are paired episode by episode.
- success: exact one-sided McNemar test. b = episodes only the candidate succeeded in, c = only the current one;
  p_more_success = P(Binomial(b + c, 1/2) >= b);
- effort: exact one-sided sign test on each episode's effort return (higher: less effort). w = episodes where the
  candidate's is higher, l = lower, ties dropped; p_less_effort = P(Binomial(w + l, 1/2) >= w);
- safety: the safety returns summed over the episodes (minus one per unsafe step). The candidate's must not be
  lower: no test, a safety regression gets no benefit of the doubt;
- the task term's mean returns are reported beside them (success is what the task term rewards; it decides).
Keep the candidate iff safety is not lower AND (p_more_success < ALPHA OR (b >= c AND p_less_effort < ALPHA)).
"""
from __future__ import annotations

import csv
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from math import comb
from pathlib import Path
from typing import Any

from skill_lib.learning.envs.base import REWARD_TERMS
from skill_lib.learning.experimenter.propose import TARGET_SUCCESS

ALPHA = 0.05
#: evaluations a curve's trend test looks at (the last ones); exact enumeration of 6! = 720 orderings
WINDOW = 6
MIN_POINTS = 4
#: the mean success a flat curve needs to count as converged rather than stalled
TARGET = TARGET_SUCCESS
SAFETY, EFFORT = REWARD_TERMS.index("safety"), REWARD_TERMS.index("effort")


# -- learning curves ------------------------------------------------------------------------------
class CurveVerdict(Enum):
    STILL_IMPROVING = "still improving"
    DECLINING = "declining"
    CONVERGED = "converged"
    STALLED = "stalled"
    TOO_SHORT = "too short to test"


@dataclass(frozen=True)
class CurveJudgement:
    verdict: CurveVerdict
    #: the evaluations tested (the last WINDOW of the curve)
    window: tuple[float, ...]
    s: int
    p_up: float
    p_down: float

    def describe(self) -> str:
        if self.verdict is CurveVerdict.TOO_SHORT:
            return f"{self.verdict.value} ({len(self.window)} evaluations, {MIN_POINTS} needed)"
        mean = sum(self.window) / len(self.window)
        return (f"{self.verdict.value} (Mann-Kendall over the last {len(self.window)} evaluations: S = {self.s}, "
                f"p_up = {self.p_up:.3g}, p_down = {self.p_down:.3g}; mean {mean:.3f})")


def kendall_s(values: Sequence[float]) -> int:
    return sum((b > a) - (b < a) for a, b in itertools.combinations(values, 2))


def judge_curve(successes: Sequence[float], window: int = WINDOW, alpha: float = ALPHA,
                target: float = TARGET) -> CurveJudgement:
    """The verdict on a learning curve (evaluation successes in step order)."""
    if not MIN_POINTS <= window <= 8:  # 8! orderings is the most enumerated
        raise ValueError(f"window must be {MIN_POINTS}-8 evaluations, not {window}")
    tested = tuple(float(x) for x in successes[-window:])
    if len(tested) < MIN_POINTS:
        return CurveJudgement(CurveVerdict.TOO_SHORT, tested, 0, 1.0, 1.0)
    s = kendall_s(tested)
    null = [kendall_s(order) for order in itertools.permutations(tested)]
    p_up, p_down = sum(x >= s for x in null) / len(null), sum(x <= s for x in null) / len(null)
    if p_up < alpha:
        verdict = CurveVerdict.STILL_IMPROVING
    elif p_down < alpha:
        verdict = CurveVerdict.DECLINING
    else:
        verdict = CurveVerdict.CONVERGED if sum(tested) / len(tested) >= target else CurveVerdict.STALLED
    return CurveJudgement(verdict, tested, s, p_up, p_down)


def read_curve(path: Path) -> list[tuple[int, float]]:
    """(step, evaluation success) of each row of a run's curve.csv, in step order."""
    with path.open(newline="") as f:
        return sorted((int(float(row["step"])), float(row["success"])) for row in csv.DictReader(f))


# -- a candidate against the current policy -------------------------------------------------------
@dataclass(frozen=True)
class HeldOut:
    """One policy's episodes on held-out seeds: success and each reward term's return, per episode."""

    policy: str
    seeds: tuple[int, ...]
    successes: tuple[bool, ...]
    #: per episode, (task, safety, effort) summed over its steps
    returns: tuple[tuple[float, ...], ...]
    #: per episode, whether the policy would have declined it (not run, counted as a failure; heldout.py); empty:
    #: none was
    declined: tuple[bool, ...] = ()

    @property
    def episodes(self) -> int:
        return len(self.seeds)

    @property
    def success_rate(self) -> float:
        return sum(self.successes) / max(len(self.successes), 1)

    def total(self, term: int) -> float:
        return float(sum(r[term] for r in self.returns))

    def mean_returns(self) -> dict[str, float]:
        return {name: round(self.total(i) / max(self.episodes, 1), 4) for i, name in enumerate(REWARD_TERMS)}

    def metrics(self, eval_seed: int) -> dict[str, Any]:
        """As `skillstack eval --json` reports them (what the registry records)."""
        return {"success_rate": self.success_rate, "episodes": self.episodes, "seed": eval_seed,
                "returns": self.mean_returns()}


class Decision(Enum):
    KEEP_MORE_SUCCESS = "more successful"
    KEEP_LESS_EFFORT = "as successful, with less effort"
    REJECT_LESS_SAFE = "less safe"
    REJECT_NOT_BETTER = "not better"

    @property
    def kept(self) -> bool:
        return self in (Decision.KEEP_MORE_SUCCESS, Decision.KEEP_LESS_EFFORT)


@dataclass(frozen=True)
class Comparison:
    candidate: HeldOut
    current: HeldOut
    #: episodes only the candidate succeeded in, only the current one
    b: int
    c: int
    p_more_success: float
    #: episodes where the candidate's effort return is higher (less effort), lower
    effort_wins: int
    effort_losses: int
    p_less_effort: float
    decision: Decision
    alpha: float = ALPHA

    @property
    def safety(self) -> tuple[float, float]:
        """Summed safety returns: candidate, current."""
        return self.candidate.total(SAFETY), self.current.total(SAFETY)


def sign_test(wins: int, losses: int) -> float:
    """Exact one-sided p: P(Binomial(wins + losses, 1/2) >= wins)."""
    n = wins + losses
    return sum(comb(n, k) for k in range(wins, n + 1)) / 2 ** n


def compare(candidate: HeldOut, current: HeldOut, alpha: float = ALPHA) -> Comparison:
    """The candidate against the current policy on the same held-out episodes (the rule in the module doc)."""
    if candidate.seeds != current.seeds:
        raise ValueError("a candidate and the current policy are compared on the same held-out seeds only")
    pairs = list(zip(candidate.successes, current.successes))
    b, c = sum(x and not y for x, y in pairs), sum(y and not x for x, y in pairs)
    efforts = [(x[EFFORT], y[EFFORT]) for x, y in zip(candidate.returns, current.returns)]
    wins, losses = sum(x > y for x, y in efforts), sum(x < y for x, y in efforts)
    p_success, p_effort = sign_test(b, c), sign_test(wins, losses)
    if candidate.total(SAFETY) < current.total(SAFETY):
        decision = Decision.REJECT_LESS_SAFE
    elif p_success < alpha:
        decision = Decision.KEEP_MORE_SUCCESS
    elif b >= c and p_effort < alpha:
        decision = Decision.KEEP_LESS_EFFORT
    else:
        decision = Decision.REJECT_NOT_BETTER
    return Comparison(candidate, current, b, c, p_success, wins, losses, p_effort, decision, alpha)
