"""Recheck: would the promoted policies still decline what the logs say a learned policy declined?

A decline in a log was made by the policy promoted when the run ran; one promoted since may take the same context
(place v3 takes the trays v2 declined), and proposing to train for it again wastes the experimenter's budget. So each
logged decline is put again to the promoted policy's own `declines()` (the check the skill runner makes, not a copy
of it that can drift), in the world as the log tells it (analyse: the scene's objects, moved by the run's places and
pushes). What the log does not hold cannot be asked: what touches what (move_to declines while the hand holds
something) and where the hand started (the learned pick declines a hand outside its training box). A decline that
may rest on those is CANNOT_TELL, and stays proposed.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from enum import Enum
from pathlib import Path

from hardware.arm import WorldView
from hardware.types import ObjectState
from skill_lib.learning.experimenter.analyse import Analysed, Analysis, AttemptKind
from skill_lib.learning.policy import HAND_OUTSIDE
from skill_lib.spec import Policy


class Recheck(Enum):
    STILL_DECLINED = "still declined"
    TAKEN_NOW = "taken now"
    CANNOT_TELL = "cannot tell"


class _NotLogged(Exception):
    """The check needs what the episode log does not hold."""


class LoggedWorld(WorldView):
    """The objects where the log puts them; contacts are not logged, so asking for one raises _NotLogged."""

    def __init__(self, objects: Mapping[str, ObjectState]) -> None:
        self._objects = dict(objects)

    def objects(self) -> dict[str, ObjectState]:
        return dict(self._objects)

    def contacts(self, a: str, b: str) -> bool:
        raise _NotLogged(f"contacts between {a} and {b}")


def promoted_policies(directory: Path) -> dict[str, Policy]:
    """skill -> the adapter of its promoted policy in the registry in `directory` (RegistryError for a promoted
    checkpoint that is missing or changed)."""
    from skill_lib.learning.policy import with_learned_policies
    from skill_lib.skills import default_skills

    return {spec.name: spec.policy() for spec in with_learned_policies(default_skills(), directory)
            if spec.policy is not None}


def recheck(item: Analysed, policies: Mapping[str, Policy]) -> Recheck:
    """A declined attempt put again to the promoted policy of its skill (`policies`, see promoted_policies)."""
    policy = policies.get(item.attempt.skill)
    if policy is None or not item.context.objects:  # no policy now (it runs scripted), or a scene the log lost
        return Recheck.CANNOT_TELL if policy is not None else Recheck.STILL_DECLINED
    try:
        reason = policy.declines(LoggedWorld(item.context.objects), item.attempt.params, None)
    except (_NotLogged, KeyError, TypeError, ValueError):  # unlogged state, or parameters it cannot read
        return Recheck.CANNOT_TELL
    if reason:
        return Recheck.STILL_DECLINED
    return Recheck.CANNOT_TELL if HAND_OUTSIDE in (item.attempt.fallback or "") else Recheck.TAKEN_NOW


def taken_now(analysis: Analysis, policies: Mapping[str, Policy]) -> Counter[str]:
    """skill -> how many of its logged declines its promoted policy would now take."""
    return Counter(item.attempt.skill for item in analysis.items
                   if item.kind is AttemptKind.DECLINED and recheck(item, policies) is Recheck.TAKEN_NOW)
