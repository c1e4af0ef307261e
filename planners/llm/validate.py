"""A strict validator for the small subset of JSON Schema the LLM planner generates (no dependency).

Supported keywords: type, enum, properties, required, additionalProperties (false only), items, minItems,
maxItems, anyOf, minimum, maximum, minLength, maxLength, description. Any other keyword in a schema is an
error, not ignored: a schema this validator does not fully check must not pass for checked.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

_KEYWORDS = frozenset({"type", "enum", "properties", "required", "additionalProperties", "items", "minItems",
                       "maxItems", "anyOf", "minimum", "maximum", "minLength", "maxLength", "description"})
#: enum values a message lists before '...'
_LISTED = 12


class SchemaError(ValueError):
    """A value that does not fit its schema; the message names the path (steps[0].object) and why."""


def show(value: Any, limit: int = 60) -> str:
    """A value as a message may quote it: repr (control and format characters escaped), truncated."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _type_ok(value: Any, name: str) -> bool:
    if name == "number":  # bool is an int in Python, never a number in JSON
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    kinds = {"string": str, "object": dict, "array": list, "boolean": bool, "null": type(None)}
    return isinstance(value, kinds[name])


def _tags(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The properties an anyOf branch fixes to one value (e.g. action: pick): how a branch is recognised."""
    props = schema.get("properties", {})
    return {k: p["enum"][0] for k, p in props.items() if len(p.get("enum", ())) == 1}


def validate(value: Any, schema: Mapping[str, Any], path: str = "$") -> None:
    """Raise SchemaError for the first way `value` breaks `schema`."""
    unknown = set(schema) - _KEYWORDS
    if unknown:
        raise ValueError(f"schema keyword(s) {', '.join(sorted(unknown))} at {path} are not implemented")
    if "anyOf" in schema:
        _any_of(value, schema["anyOf"], path)
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_ok(value, n) for n in names):
            raise SchemaError(f"{path}: expected {' or '.join(names)}, got {show(value)}")
    if "enum" in schema and not any(value == v and type(value) is type(v) for v in schema["enum"]):
        allowed = ", ".join(str(v) for v in schema["enum"][:_LISTED]) + (", ..." if len(schema["enum"]) > _LISTED
                                                                         else "")
        raise SchemaError(f"{path}: {show(value)} is not one of {allowed}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise SchemaError(f"{path}: {value} is not a finite number")
        if "minimum" in schema and value < schema["minimum"]:
            raise SchemaError(f"{path}: {show(value)} is below the minimum {schema['minimum']:g}")
        if "maximum" in schema and value > schema["maximum"]:
            raise SchemaError(f"{path}: {show(value)} is above the maximum {schema['maximum']:g}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            raise SchemaError(f"{path}: a string of at least {schema['minLength']} characters is needed")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise SchemaError(f"{path}: {len(value)} characters, at most {schema['maxLength']}")
    if isinstance(value, list):
        _array(value, schema, path)
    if isinstance(value, dict):
        _object(value, schema, path)


def _array(value: list[Any], schema: Mapping[str, Any], path: str) -> None:
    if len(value) < schema.get("minItems", 0):
        raise SchemaError(f"{path}: at least {schema['minItems']} item(s) needed, got {len(value)}")
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        raise SchemaError(f"{path}: at most {schema['maxItems']} item(s), got {len(value)}")
    if "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], f"{path}[{i}]")


def _object(value: dict[str, Any], schema: Mapping[str, Any], path: str) -> None:
    props = schema.get("properties", {})
    missing = [k for k in schema.get("required", ()) if k not in value]
    if missing:
        raise SchemaError(f"{path}: missing {', '.join(missing)}")
    extra = [k for k in value if k not in props]
    if extra and schema.get("additionalProperties", True) is not True:
        if schema["additionalProperties"] is not False:
            raise ValueError(f"additionalProperties at {path} must be true or false")
        raise SchemaError(f"{path}: unexpected field(s) {', '.join(show(k, 30) for k in extra)}")
    for key, sub in props.items():
        if key in value:
            validate(value[key], sub, f"{path}.{key}")


def _any_of(value: Any, branches: list[Mapping[str, Any]], path: str) -> None:
    """Valid if one branch fits. The error reported is that of the branch the value's tags select (the step
    whose action it names), so an unknown object reads as such, not as 'no branch matched'."""
    errors: list[SchemaError] = []
    for branch in branches:
        try:
            validate(value, branch, path)
            return
        except SchemaError as err:
            errors.append(err)
    if isinstance(value, dict):
        for branch, error in zip(branches, errors):
            tags = _tags(branch)
            if tags and all(value.get(k) == v for k, v in tags.items()):
                raise error
        keys = sorted({k for b in branches for k in _tags(b)})
        if len(keys) == 1:  # one tag (action): say which values it may take
            allowed = ", ".join(sorted(str(_tags(b)[keys[0]]) for b in branches if keys[0] in _tags(b)))
            raise SchemaError(f"{path}.{keys[0]}: {show(value.get(keys[0]), 40)} is not one of {allowed}")
    raise errors[0] if len(errors) == 1 else SchemaError(f"{path}: {show(value)} fits none of the allowed forms")
