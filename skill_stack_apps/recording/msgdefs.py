"""ROS 2 message definitions as MCAP `ros2msg` schemas, without ROS installed.

The standard definitions a recording uses are shipped beside this module (msg/<package>/<Type>.msg, copied
unchanged from ROS 2 Kilted's common_interfaces, rcl_interfaces and builtin_interfaces, and geometry2's
tf2_msgs/TFMessage, which has no PyPI wheel); the project's own
(skill_stack_interfaces) are read from interfaces/msg of the source tree or from an installed share directory.
A schema is the type's text followed by every type it uses, each after a line of 80 '=' and `MSG: pkg/Type`,
as rosbag2 writes them.
"""
from __future__ import annotations

import os
import re
import sys
from functools import lru_cache
from pathlib import Path

_SHIPPED = Path(__file__).resolve().parent / "msg"
_SOURCE_INTERFACES = Path(__file__).resolve().parents[2] / "interfaces" / "msg"
OWN_PACKAGE = "skill_stack_interfaces"
_SEPARATOR = "=" * 80
#: the primitive field types of the ROS 2 IDL (everything else names a message)
_PRIMITIVES = {"bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32",
               "uint32", "int64", "uint64", "string", "wstring"}
_FIELD = re.compile(r"^\s*([A-Za-z][\w/]*)(?:<=\d+)?(?:\[[^\]]*\])?\s+\w+")


def _search_path(package: str) -> list[Path]:
    if package != OWN_PACKAGE:
        return [_SHIPPED / package]
    prefixes = [*os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep), sys.prefix]
    return [_SOURCE_INTERFACES, *(Path(p) / "share" / OWN_PACKAGE / "msg" for p in prefixes if p)]


def message_text(datatype: str) -> str:
    """The .msg text of one type, e.g. "sensor_msgs/msg/JointState" or "sensor_msgs/JointState"."""
    package, name = _split(datatype)
    for folder in _search_path(package):
        path = folder / f"{name}.msg"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError(f"no message definition for {package}/{name} (shipped: {_SHIPPED}; own interfaces: "
                            f"{_SOURCE_INTERFACES} or <prefix>/share/{OWN_PACKAGE}/msg)")


def _split(datatype: str) -> tuple[str, str]:
    parts = datatype.split("/")
    if len(parts) == 3 and parts[1] == "msg":
        return parts[0], parts[2]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise ValueError(f"not a ROS 2 message type: {datatype!r} (want pkg/msg/Type)")


def _dependencies(package: str, text: str) -> list[str]:
    """The message types `text` uses, as pkg/Type, in order of first use."""
    found: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        match = _FIELD.match(line)
        if not match or match.group(1) in _PRIMITIVES:  # constants are primitives too
            continue
        kind = match.group(1)
        if kind == "Header":  # ROS 1 shorthand that rosidl still accepts
            kind = "std_msgs/Header"
        full = kind if "/" in kind else f"{package}/{kind}"
        if full not in found:
            found.append(full)
    return found


@lru_cache(maxsize=None)
def schema_text(datatype: str) -> str:
    """The `ros2msg` schema of `datatype`: its text, then each type it uses (depth first, once each)."""
    package, name = _split(datatype)
    top = message_text(datatype)
    parts, seen, todo = [top], {f"{package}/{name}"}, _dependencies(package, top)
    while todo:
        dep = todo.pop(0)
        if dep in seen:
            continue
        seen.add(dep)
        text = message_text(dep)
        parts.append(f"{_SEPARATOR}\nMSG: {dep}\n{text}")
        todo = _dependencies(dep.split("/")[0], text) + todo
    return "\n".join(part.rstrip("\n") for part in parts) + "\n"
