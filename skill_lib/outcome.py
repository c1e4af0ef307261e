"""How one skill attempt ended: a kind (an enum, so callers never tell outcomes apart by message text) and
the details a log or an operator needs."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class OutcomeKind(Enum):
    SUCCEEDED = "succeeded"
    #: parameters missing, unknown or out of range: nothing moved
    BAD_PARAMETERS = "bad_parameters"
    #: a precondition does not hold in the world: nothing moved
    PRECONDITION_FAILED = "precondition_failed"
    #: the policy finished, but a postcondition does not hold in the world
    POSTCONDITION_FAILED = "postcondition_failed"
    #: the skill's timeout passed before its policy finished, and a postcondition does not hold
    TIMED_OUT = "timed_out"
    #: the caller asked it to stop (a cancel, the task's deadline)
    STOPPED = "stopped"
    #: the hardware refused or stopped: e-stop, a rejected command, the arm no longer reporting
    SAFETY_STOP = "safety_stop"
    #: an unexpected error in the stack (a bug: the message says what); the arm was stopped
    ERROR = "error"

    @property
    def retryable(self) -> bool:
        """A second attempt may help (a stop or a safety stop must end the task)."""
        return self not in (OutcomeKind.SUCCEEDED, OutcomeKind.STOPPED, OutcomeKind.SAFETY_STOP, OutcomeKind.ERROR)


@dataclass
class SkillOutcome:
    skill: str
    params: dict[str, Any]
    kind: OutcomeKind
    message: str
    steps: int = 0
    sim_seconds: float = 0.0
    #: 'scripted' or 'learned': which controller actually ran
    policy: str = "scripted"
    failed_conditions: list[str] = field(default_factory=list)

    @property
    def success(self) -> bool:
        """The skill's postconditions held in the world (not the policy's own report)."""
        return self.kind is OutcomeKind.SUCCEEDED
