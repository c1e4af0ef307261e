"""The policy registry: versions of each skill's learned policy, which one is promoted, and the promotions
before it (for rollback).

`checkpoints/registry.json` records, per skill, every version (its parent, the recipe and data it was trained
with, its held-out metrics, the date, its checkpoint file and that file's SHA-256), the promoted version and
the promotion history. Without a registry file, or for a skill the file does not name, the committed
`checkpoints/<skill>/policy.pt` is version 1 and promoted: nothing changes for a checkout that never touched
the registry. The first change to a skill writes its version 1 into the file, with the hash of the file as it
is then. New versions are copied to `checkpoints/<skill>/v<N>/policy.pt`.

The file is replaced atomically (written beside it, fsynced, renamed over it), so a crash mid-write leaves the
old registry; changes hold a lock file, so two writers never lose each other's change. A checkpoint whose file
is missing or whose hash differs from the recorded one is refused with a RegistryError.
"""
from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hardware.resources import config_dir

CHECKPOINTS = config_dir().parent / "checkpoints"
REGISTRY_FILE = "registry.json"
FORMAT = 1
_SKILL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class RegistryError(ValueError):
    """A registry operation that cannot be done, or a registry or checkpoint that cannot be trusted (one line)."""


@dataclass(frozen=True)
class PolicyVersion:
    """One version of a skill's policy.

    path: the checkpoint, relative to the registry's directory. sha256: its hash when it was recorded (None only
    for the implicit version 1 of a skill the registry file does not name yet). parent: the version it was
    trained from (None: from scratch / the warm start). recipe: the training settings (TrainConfig fields).
    data: what it was trained on, in words. metrics: held-out figures (success_rate, returns per reward term,
    episodes, seeds). date: when it was recorded (ISO 8601, UTC).
    """

    skill: str
    version: int
    path: str
    sha256: str | None
    parent: int | None = None
    recipe: dict[str, Any] = field(default_factory=dict)
    data: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    date: str = ""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _implicit_v1(root: Path, skill: str) -> PolicyVersion | None:
    path = root / skill / "policy.pt"
    if not path.is_file():
        return None
    return PolicyVersion(skill, 1, f"{skill}/policy.pt", None, recipe={"source": "skill_lib/learning/recipes.py"},
                         data="the committed checkpoint")


def _version_from(raw: Any, skill: str, where: str) -> PolicyVersion:
    if not isinstance(raw, dict):
        raise RegistryError(f"{where}: a version of {skill} is not an object")
    names = {f for f in PolicyVersion.__dataclass_fields__}
    unknown = set(raw) - names
    if unknown or not {"skill", "version", "path", "sha256"} <= set(raw):
        raise RegistryError(f"{where}: a version of {skill} has fields {sorted(raw)}, expected {sorted(names)}")
    version = PolicyVersion(**raw)
    if version.skill != skill or not isinstance(version.version, int) or version.version < 1 or \
            not isinstance(version.path, str) or not isinstance(version.sha256, str):
        raise RegistryError(f"{where}: a version of {skill} has a bad skill, version, path or sha256: {raw!r:.120}")
    return version


class PolicyRegistry:
    """The registry in `root` (default: the checkpoints/ directory); every read goes to the file."""

    def __init__(self, root: Path = CHECKPOINTS) -> None:
        self.root = Path(root)
        self.file = self.root / REGISTRY_FILE

    # -- reading ----------------------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        """{skill: {"versions": [PolicyVersion], "history": [int]}} as recorded (implicit entries not added)."""
        if not self.file.is_file():
            return {}
        try:
            raw = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise RegistryError(f"cannot read the policy registry {self.file}: {err}") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT or not isinstance(raw.get("skills"), dict):
            raise RegistryError(f"{self.file} is not a policy registry of format {FORMAT}")
        skills: dict[str, Any] = {}
        for skill, entry in raw["skills"].items():
            if not isinstance(entry, dict) or not isinstance(entry.get("versions"), list) or \
                    not isinstance(entry.get("history"), list):
                raise RegistryError(f"{self.file}: the entry of {skill!r} needs 'versions' and 'history' lists")
            versions = [_version_from(v, skill, str(self.file)) for v in entry["versions"]]
            numbers = [v.version for v in versions]
            history = entry["history"]
            if any(n not in numbers for n in history) or len(set(numbers)) != len(numbers):
                raise RegistryError(f"{self.file}: the promotion history of {skill!r} names versions it lacks")
            skills[skill] = {"versions": versions, "history": history}
        return skills

    def skills(self) -> list[str]:
        """Every skill with a policy: in the registry file or with a committed checkpoint."""
        committed = {p.parent.name for p in self.root.glob("*/policy.pt")} if self.root.is_dir() else set()
        return sorted(committed | set(self._load()))

    def versions(self, skill: str) -> list[PolicyVersion]:
        recorded = self._load().get(skill)
        if recorded is not None:
            return list(recorded["versions"])
        implicit = _implicit_v1(self.root, skill)
        return [implicit] if implicit else []

    def promoted(self, skill: str) -> PolicyVersion | None:
        """The version the skill layer runs, or None if the skill has no policy."""
        recorded = self._load().get(skill)
        if recorded is None:
            return _implicit_v1(self.root, skill)
        if not recorded["history"]:  # registered, never promoted: the scripted controller runs
            return None
        return _find(recorded["versions"], skill, recorded["history"][-1])

    def checkpoint(self, version: PolicyVersion) -> Path:
        """The version's checkpoint file, checked: RegistryError if it is missing or its hash differs."""
        path = self.root / version.path
        if not path.is_file():
            raise RegistryError(f"{version.skill} version {version.version}: its checkpoint {path} is missing")
        if version.sha256 is not None:
            actual = file_sha256(path)
            if actual != version.sha256:
                raise RegistryError(f"{version.skill} version {version.version}: {path} has SHA-256 {actual[:12]}..., "
                                    f"the registry recorded {version.sha256[:12]}...; refusing a changed checkpoint")
        return path

    def promoted_checkpoint(self, skill: str) -> Path | None:
        """The promoted version's checked checkpoint, or None if the skill has no policy."""
        version = self.promoted(skill)
        return None if version is None else self.checkpoint(version)

    # -- changing ---------------------------------------------------------------------------------------
    def register(self, skill: str, checkpoint: Path, *, parent: int | None = None,
                 recipe: Mapping[str, Any] | None = None, data: str = "", metrics: Mapping[str, Any] | None = None,
                 date: str | None = None) -> PolicyVersion:
        """Copy `checkpoint` in as the skill's next version; registering never promotes (a skill's first policy
        too waits for `promote`). `parent` defaults to the promoted version."""
        if not _SKILL_NAME.match(skill):
            raise RegistryError(f"bad skill name {skill!r}: lower-case letters, digits and _")
        checkpoint = Path(checkpoint)
        if not checkpoint.is_file():
            raise RegistryError(f"no checkpoint file at {checkpoint}")
        with self._changing() as skills:
            entry = skills.get(skill) or {"versions": [], "history": []}
            numbers = [v.version for v in entry["versions"]]
            if parent is None and entry["history"]:
                parent = entry["history"][-1]
            if parent is not None and parent not in numbers:
                raise RegistryError(f"{skill} has no version {parent} to be a parent; versions: {numbers or 'none'}")
            number = max(numbers, default=0) + 1
            relative = f"{skill}/v{number}/policy.pt"
            target = self.root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(checkpoint, target)
            version = PolicyVersion(skill, number, relative, file_sha256(target), parent, dict(recipe or {}), data,
                                    dict(metrics or {}),
                                    date or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
            entry["versions"].append(version)
            skills[skill] = entry
        return version

    def promote(self, skill: str, version: int) -> PolicyVersion:
        """Make `version` the one the skill layer runs (its checkpoint is checked first)."""
        with self._changing() as skills:
            entry = self._entry(skills, skill)
            chosen = _find(entry["versions"], skill, version)
            self.checkpoint(chosen)
            if not entry["history"] or entry["history"][-1] != version:
                entry["history"].append(version)
        return chosen

    def rollback(self, skill: str) -> PolicyVersion:
        """Promote again the version promoted before the current one."""
        with self._changing() as skills:
            entry = self._entry(skills, skill)
            if len(entry["history"]) < 2:
                only = f"version {entry['history'][-1]} is the only one" if entry["history"] else "no version was"
                raise RegistryError(f"{skill}: nothing to roll back to ({only} ever promoted)")
            previous = _find(entry["versions"], skill, entry["history"][-2])
            self.checkpoint(previous)
            entry["history"].pop()
        return previous

    def _entry(self, skills: dict[str, Any], skill: str) -> dict[str, Any]:
        if skill not in skills:
            raise RegistryError(f"no policy registered for {skill!r}; skills with policies: "
                                f"{', '.join(self.skills()) or 'none'}")
        return skills[skill]  # type: ignore[no-any-return]

    @contextmanager
    def _changing(self) -> Iterator[dict[str, Any]]:
        """The recorded skills (implicit versions 1 made explicit, hashed now) to change in place; written back
        atomically on leaving, under the lock."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".registry.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            skills = self._load()
            for name in {p.parent.name for p in self.root.glob("*/policy.pt")} - set(skills):
                implicit = _implicit_v1(self.root, name)
                assert implicit is not None
                skills[name] = {"versions": [PolicyVersion(**{**asdict(implicit),
                                                              "sha256": file_sha256(self.root / implicit.path)})],
                                "history": [1]}
            yield skills
            self._write(skills)

    def _write(self, skills: dict[str, Any]) -> None:
        data = {"format": FORMAT, "skills": {
            name: {"versions": [asdict(v) for v in entry["versions"]], "history": entry["history"]}
            for name, entry in sorted(skills.items())}}
        temporary = self.file.with_name(f".{REGISTRY_FILE}.{os.getpid()}.tmp")
        try:
            with temporary.open("w", encoding="utf-8") as f:
                json.dump(data, f, indent=1)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, self.file)
        finally:
            temporary.unlink(missing_ok=True)
        directory = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a power cut
        finally:
            os.close(directory)


def _find(versions: list[PolicyVersion], skill: str, number: int) -> PolicyVersion:
    for version in versions:
        if version.version == number:
            return version
    raise RegistryError(f"{skill} has no version {number}; versions: {', '.join(str(v.version) for v in versions)}")
