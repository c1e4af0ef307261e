"""Reads a ROS 2 YAML launch file into node command lines (no ROS imports; `ros2 launch` is not on PyPI).

The same file runs unchanged under `ros2 launch` on a robot. Supported: `arg`, `let`, `node` (pkg, exec,
name, namespace, param {name, value} and {from}, remap, ros_args, args, if/unless), `group` (children,
if/unless, push-ros-namespace), and the substitutions `$(var)`, `$(env NAME [default])`,
`$(find-pkg-share PKG)`, `$(dirname)` and `$(eval)` of a string comparison ('a' == 'b', 'a' != 'b') or a
choice by one ('x' if 'a' == 'b' else 'y').
Anything else is refused with a message, so a file is never half understood.
"""
from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import yaml

_SUBST = re.compile(r"\$\(([^()$]*)\)")
_EVAL = re.compile(r"""^\s*(['"])(.*?)\1\s*(==|!=)\s*(['"])(.*?)\4\s*$""")
_EVAL_CHOICE = re.compile(r"""^\s*(['"])(.*?)\1\s+if\s+(.*?)\s+else\s+(['"])(.*?)\4\s*$""")


class LaunchError(ValueError):
    """The launch file or its arguments cannot be used; the message says why."""


@dataclass
class NodeLaunch:
    """One node process: what `ros2 launch` would start, as a command line with standard --ros-args."""

    package: str
    executable: str
    name: str | None = None
    namespace: str = ""
    params: list[tuple[str, str]] = field(default_factory=list)
    param_files: list[str] = field(default_factory=list)
    remaps: list[tuple[str, str]] = field(default_factory=list)
    ros_args: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return "/".join(p for p in (self.namespace.strip("/"), self.name or self.executable) if p)

    def ros_arguments(self) -> list[str]:
        out = ["--ros-args"]
        if self.name:
            out += ["-r", f"__node:={self.name}"]
        if self.namespace.strip("/"):
            out += ["-r", f"__ns:=/{self.namespace.strip('/')}"]
        for path in self.param_files:
            out += ["--params-file", path]
        for key, value in self.params:
            out += ["-p", f"{key}:={value}"]
        for src, dst in self.remaps:
            out += ["-r", f"{src}:={dst}"]
        return out + self.ros_args

    def command(self) -> list[str]:
        return [*resolve_executable(self.package, self.executable), *self.args, *self.ros_arguments()]


def resolve_executable(package: str, executable: str) -> list[str]:
    """A console script of an installed Python distribution, else `<prefix>/lib/<pkg>/<exec>`."""
    wanted = package.replace("-", "_").lower()
    for ep in metadata.entry_points(group="console_scripts"):
        dist = getattr(ep, "dist", None)
        if ep.name == executable and dist is not None and dist.name.replace("-", "_").lower() == wanted:
            module, _, attr = ep.value.partition(":")
            return [sys.executable, "-c", f"import sys; from {module} import {attr} as m; sys.exit(m())"]
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        candidate = Path(prefix) / "lib" / package / executable
        if os.access(candidate, os.X_OK):
            return [str(candidate)]
    raise LaunchError(f"no executable {executable!r} in package {package!r} (not a console script of an "
                      "installed distribution, nor in AMENT_PREFIX_PATH/lib); is the package installed?")


def find_package_share(package: str, launch_file: Path) -> Path:
    """The launch file's own package (a parent folder with its package.xml), else an ament prefix."""
    for parent in launch_file.resolve().parents:
        xml = parent / "package.xml"
        if xml.is_file() and re.search(rf"<name>\s*{re.escape(package)}\s*</name>", xml.read_text()):
            return parent
    for prefix in filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        share = Path(prefix) / "share" / package
        if share.is_dir():
            return share
    raise LaunchError(f"package {package!r} not found (neither around {launch_file} nor in AMENT_PREFIX_PATH)")


class _Context:
    def __init__(self, path: Path, overrides: dict[str, str]) -> None:
        self.path, self.overrides = path, dict(overrides)
        self.vars: dict[str, str] = {}
        self.used: set[str] = set()

    def sub(self, value) -> str:
        text = str(value)
        while (m := _SUBST.search(text)) is not None:
            text = text[: m.start()] + self._one(m.group(1).split()) + text[m.end():]
        return text

    def _one(self, words: list[str]) -> str:
        kind, rest = (words[0], words[1:]) if words else ("", [])
        if kind == "var" and len(rest) == 1:
            if rest[0] not in self.vars:
                raise LaunchError(f"{self.path.name}: $(var {rest[0]}) is not a declared argument; "
                                  f"known: {', '.join(sorted(self.vars)) or 'none'}")
            return self.vars[rest[0]]
        if kind == "env" and rest:
            return os.environ.get(rest[0], " ".join(rest[1:]))
        if kind == "find-pkg-share" and len(rest) == 1:
            return str(find_package_share(rest[0], self.path))
        if kind == "dirname" and not rest:
            return str(self.path.resolve().parent)
        if kind == "eval":
            expression = " ".join(rest)
            if len(expression) > 1 and expression[0] == expression[-1] == '"':
                expression = expression[1:-1]
            choice = _EVAL_CHOICE.match(expression)
            m = _EVAL.match(choice.group(3) if choice else expression)
            if m:
                holds = (m.group(2) == m.group(5)) == (m.group(3) == "==")
                return str(holds) if choice is None else choice.group(2 if holds else 5)
        raise LaunchError(f"{self.path.name}: unsupported substitution $({' '.join(words)})")

    def condition(self, entry: dict) -> bool:
        if "if" in entry:
            return _truth(self.sub(entry["if"]), self.path)
        if "unless" in entry:
            return not _truth(self.sub(entry["unless"]), self.path)
        return True


def _truth(text: str, path: Path) -> bool:
    if text.strip().lower() in ("true", "1"):
        return True
    if text.strip().lower() in ("false", "0"):
        return False
    raise LaunchError(f"{path.name}: a condition must be true or false, got {text!r}")


def _param_value(value, ctx: _Context) -> str:
    if isinstance(value, (list, dict)):
        return yaml.safe_dump(value, default_flow_style=True).strip()
    text = ctx.sub(value)
    return text if text != "" else "''"


def _node(raw: dict, ctx: _Context, namespace: str) -> NodeLaunch:
    try:
        node = NodeLaunch(ctx.sub(raw["pkg"]), ctx.sub(raw["exec"]))
    except KeyError as missing:
        raise LaunchError(f"{ctx.path.name}: a node needs {missing}") from None
    node.name = ctx.sub(raw["name"]) if raw.get("name") else None
    own = ctx.sub(raw.get("namespace", "")).strip("/")
    node.namespace = own if raw.get("namespace", "").startswith("/") else "/".join(p for p in (namespace, own) if p)
    for item in raw.get("param", []) or []:
        if "from" in item:
            node.param_files.append(ctx.sub(item["from"]))
        else:
            node.params.append((ctx.sub(item["name"]), _param_value(item.get("value", ""), ctx)))
    node.remaps = [(ctx.sub(r["from"]), ctx.sub(r["to"])) for r in raw.get("remap", []) or []]
    node.ros_args = shlex.split(ctx.sub(raw.get("ros_args", "")))
    node.args = shlex.split(ctx.sub(raw.get("args", "")))
    return node


def _entries(items: list, ctx: _Context, namespace: str) -> list[NodeLaunch]:
    nodes: list[NodeLaunch] = []
    for entry in items or []:
        if not isinstance(entry, dict) or len(entry) != 1:
            raise LaunchError(f"{ctx.path.name}: each launch entry is a one-key mapping, got {entry!r}")
        (tag, body), = entry.items()
        body = body or {}
        if tag == "arg":
            name = body["name"]
            ctx.used.add(name)
            if name in ctx.overrides:
                ctx.vars[name] = ctx.overrides[name]
            elif "default" in body:
                ctx.vars[name] = ctx.sub(body["default"])
            else:
                raise LaunchError(f"{ctx.path.name}: argument {name!r} has no default; pass {name}:=VALUE")
        elif tag == "let":
            ctx.vars[body["name"]] = ctx.sub(body["value"])
        elif tag in ("push-ros-namespace", "push_ros_namespace"):
            namespace = "/".join(p for p in (namespace, ctx.sub(body["namespace"]).strip("/")) if p)
        elif tag == "group":
            if ctx.condition(body):
                nodes += _entries(body.get("children", []), ctx, namespace)
        elif tag == "node":
            if ctx.condition(body):
                nodes.append(_node(body, ctx, namespace))
        else:
            raise LaunchError(f"{ctx.path.name}: unsupported launch entry {tag!r} "
                              "(supported: arg, let, node, group, push-ros-namespace)")
    return nodes


def load_launch(path: str | Path, arguments: dict[str, str] | None = None) -> list[NodeLaunch]:
    """The nodes a YAML launch file starts, with `arguments` (name -> value) overriding defaults."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise LaunchError(f"cannot read launch file {path}: {err}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("launch"), list):
        raise LaunchError(f"{path}: a YAML launch file has a top-level `launch:` list")
    ctx = _Context(path, arguments or {})
    nodes = _entries(raw["launch"], ctx, "")
    unknown = set(ctx.overrides) - ctx.used
    if unknown:
        raise LaunchError(f"{path.name}: unknown argument(s) {', '.join(sorted(unknown))}; "
                          f"this file takes: {', '.join(sorted(ctx.used))}")
    return nodes


def parse_arguments(items: list[str]) -> dict[str, str]:
    """`name:=value` words (as `ros2 launch` takes them) -> dict."""
    out = {}
    for item in items:
        name, sep, value = item.partition(":=")
        if not sep or not name:
            raise LaunchError(f"launch arguments look like name:=value, got {item!r}")
        out[name] = value
    return out
