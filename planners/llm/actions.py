"""What the LLM may ask for: a few actions over the scene's objects, each a clause the deterministic parser reads.

The model never writes skill calls. It writes steps such as {"action": "push", "object": "red_cube",
"direction": "left", "distance_cm": 10}; `step_schemas` turns the skill catalogue and the scene into the JSON
schema of those steps (object names, relations and directions as enums, numbers bounded by the skills' own
parameter ranges), and `render_step` writes a valid step as the canonical English clause ("push red_cube 10 cm
left") that planners.parser.parse_task then grounds, checks and turns into calls and goals.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hardware.types import ObjectState
from planners.grounding import describe_object, manipulable
from planners.language import known_skills
from skill_lib.spec import SkillSpec

#: relation -> how the parser reads it after "put X" ({target} is an object name)
RELATIONS: Mapping[str, str] = {
    "in": "in {target}", "on": "on {target}", "left_of": "to the left of {target}",
    "right_of": "to the right of {target}", "in_front_of": "in front of {target}", "behind": "behind {target}",
    "next_to": "next to {target}", "middle_of": "in the middle of {target}", "corner_of": "in a corner of {target}",
    **{f"{fb}_{lr}_corner_of": f"in the {fb} {lr} corner of {{target}}" for fb in ("front", "back")
       for lr in ("left", "right")}}
#: an object name that is one token to the parser (no spaces, punctuation or leading digit): it cannot split a
#: clause or read as a number, a distance or a second clause; other objects are left out of the enums
SAFE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True)
class Field:
    """One field of a step. kind: 'movable' (an object the robot can pick up), 'object' (any object),
    'drawer', 'relation', 'direction' (the push skill's choices), 'cm' (a distance within the bounds of
    `param` = (skill, parameter), in centimetres; null allowed when `optional`)."""

    kind: str
    doc: str
    param: tuple[str, str] | None = None
    optional: bool = False


@dataclass(frozen=True)
class Action:
    name: str
    #: the catalogue skills it becomes; it is offered only when the catalogue has all of them
    skills: tuple[str, ...]
    doc: str
    fields: Mapping[str, Field]
    render: Callable[[Mapping[str, Any]], str]
    #: the calls it must become: (skill, the field naming the object the call acts on, or None)
    calls: tuple[tuple[str, str | None], ...]


def _cm(value: float) -> str:
    return f"{round(value, 1):g} cm"  # millimetres are as fine as any skill moves


_PICK_PLACE = (("pick", "object"), ("place", "object"))
ACTIONS: tuple[Action, ...] = (
    Action("pick", ("pick",), "pick up an object and hold it", {"object": Field("movable", "object to pick up")},
           lambda s: f"pick up {s['object']}", (("pick", "object"),)),
    Action("put", ("pick", "place"), "pick up an object and put it somewhere relative to another object "
           "(in a container, on top of an object, or on the table beside it / in a spot of a container)",
           {"object": Field("movable", "object to move"), "relation": Field("relation", "where, relative to target"),
            "target": Field("object", "the reference object")},
           lambda s: f"put {s['object']} " + RELATIONS[s["relation"]].format(target=s["target"]), _PICK_PLACE),
    Action("put_between", ("pick", "place"), "put an object on the table between two others",
           {"object": Field("movable", "object to move"), "first": Field("object", "one side"),
            "second": Field("object", "the other side")},
           lambda s: f"put {s['object']} between {s['first']} and {s['second']}", _PICK_PLACE),
    Action("push", ("push",), "push an object along the table, without lifting it",
           {"object": Field("movable", "object to push"), "direction": Field("direction", "robot base frame"),
            "distance_cm": Field("cm", "how far", ("push", "distance"))},
           lambda s: f"push {s['object']} {_cm(s['distance_cm'])} {s['direction']}", (("push", "object"),)),
    Action("pull", ("pull",), "pull a drawer open (all the way when distance_cm is null)",
           {"object": Field("drawer", "the drawer"),
            "distance_cm": Field("cm", "how far, or null", ("pull", "distance"), optional=True)},
           lambda s: f"open {s['object']}" if s["distance_cm"] is None
           else f"pull {s['object']} out {_cm(s['distance_cm'])}", (("pull", "object"),)),
    Action("move_to", ("move_to",), "move the empty gripper above an object",
           {"target": Field("object", "object to hover over"),
            "height_cm": Field("cm", "height above its top, or null", ("move_to", "height"), optional=True)},
           lambda s: f"move to {s['target']}" if s["height_cm"] is None
           else f"move {_cm(s['height_cm'])} above {s['target']}", (("move_to", "target"),)),
    Action("open_gripper", ("open_gripper",), "open the gripper, releasing what it holds", {},
           lambda s: "open gripper", (("open_gripper", None),)),
    Action("close_gripper", ("close_gripper",), "close the gripper", {}, lambda s: "close gripper",
           (("close_gripper", None),)),
)
# every action must become skills the parser has recipes for (fails on import, not on a robot)
known_skills({s for a in ACTIONS for s in a.skills}, "planners.llm.actions.ACTIONS")
_BY_NAME = {a.name: a for a in ACTIONS}


def scene_names(objects: Mapping[str, ObjectState]) -> dict[str, list[str]]:
    """Enum values per object kind: the names a step may use (only names that are one parser token)."""
    safe = [o for name, o in objects.items() if SAFE_NAME.fullmatch(name) and name == o.name]
    return {"object": [o.name for o in safe], "movable": [o.name for o in safe if manipulable(o)],
            "drawer": [o.name for o in safe if o.opening is not None]}


def offered(skills: Iterable[SkillSpec], objects: Mapping[str, ObjectState]) -> list[Action]:
    """The actions this catalogue and scene allow: all their skills exist and every object field has a value."""
    catalogue = {s.name for s in skills}
    names = scene_names(objects)
    return [a for a in ACTIONS if set(a.skills) <= catalogue
            and all(names.get(f.kind, True) for f in a.fields.values())]


def _field_schema(field: Field, skills: Mapping[str, SkillSpec], names: Mapping[str, list[str]]) -> dict[str, Any]:
    if field.kind in names:
        return {"type": "string", "enum": list(names[field.kind]), "description": field.doc}
    if field.kind == "relation":
        return {"type": "string", "enum": list(RELATIONS), "description": field.doc}
    if field.kind == "direction":
        return {"type": "string", "enum": list(skills["push"].param("direction").choices), "description": field.doc}
    assert field.kind == "cm" and field.param is not None, field
    low, high = skills[field.param[0]].param(field.param[1]).bounds
    return {"type": ["number", "null"] if field.optional else "number", "minimum": round(low * 100, 6),
            "maximum": round(high * 100, 6), "description": f"{field.doc}, in centimetres"}


def step_schemas(actions: Iterable[Action], skills: Iterable[SkillSpec],
                 objects: Mapping[str, ObjectState]) -> list[dict[str, Any]]:
    """One closed object schema per action; every field required (null where optional), as strict mode wants."""
    catalogue = {s.name: s for s in skills}
    names = scene_names(objects)
    schemas = []
    for action in actions:
        props: dict[str, Any] = {"action": {"type": "string", "enum": [action.name], "description": action.doc}}
        props |= {key: _field_schema(f, catalogue, names) for key, f in action.fields.items()}
        schemas.append({"type": "object", "properties": props, "required": list(props),
                        "additionalProperties": False})
    return schemas


def render_step(step: Mapping[str, Any]) -> str:
    """A step that passed the schema, as the clause the parser reads."""
    return _BY_NAME[step["action"]].render(step)


def expected_calls(steps: Iterable[Mapping[str, Any]]) -> list[tuple[str, str | None]]:
    """(skill, object acted on) of the calls valid steps must become, in order. As the parser does, a pick
    followed by a put of the same object is one pick."""
    calls: list[tuple[str, str | None]] = []
    for step in steps:
        these = [(skill, step[key] if key else None) for skill, key in _BY_NAME[step["action"]].calls]
        if these[:2] == [("pick", step.get("object")), ("place", step.get("object"))] and calls[-1:] == these[:1]:
            calls.pop()
        calls += these
    return calls


def describe_actions(actions: Iterable[Action]) -> str:
    """The actions for the system prompt, one a line."""
    return "\n".join(f"- {a.name}({', '.join(a.fields)}): {a.doc}" for a in actions)


def describe_objects(objects: Mapping[str, ObjectState]) -> str:
    """The objects a step may name, for the system prompt, one a line with what they are."""
    names = scene_names(objects)
    lines = []
    for name in names["object"]:
        obj = objects[name]
        kind = " (container)" if obj.is_container else " (drawer)" if obj.opening is not None else ""
        lines.append(f"- {name}: {describe_object(obj, objects)}{kind}")
    return "\n".join(lines) or "- (none)"
