"""Node parameters as dataclass fields: each one's name, type, default and description written once.

A node's config is a dataclass; its fields made with `documented(default, doc)` are the node's ROS 2
parameters (the keys of config/*.yaml, `-p name:=value`). A field made with `nested(Config)` holds another
config whose parameters the node declares too, under their own names (so the scheduler's arm parameters are
RosArmConfig's, documented there). From the one dataclass:
- `hardware.ros.common.declare_config` declares every parameter on a node, its doc as the description that
  `ros2 param describe` shows, and returns the filled config;
- `help_text` is the executable's `--help` (name, type, default, doc of each parameter).
Other fields (e.g. a `safety` dict of overrides) are not parameters: code fills them.
Plain Python, no ROS: configs import and `--help` answers without rclpy being initialised.
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import textwrap
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

C = TypeVar("C")

_DOC = "doc"
_NESTED = "nested"
#: what a ROS 2 parameter can hold (its type is fixed by the default's, so `-p x:=1` is no `float`)
_SCALARS = (bool, int, float, str)


def documented(default: Any, doc: str) -> Any:
    """A dataclass field that is a node parameter with this default and description.

    The default's Python type is the parameter's ROS type: write `20.0` for a float (ROS rejects a float
    from YAML for an integer parameter, and the reverse). A list default is copied for each instance.
    """
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={_DOC: doc})
    return field(default=default, metadata={_DOC: doc})


def nested(config: type) -> Any:
    """A field holding another config; its parameters are this config's, with their own (flat) names."""
    return field(default_factory=config, metadata={_NESTED: config})


@dataclass(frozen=True)
class Parameter:
    """One parameter of a config: what `ros2 param describe` and `--help` show."""

    name: str
    #: the annotation, as written: `str`, `int`, `float`, `bool`, `list[str]`
    type_name: str
    default: Any
    doc: str


def _type_name(hint: Any) -> str:
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def _check_default(config: type, name: str, hint: Any, default: Any) -> None:
    """The default must have the annotated type exactly (bool is no int here): ROS types follow it."""
    origin = typing.get_origin(hint)
    if origin is list:
        (item,) = typing.get_args(hint) or (str,)
        ok = isinstance(default, list) and bool(default) and all(type(v) is item for v in default)
        why = "a non-empty list (ROS cannot type an empty one)"
    else:
        ok = hint in _SCALARS and type(default) is hint
        why = "one of bool, int, float, str"
    if not ok:
        raise TypeError(f"{config.__name__}.{name}: default {default!r} does not match {_type_name(hint)}; "
                        f"a parameter is {why}, its default of exactly that type")


def parameters(config: type) -> list[Parameter]:
    """Every parameter of `config`, nested configs' in place, in field order.

    Raises TypeError if a default does not match its annotation, ValueError if two parameters share a name.
    """
    out: list[Parameter] = []
    hints = typing.get_type_hints(config)
    for f in dataclasses.fields(config):
        if _NESTED in f.metadata:
            out += parameters(f.metadata[_NESTED])
        elif _DOC in f.metadata:
            default = f.default
            if f.default_factory is not dataclasses.MISSING:  # a list: documented() gives it a factory
                default = f.default_factory()
            _check_default(config, f.name, hints[f.name], default)
            out.append(Parameter(f.name, _type_name(hints[f.name]), default, f.metadata[_DOC]))
    seen: set[str] = set()
    for p in out:
        if p.name in seen:
            raise ValueError(f"{config.__name__}: two parameters named {p.name!r} (nested configs share names)")
        seen.add(p.name)
    return out


def build(config: type[C], values: Mapping[str, Any]) -> C:
    """`config` with the parameters in `values` (name -> value; arrays as lists), defaults for the rest."""
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(config):  # type: ignore[arg-type]
        if _NESTED in f.metadata:
            kwargs[f.name] = build(f.metadata[_NESTED], values)
        elif _DOC in f.metadata and f.name in values:
            value = values[f.name]
            # a list parameter (documented() gives it a factory) may come back from rclpy as an array.array
            kwargs[f.name] = list(value) if f.default_factory is not dataclasses.MISSING else value
    return config(**kwargs)


def wants_help(argv: Sequence[str]) -> bool:
    """True if the command line (argv[0] is the program) asks for help before any `--ros-args`."""
    args = list(argv[1:])
    if "--ros-args" in args:
        args = args[: args.index("--ros-args")]
    return "-h" in args or "--help" in args


def help_text(config: type, prog: str) -> str:
    """The `--help` of a node executable: how to set parameters, then each one with type, default, doc."""
    summary = inspect.cleandoc(config.__doc__ or "")
    lines = [f"usage: {prog} [-h] [--ros-args [-r __ns:=NAMESPACE] [-p NAME:=VALUE ...] [--params-file FILE]]",
             "", summary, "", "parameters (`ros2 param describe NODE NAME` shows the same descriptions):"]
    for p in parameters(config):
        # defaults in JSON, which is YAML: what to write in a parameter file or after `-p NAME:=`
        lines += [f"  {p.name} ({p.type_name}, default {json.dumps(p.default)})",
                  textwrap.fill(p.doc, width=110, initial_indent=" " * 6, subsequent_indent=" " * 6)]
    return "\n".join(lines) + "\n"
