"""What a skill is: data (names, phrasings, typed parameters, conditions) plus a policy slot."""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hardware.arm import ArmInterface, WorldView

#: metres of tool travel per control step for an action component of 1.0
ACTION_SCALE = 0.03


class SkillParamError(ValueError):
    """A skill was called with a missing, unknown or out-of-range parameter."""


@dataclass(frozen=True)
class ParamSpec:
    """One typed skill parameter. `kind` is 'object', 'float', 'str' or 'bool'."""

    name: str
    kind: str
    doc: str
    default: Any = None
    required: bool = False
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    @property
    def bounds(self) -> tuple[float, float]:
        """(low, high) of a bounded number parameter."""
        if self.low is None or self.high is None:
            raise ValueError(f"parameter {self.name} has no bounds")
        return self.low, self.high

    def validate(self, value: Any) -> Any:
        if self.kind == "float":
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise SkillParamError(f"{self.name} must be a number, got {value!r}") from None
            if not np.isfinite(value):
                raise SkillParamError(f"{self.name} must be finite, got {value}")
            if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
                raise SkillParamError(f"{self.name}={value:g} is outside [{self.low:g}, {self.high:g}]")
            return value
        if self.kind == "bool":
            return bool(value)
        value = str(value)
        if self.choices and value not in self.choices:
            raise SkillParamError(f"{self.name} must be one of {', '.join(self.choices)}; got {value!r}")
        return value


@dataclass
class SkillContext:
    """What a running skill sees: the arm, the world, and its validated parameters."""

    arm: ArmInterface
    world: WorldView
    params: dict[str, Any]
    #: state a skill records when it starts (e.g. object poses) for its postconditions
    memory: dict[str, Any] = field(default_factory=dict)


class Policy(ABC):
    """Maps the context to an action each control step: [dx, dy, dz, gripper] in [-1, 1].

    dx..dz move the tool by up to ACTION_SCALE metres; gripper -1 closes, +1 opens fully.
    """

    #: 'scripted' or 'learned'; recorded in the episode log
    kind: str = "scripted"
    #: tool rotation about the vertical (radians) the policy wants now; the runner applies it
    tool_yaw: float = 0.0

    def declines(self, world: WorldView, params: Mapping[str, Any], tool: np.ndarray | None = None) -> str | None:
        """Why this policy should not run in this context (the scripted controller then runs), or None.
        A learned policy declines what it was not trained on. `tool`: where the tool centre point starts."""
        return None

    @abstractmethod
    def reset(self, ctx: SkillContext) -> None: ...

    @abstractmethod
    def act(self, ctx: SkillContext) -> np.ndarray: ...

    @abstractmethod
    def done(self, ctx: SkillContext) -> bool:
        """The policy has finished its motion (the success detector decides if it worked)."""

    @abstractmethod
    def progress(self) -> float:
        """0..1, for progress bars."""


@dataclass(frozen=True)
class Condition:
    """A named predicate over the world, with a message for when it fails."""

    description: str
    check: Callable[[SkillContext], bool]


@dataclass(frozen=True)
class RetryStep:
    """One skill call of a retry."""

    skill: str
    params: dict[str, Any]
    #: run the scripted reference controller: the world may now be where no policy was trained
    scripted: bool = False
    #: what this step does, for the episode log (empty: a plain second attempt)
    note: str = ""


@dataclass(frozen=True)
class RetryContext:
    """What a skill's retry rule sees after a failed attempt."""

    skill: str
    params: Mapping[str, Any]
    world: WorldView
    #: object positions when the first attempt started
    start: Mapping[str, np.ndarray]

    def again(self) -> RetryStep:
        return RetryStep(self.skill, dict(self.params))


@dataclass(frozen=True)
class LearningSpec:
    """How a skill is learned. Entry points are "module:name" strings: the learning package imports torch and
    gymnasium, which a skill spec must not need."""

    #: gymnasium id of the skill's goal-conditioned environment
    env_id: str
    #: the environment class, registered under env_id when skill_lib.learning is imported
    env_entry_point: str
    #: the policy-slot adapter that drives the skill with a trained policy (skill_lib.learning.policy)
    adapter: str


@dataclass(frozen=True)
class SkillSpec:
    """One skill of the library. Its parameters' bounds, its retry rule and its policy slot live here, so
    planners read them from the spec instead of restating them."""

    name: str
    description: str
    phrasings: tuple[str, ...]
    params: tuple[ParamSpec, ...]
    preconditions: tuple[Condition, ...]
    postconditions: tuple[Condition, ...]
    timeout_s: float
    #: the scripted reference controller (IK-based): demonstrator and explicit fallback
    scripted: Callable[[], Policy]
    #: the policy slot; None means "use the scripted controller" (and the log says so)
    policy: Callable[[], Policy] | None = None
    #: how a policy for it is trained and run; None: scripted only
    learning: LearningSpec | None = None
    #: what runs after a failed attempt; default: the same call again
    retry: Callable[[RetryContext], tuple[RetryStep, ...]] = field(default=lambda ctx: (ctx.again(),))

    def bind(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Validate parameters against the spec and fill defaults."""
        known = {p.name for p in self.params}
        unknown = set(params) - known
        if unknown:
            raise SkillParamError(f"{self.name} has no parameter(s) {', '.join(sorted(unknown))}; "
                                  f"it takes {', '.join(sorted(known)) or 'none'}")
        bound = {}
        for p in self.params:
            if p.name in params and params[p.name] is not None:
                bound[p.name] = p.validate(params[p.name])
            elif p.required:
                raise SkillParamError(f"{self.name} needs parameter {p.name!r} ({p.doc})")
            else:
                bound[p.name] = p.default
        return bound

    def param(self, name: str) -> ParamSpec:
        """The parameter called `name` (KeyError if the skill has none)."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"{self.name} has no parameter {name!r}")

    def failed_conditions(self, ctx: SkillContext, which: str = "post") -> list[str]:
        """The descriptions of the conditions that do not hold. Preconditions are checked in order up to the
        first that fails: later ones may read what an earlier one checks (the object is in the scene)."""
        if which == "post":
            return [c.description for c in self.postconditions if not c.check(ctx)]
        return next(([c.description] for c in self.preconditions if not c.check(ctx)), [])

    def embedding_text(self) -> str:
        """The text the skill library embeds for retrieval."""
        return f"{self.name.replace('_', ' ')}: {self.description} " + " | ".join(self.phrasings)
