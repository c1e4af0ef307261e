"""`skillstack policies` and the policy lines of `skillstack skills`, on a copy of the committed checkpoints:
register a trained policy with its held-out metrics, promote it, see it listed, roll back; refusals are one
line."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from skill_lib.learning.registry import CHECKPOINTS, PolicyRegistry
from skill_stack_apps.cli import main
from skill_stack_apps.commands import skills as skills_command


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for skill in ("pick", "push"):
        (tmp_path / "checkpoints" / skill).mkdir(parents=True)
        shutil.copyfile(CHECKPOINTS / skill / "policy.pt", tmp_path / "checkpoints" / skill / "policy.pt")
    return tmp_path / "checkpoints"


def cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_register_promote_list_and_roll_back(root: Path, tmp_path: Path, capsys) -> None:
    trained = tmp_path / "run" / "policy.pt"
    trained.parent.mkdir()
    shutil.copyfile(CHECKPOINTS / "pick" / "policy.pt", trained)
    metrics = tmp_path / "eval.txt"
    metrics.write_text("pick: success 0.97 over 100 episodes\n" + json.dumps(
        {"skill": "pick", "episodes": 100, "success_rate": 0.97, "returns": {"task": -9.1}, "seed": 7}) + "\n")
    code, out, _ = cli(capsys, "policies", "--registry", str(root), "register", "pick", str(trained),
                       "--data", "cubes, lego and mugs", "--metrics", str(metrics))
    assert code == 0 and "promote it with: skillstack policies promote pick 2" in out
    code, out, _ = cli(capsys, "policies", "--registry", str(root), "--json", "promote", "pick", "2")
    version = json.loads(out.strip().splitlines()[-1])["version"]
    assert code == 0 and version["version"] == 2 and version["parent"] == 1
    assert version["metrics"] == {"success_rate": 0.97, "episodes": 100, "seed": 7, "returns": {"task": -9.1}}
    assert version["recipe"]["skill"] == "pick"  # the training settings the checkpoint carries

    code, out, _ = cli(capsys, "policies", "--registry", str(root), "list", "pick")
    assert code == 0 and "v2 from v1 (promoted): success_rate 0.97, episodes 100, seed 7" in out
    line = skills_command.policy_line(PolicyRegistry(root), "pick")
    assert line.startswith("policy: learned v2 from v1 (promoted): success_rate 0.97") and "1 other version" in line
    assert skills_command.policy_line(PolicyRegistry(root), "pull") == "policy: scripted controller (no learned policy)"

    code, out, _ = cli(capsys, "policies", "--registry", str(root), "rollback", "pick")
    assert code == 0 and "rolled back to v1" in out
    code, _, err = cli(capsys, "policies", "--registry", str(root), "rollback", "pick")
    assert code == 2 and err.startswith("error: pick: nothing to roll back to") and len(err.splitlines()) == 1


def test_refusals_are_one_line(root: Path, tmp_path: Path, capsys) -> None:
    code, _, err = cli(capsys, "policies", "--registry", str(root), "register", "pick", str(CHECKPOINTS / "push" /
                                                                                           "policy.pt"))
    assert code == 2 and "is a push policy, not pick" in err
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    code, _, err = cli(capsys, "policies", "--registry", str(root), "register", "pick", str(tmp_path / "junk.pt"))
    assert code == 2 and "is not a policy checkpoint" in err
    code, _, err = cli(capsys, "policies", "--registry", str(root), "promote", "pick", "9")
    assert code == 2 and err.strip() == "error: pick has no version 9; versions: 1"
    code, _, err = cli(capsys, "policies", "--registry", str(root), "list", "pull")
    assert code == 2 and "no policy for 'pull'" in err


def test_skills_shows_the_promoted_versions(capsys) -> None:
    promoted = PolicyRegistry().promoted("pick")
    assert promoted is not None
    code, out, _ = cli(capsys, "skills")
    assert code == 0
    assert f"    policy: learned v{promoted.version} " in out.split("pick(")[1].split("place(")[0]
    assert "    policy: scripted controller (no learned policy)" in out.split("pull(")[1]
