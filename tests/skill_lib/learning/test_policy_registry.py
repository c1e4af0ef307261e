"""The policy registry on a copy of the committed checkpoints: the committed files are version 1 without a
registry file; versions, promotion and rollback; refusal of missing and changed checkpoints; a crash mid-write
leaves the old registry; the skill layer loads the promoted version (real checkpoints, loaded with torch)."""
from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from skill_lib.learning import policy as policy_module
from skill_lib.learning import train as train_module
from skill_lib.learning.registry import CHECKPOINTS, PolicyRegistry, RegistryError, file_sha256
from skill_lib.skills import default_skills


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """checkpoints/ as committed, copied."""
    for skill in ("pick", "place"):
        (tmp_path / skill).mkdir()
        shutil.copyfile(CHECKPOINTS / skill / "policy.pt", tmp_path / skill / "policy.pt")
    return tmp_path


@pytest.fixture
def candidate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trained pick policy that is not the committed one (same network, one weight changed)."""
    import torch
    state = torch.load(CHECKPOINTS / "pick" / "policy.pt", weights_only=False)
    first = next(iter(state["actor"]))
    state["actor"][first] = state["actor"][first] + 0.001
    path = tmp_path_factory.mktemp("run") / "policy.pt"
    torch.save(state, path)
    return path


def test_committed_checkpoints_are_version_1_without_a_registry_file(root: Path) -> None:
    registry = PolicyRegistry(root)
    assert registry.skills() == ["pick", "place"]
    v1 = registry.promoted("pick")
    assert v1 is not None and (v1.version, v1.parent, v1.sha256) == (1, None, None)
    assert registry.promoted_checkpoint("pick") == root / "pick" / "policy.pt"
    assert registry.promoted("pull") is None and registry.promoted_checkpoint("pull") is None
    assert not registry.file.exists()


def test_register_promote_and_roll_back(root: Path, candidate: Path) -> None:
    registry = PolicyRegistry(root)
    v2 = registry.register("pick", candidate, recipe={"total_steps": 5000}, data="lego and mug, 300 demos",
                           metrics={"success_rate": 0.97, "episodes": 100}, date="2026-11-30T21:00:00+00:00")
    assert (v2.version, v2.parent, v2.path) == (2, 1, "pick/v2/policy.pt")
    assert v2.sha256 == file_sha256(candidate)
    assert registry.promoted("pick").version == 1  # registering does not promote
    recorded = json.loads(registry.file.read_text())["skills"]
    assert recorded["pick"]["versions"][0]["sha256"] == file_sha256(root / "pick" / "policy.pt")  # v1 made explicit
    assert "place" in recorded  # every committed checkpoint is pinned by hash on the first write

    assert registry.promote("pick", 2).version == 2
    assert registry.promoted_checkpoint("pick") == root / "pick" / "v2" / "policy.pt"
    assert registry.versions("pick")[1].metrics == {"success_rate": 0.97, "episodes": 100}
    assert registry.rollback("pick").version == 1
    assert registry.promoted_checkpoint("pick") == root / "pick" / "policy.pt"
    with pytest.raises(RegistryError, match="nothing to roll back to"):
        registry.rollback("pick")
    with pytest.raises(RegistryError, match="no version 7"):
        registry.promote("pick", 7)
    with pytest.raises(RegistryError, match="no policy registered for 'pull'"):
        registry.promote("pull", 1)


def test_a_first_policy_waits_for_promotion(root: Path, candidate: Path) -> None:
    registry = PolicyRegistry(root)
    registry.register("pull", candidate)  # any file will do: the registry does not read checkpoints
    assert registry.promoted("pull") is None and registry.promoted_checkpoint("pull") is None
    with pytest.raises(RegistryError, match="no version was ever promoted"):
        registry.rollback("pull")
    assert registry.promote("pull", 1).path == "pull/v1/policy.pt"
    assert registry.promoted_checkpoint("pull") == root / "pull" / "v1" / "policy.pt"


def test_missing_or_changed_checkpoints_are_refused(root: Path, candidate: Path) -> None:
    registry = PolicyRegistry(root)
    registry.register("pick", candidate)
    registry.promote("pick", 2)
    with (root / "pick" / "v2" / "policy.pt").open("ab") as f:
        f.write(b"\0")
    with pytest.raises(RegistryError, match="SHA-256 .* refusing a changed checkpoint"):
        registry.promoted_checkpoint("pick")
    with pytest.raises(RegistryError, match="refusing a changed checkpoint"):
        policy_module.with_learned_policies(default_skills(), root)
    (root / "pick" / "v2" / "policy.pt").unlink()
    with pytest.raises(RegistryError, match="checkpoint .*v2/policy.pt is missing"):
        registry.promote("pick", 2)
    with pytest.raises(RegistryError, match="no checkpoint file at"):
        registry.register("pick", root / "nowhere.pt")


def test_a_crash_mid_write_leaves_the_old_registry(root: Path, candidate: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    registry = PolicyRegistry(root)
    registry.register("pick", candidate)
    before = registry.file.read_bytes()

    def crash(*args: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        registry.promote("pick", 2)
    monkeypatch.undo()
    assert registry.file.read_bytes() == before
    assert [p.name for p in root.iterdir() if p.name.endswith(".tmp")] == []
    assert registry.promoted("pick").version == 1


def test_a_broken_registry_file_is_a_clear_error(root: Path) -> None:
    registry = PolicyRegistry(root)
    registry.file.write_text('{"format": 1, "skills": {"pick": {"versions": [], "history": [')
    with pytest.raises(RegistryError, match="cannot read the policy registry .*registry.json"):
        registry.promoted("pick")
    registry.file.write_text('{"format": 1, "skills": {"pick": {"versions": [], "history": [3]}}}')
    with pytest.raises(RegistryError, match="history of 'pick' names versions it lacks"):
        registry.versions("pick")


def test_concurrent_registrations_are_all_kept(root: Path, candidate: Path) -> None:
    threads = [threading.Thread(target=PolicyRegistry(root).register, args=("pick", candidate)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [v.version for v in PolicyRegistry(root).versions("pick")] == [1, 2, 3, 4, 5]


def test_the_skill_layer_loads_the_promoted_version(root: Path, candidate: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[Path] = []
    real = train_module.load_policy

    def spy(path: Path):  # the real loader, recording which file it read
        loaded.append(Path(path))
        return real(path)

    monkeypatch.setattr(train_module, "load_policy", spy)
    skills = {s.name: s for s in policy_module.with_learned_policies(default_skills(), root, only={"pick"})}
    assert loaded == [root / "pick" / "policy.pt"] and skills["pick"].policy is not None
    registry = PolicyRegistry(root)
    registry.register("pick", candidate)
    registry.promote("pick", 2)
    loaded.clear()
    skills = {s.name: s for s in policy_module.with_learned_policies(default_skills(), root, only={"pick"})}
    assert loaded == [root / "pick" / "v2" / "policy.pt"]
    assert type(skills["pick"].policy()).__name__ == "LearnedPick"
