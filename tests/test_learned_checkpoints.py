"""Every committed checkpoint still performs: success over 20 seeded held-out episodes above a floor."""
from __future__ import annotations

import pytest

from skill_lib.learning.mcsac import make_env
from skill_lib.learning.policy import CHECKPOINTS
from skill_lib.learning.train import evaluate, load_policy

COMMITTED = sorted(p.parent.name for p in CHECKPOINTS.glob("*/policy.pt"))
FLOOR = 0.9


def test_the_committed_checkpoints_are_the_expected_ones():
    assert {"move_to", "pick", "place", "push"} <= set(COMMITTED)  # reproduce: see README "Learned skills"


@pytest.mark.parametrize("skill", COMMITTED)
def test_committed_checkpoint_success_above_floor(skill):
    env = make_env(skill)
    rate = evaluate(load_policy(CHECKPOINTS / skill / "policy.pt"), env, 20, seed=3)
    env.close()
    assert rate >= FLOOR, f"{skill}: {rate:.2f} < {FLOOR}"
