"""`skillstack corrections` on the fleet's PostgreSQL store (a real server), and `skillstack corrections sync`."""
from __future__ import annotations

import json

import pytest

from planners.corrections.memory import CorrectionRecord, CorrectionStore, ObjectContext
from skill_stack_apps.cli import main


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SKILL_STACK_DATA", str(tmp_path))
    monkeypatch.delenv("SKILL_STACK_MEMORY", raising=False)
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def record(text: str) -> CorrectionRecord:
    return CorrectionRecord(text=text, kind="skill", skill="pick", parameter="grasp_offset", value=-0.01,
                            object=ObjectContext("red_cube", "cube", "red", "large"))


def test_the_corrections_command_works_on_the_server(capsys, tmp_path, fleet_url):
    lines = tmp_path / "in.jsonl"
    lines.write_text("".join(json.dumps(record(t).to_dict()) + "\n" for t in ("grasp lower", "slower please")))
    assert run(capsys, "corrections", "--db", fleet_url, "import", str(lines))[1].startswith("imported 2")
    assert run(capsys, "corrections", "--db", fleet_url, "import", str(lines))[1].startswith(
        "imported 0 correction(s) from")  # by uid: once
    code, out, _ = run(capsys, "corrections", "--db", fleet_url, "list")
    assert code == 0 and "grasp lower" in out and out.strip().endswith(f"2 correction(s) in {fleet_url}")
    assert run(capsys, "corrections", "--db", fleet_url, "disable", "1")[0] == 0
    assert json.loads(run(capsys, "corrections", "--db", fleet_url, "show", "1")[1])["disabled"] is True
    assert run(capsys, "corrections", "--db", fleet_url, "delete", "2")[0] == 0
    code, out, _ = run(capsys, "corrections", "--db", fleet_url, "export", "-")
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["grasp lower"]


def test_sync_pushes_a_robots_file_and_pulls_into_another(capsys, tmp_path, fleet_url):
    with CorrectionStore(tmp_path / "a.db") as robot_a:
        robot_a.add(record("grasp lower"))
    code, out, _ = run(capsys, "corrections", "--db", str(tmp_path / "a.db"), "sync", "--server", fleet_url)
    assert code == 0 and "pushed 1, deleted 0" in out
    code, out, _ = run(capsys, "corrections", "--db", str(tmp_path / "b.db"), "sync", "--server", fleet_url)
    assert code == 0 and "pushed 0" in out and "(1 new here)" in out
    with CorrectionStore(tmp_path / "b.db") as robot_b:
        assert [r.text for r in robot_b.all()] == ["grasp lower"]


def test_sync_says_what_is_missing_or_unreachable(capsys, tmp_path, fleet_url, postgres_cluster):
    code, _, err = run(capsys, "corrections", "sync")
    assert code == 2 and "no fleet server" in err
    code, _, err = run(capsys, "corrections", "--db", fleet_url, "sync", "--server", fleet_url)
    assert code == 2 and "this robot's file" in err
    postgres_cluster.stop()
    try:
        code, _, err = run(capsys, "corrections", "sync", "--server", fleet_url)
    finally:
        postgres_cluster.start()
    assert code == 1 and "not synced (nothing lost" in err and len(err.strip().splitlines()) == 1
