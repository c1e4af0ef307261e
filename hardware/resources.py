"""Finds the project's config files in a source checkout or in an installed ROS 2 share directory."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

_SOURCE_CONFIG = Path(__file__).resolve().parents[1] / "config"


def config_dir() -> Path:
    """`config/` of the source tree, else `<prefix>/share/skill_stack/config` of an install."""
    if _SOURCE_CONFIG.is_dir():
        return _SOURCE_CONFIG
    for prefix in [*os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep), sys.prefix]:
        candidate = Path(prefix) / "share" / "skill_stack" / "config"
        if prefix and candidate.is_dir():
            return candidate
    raise FileNotFoundError("cannot find skill_stack's config directory (source tree or ament share)")


def resolve_config(path: str | Path, kind: str) -> Path:
    """A path as given if it exists, else `config/<kind>/<name>[.yaml]` (so `--scene default` works)."""
    given = Path(path)
    if given.is_file():
        return given
    name = given.name if given.suffix == ".yaml" else f"{given.name}.yaml"
    candidate = config_dir() / kind / name
    if candidate.is_file():
        return candidate
    known = sorted(p.stem for p in (config_dir() / kind).glob("*.yaml"))
    raise FileNotFoundError(f"no {kind[:-1]} file {str(path)!r}; available: {', '.join(known)}")


def data_dir() -> Path:
    """Where indexes, databases and run outputs live: $SKILL_STACK_DATA, else ~/.local/share/skill_stack."""
    root = os.environ.get("SKILL_STACK_DATA")
    path = Path(root) if root else Path.home() / ".local" / "share" / "skill_stack"
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temp file in the same directory, then rename over `path` (atomic on POSIX)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
