"""A distilled operator correction: the structured knowledge, the context it applies to, and provenance.

Plain dataclasses that round-trip through JSON (`to_dict` / `from_dict`): the store keeps one JSON
document per record, and export/import is JSON Lines of the same dicts.
"""
from __future__ import annotations

import math
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

#: plan: a rule for plans (order, destination); skill: a skill parameter; task: a taught task (what a phrase means)
KINDS = ("plan", "skill", "task")
MODES = ("delta", "value")
SOURCES = ("cli", "api", "topic", "voice", "interactive", "import", "console")
#: a plan record's rules (a task record's rule is a "definition")
RULE_TYPES = ("before", "destination")
#: what a record applies to -> the object attributes that must match: this object's attributes ("object"),
#: its category, anything, or a category narrowed to one attribute (after corrections that contradict
#: each other between, say, small and large cubes: see planners/corrections/narrowing.py)
SCOPE_KEYS: dict[str, tuple[str, ...]] = {
    "object": ("category", "color", "size"), "category+size": ("category", "size"),
    "category+color": ("category", "color"), "category": ("category",), "any": ()}
SCOPES = tuple(SCOPE_KEYS)
#: who may retrieve a record: the robot it was taught on only, or every robot of the fleet (planners/
#: corrections/memory/sync.py pushes only "fleet" records to the shared store)
SHARES = ("robot", "fleet")
#: size of a visual descriptor is free, but bounded so a record stays small
MAX_VISUAL_LEN = 256


class RecordError(ValueError):
    """A record (e.g. one line of an import file) is malformed; the message says which field."""


def describe_context(kind: str, skill: str | None, obj: ObjectContext | None, target: ObjectContext | None,
                     task: str | None) -> str:
    """The text of a correction's (or a query's) context, embedded for retrieval. For a taught task it is the
    task text alone: what is compared is the phrase taught and the words of a later task."""
    if kind == "task":
        return task or ""
    parts = [f"skill: {skill.replace('_', ' ')}" if skill else f"{kind} rule"]
    if obj is not None and obj.describe():
        parts.append(f"object: {obj.describe()}")
    if target is not None and target.describe():
        parts.append(f"target: {target.describe()}")
    if task:
        parts.append(f"task: {task}")
    return "; ".join(parts)


@dataclass(frozen=True)
class ObjectContext:
    """The object a correction was about, as attributes that generalise beyond one scene."""

    name: str | None = None
    category: str | None = None
    color: str | None = None
    size: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        words = [w for w in (self.size, self.color, self.category) if w]
        return " ".join(words) or (self.name or "").replace("_", " ")


@dataclass(frozen=True)
class PlanRule:
    """`before`: args {"first": action, "then": action | None}, an action being {"verb", "object"} where
    object is an attribute dict ({"category", "color", "size"}); then=None means before everything else.
    `destination`: args {"match": {"category", "color"?, "size"?}, "container": object name}.
    `definition` (kind "task"): args {"phrase": what the operator will say, "steps": the task it means, as
    the parser reads it}."""

    type: str
    args: dict[str, Any]


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class CorrectionRecord:
    text: str
    kind: str
    #: skill-level: the skill whose parameter changes; None with kind="skill" means every skill that has
    #: the parameter (e.g. "slower" with no skill in context)
    skill: str | None = None
    parameter: str | None = None
    mode: str = "delta"
    value: float | str | None = None
    rule: PlanRule | None = None
    #: what the record applies to: this object's attributes ("object"), its category, or anything
    scope: str = "category"
    object: ObjectContext | None = None
    #: for place: where the object was being put (an offset into a tray says nothing about stacking)
    target: ObjectContext | None = None
    task: str | None = None
    visual: tuple[float, ...] | None = None
    source: str = "api"
    created_at: str = field(default_factory=utc_now)
    task_id: str | None = None
    #: False when the knowledge is recorded but no skill can use it yet (e.g. grasp side)
    applicable: bool = True
    note: str | None = None
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)
    #: provenance beyond source, created_at and task: the robot it was taught on and the operator who said it
    #: (the store fills `robot` and `operator` in from its configuration when they are None)
    robot: str | None = None
    operator: str | None = None
    #: "robot": this robot only; "fleet": shared with every robot through the fleet store
    share: str = "fleet"
    #: the store's durable row id; None until stored
    id: int | None = None
    #: switched off by the operator: kept, listed and exported, never retrieved (the store's `disabled` column
    #: holds it, like `id`; CorrectionStore.set_disabled switches it)
    disabled: bool = False
    #: the uids of the stored records that were applied to the skill call this correction was said on: what it
    #: was said against (None: not known, e.g. taught from the command line). A fleet sync re-expresses it
    #: against other robots' records its robot did not have (planners/corrections/memory/sync.py)
    based_on: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        _check(self)

    def with_id(self, record_id: int) -> CorrectionRecord:
        return replace(self, id=record_id)

    @property
    def knowledge(self) -> dict[str, Any]:
        """The structured knowledge alone (what a CLI prints as `knowledge`)."""
        if self.kind == "task" and self.rule is not None:
            return {"definition": self.rule.args["phrase"], "means": self.rule.args["steps"]}
        if self.kind == "plan" and self.rule is not None:
            return {"rule": self.rule.type, **self.rule.args}
        return {"skill": self.skill, "parameter": self.parameter, "mode": self.mode, "value": self.value,
                "applicable": self.applicable}

    def context_text(self) -> str:
        """What the index embeds: the context first, then the correction itself (a taught task: its phrase)."""
        if self.kind == "task" and self.rule is not None:
            return describe_context("task", None, None, None, self.rule.args["phrase"])
        return describe_context(self.kind, self.skill, self.object, self.target, self.task) + \
            f"; correction: {self.text}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["visual"] = list(self.visual) if self.visual is not None else None
        if self.based_on is None:  # most records: their documents stay as they were before the field
            del data["based_on"]
        else:
            data["based_on"] = list(self.based_on)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> CorrectionRecord:
        """Validate and build; raises RecordError naming the bad field."""
        if not isinstance(data, dict):
            raise RecordError(f"a record must be a JSON object, got {type(data).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise RecordError(f"unknown field(s) {', '.join(sorted(unknown))}")
        data = dict(data)
        try:
            for key in ("object", "target"):
                if data.get(key) is not None:
                    data[key] = ObjectContext(**data[key])
            if data.get("rule") is not None:
                data["rule"] = PlanRule(**data["rule"])
            if data.get("visual") is not None:
                data["visual"] = tuple(float(v) for v in data["visual"])
            if data.get("based_on") is not None:
                data["based_on"] = tuple(str(uid) for uid in data["based_on"])
            return cls(**data)
        except TypeError as err:  # a missing or unexpected nested field
            raise RecordError(str(err)) from None


def _check(r: CorrectionRecord) -> None:
    """Field-level validation: a record that passes can be applied without further checks."""
    if not isinstance(r.text, str) or not r.text.strip():
        raise RecordError("text must be a non-empty string")
    if r.kind not in KINDS:
        raise RecordError(f"kind must be one of {KINDS}, got {r.kind!r}")
    if r.source not in SOURCES:
        raise RecordError(f"source must be one of {SOURCES}, got {r.source!r}")
    if r.scope not in SCOPES:
        raise RecordError(f"scope must be one of {SCOPES}, got {r.scope!r}")
    if r.kind == "skill":
        if not r.parameter or r.mode not in MODES:
            raise RecordError(f"a skill record needs a parameter and mode in {MODES}")
        if r.mode == "delta" and (isinstance(r.value, bool) or not isinstance(r.value, (int, float))
                                  or not math.isfinite(r.value)):
            raise RecordError(f"a delta must be a finite number, got {r.value!r}")
    elif r.kind == "task":
        args = r.rule.args if r.rule is not None and isinstance(r.rule.args, dict) else {}
        if r.rule is None or r.rule.type != "definition" or not all(
                isinstance(args.get(k), str) and args[k].strip() for k in ("phrase", "steps")):
            raise RecordError("a task record needs a definition rule with a phrase and steps")
    elif r.rule is None or r.rule.type not in RULE_TYPES or not isinstance(r.rule.args, dict):
        raise RecordError(f"a plan record needs a rule of type {RULE_TYPES}")
    if r.share not in SHARES:
        raise RecordError(f"share must be one of {SHARES}, got {r.share!r}")
    for name in ("robot", "operator"):
        if getattr(r, name) is not None and not isinstance(getattr(r, name), str):
            raise RecordError(f"{name} must be a string, got {getattr(r, name)!r}")
    if r.visual is not None and (len(r.visual) > MAX_VISUAL_LEN or not all(math.isfinite(v) for v in r.visual)):
        raise RecordError(f"visual must be at most {MAX_VISUAL_LEN} finite numbers")
    if r.id is not None and (isinstance(r.id, bool) or not isinstance(r.id, int)):
        raise RecordError(f"id must be an integer, got {r.id!r}")
    if not isinstance(r.disabled, bool):
        raise RecordError(f"disabled must be true or false, got {r.disabled!r}")
