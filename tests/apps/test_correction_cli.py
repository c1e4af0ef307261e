"""`skillstack correct` and `skillstack corrections ...` (in-process, plus one real subprocess)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from skill_stack_apps.cli import main
from planners.corrections.memory import CorrectionStore

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SKILL_STACK_DATA", str(tmp_path))
    return tmp_path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def stored(data_dir) -> list:
    with CorrectionStore(data_dir / "corrections.db") as store:
        return store.all()


def test_correct_stores_and_prints_json(capsys, data_dir):
    code, out, _ = run(capsys, "correct", "2 cm to the left", "--skill", "place", "--object", "red_cube", "--json")
    result = last_json(out)
    assert code == 0 and result["stored"] and result["id"] == 1
    assert (result["text"], result["kind"]) == ("2 cm to the left", "skill")
    assert result["knowledge"] == {"skill": "place", "parameter": "offset_y", "mode": "delta", "value": 0.02,
                                   "applicable": True}
    [record] = stored(data_dir)
    assert record.source == "cli" and record.object.name == "red_cube"


def test_correct_reads_the_text_from_stdin(capsys, data_dir, monkeypatch):
    import io
    monkeypatch.setattr(sys, "stdin", io.StringIO("that goes in the tray\n"))
    code, out, _ = run(capsys, "correct", "-", "--object", "red_cube", "--json")
    result = last_json(out)
    assert code == 0 and result["stored"] and result["text"] == "that goes in the tray"
    assert stored(data_dir)[0].text == "that goes in the tray"
    monkeypatch.setattr(sys, "stdin", io.StringIO("  \n"))
    code, out, _ = run(capsys, "correct", "-", "--json")
    assert code != 0 and "stdin" in last_json(out)["error"]


def test_dry_run_stores_nothing(capsys, data_dir):
    code, out, _ = run(capsys, "correct", "that goes in the tray", "--object", "red_cube", "--dry-run", "--json")
    result = last_json(out)
    assert code == 0 and not result["stored"] and result["kind"] == "plan"
    assert result["knowledge"]["rule"] == "destination"
    assert not (data_dir / "corrections.db").exists() or stored(data_dir) == []


@pytest.mark.parametrize("argv, fragment", [
    (["correct", ""], "empty"),
    (["correct", "that goes in the fridge", "--object", "red_cube"], "no fridge in the scene; containers here: tray"),
    (["correct", "faster and slower"], "contradictory"),
    (["correct", "x" * 1_000_000], "too long"),
    (["correct", "grasp it lower", "--object", "unicorn"], "no unicorn"),
    (["correct"], "TEXT or --audio"),
    (["correct", "slower", "--scene", "no_such_scene"], "no scene file"),
    (["correct", "slower", "--recogniser", "pocketsphinx"], "applies to --audio"),
    (["correct", "slower", "--open-vocabulary"], "applies to --audio"),  # the earlier name of the default
])
def test_bad_input_exit_2_one_error_line_nothing_stored(capsys, data_dir, argv, fragment):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and fragment in err, err
    assert last_json(out)["stored"] is False
    assert not (data_dir / "corrections.db").exists() or stored(data_dir) == []


def test_audio_without_the_voice_module_or_file_is_a_clear_error(capsys, data_dir, tmp_path):
    wav = tmp_path / "silence.wav"
    wav.write_bytes(b"RIFF\x00\x00\x00\x00WAVE")
    code, out, err = run(capsys, "correct", "--audio", str(wav), "--recogniser", "pocketsphinx", "--json")
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert last_json(out)["stored"] is False


def test_spoken_correction_heard_by_both_recognisers_by_default(capsys, data_dir):
    pytest.importorskip("faster_whisper", reason="voice extra not installed: pip install -e '.[voice]'")
    wav = REPO / "tests" / "fixtures" / "voice" / "back_three_cm.wav"  # espeak-ng: "three centimeters back"
    code, out, _ = run(capsys, "correct", "--audio", str(wav), "--skill", "place", "--json")
    result = last_json(out)
    assert code == 0 and result["stored"] is True, out
    assert result["heard_by"] == "open vocabulary"  # the agreement rule decided (pocketsphinx's would not say so)
    [record] = stored(data_dir)
    assert (record.skill, record.parameter, record.value) == ("place", "offset_x", -0.03)


def test_without_faster_whisper_a_spoken_correction_is_heard_by_pocketsphinx_alone_said_once(data_dir):
    """Where faster-whisper cannot be imported (not installed, or CTranslate2 has no wheel for the platform; here
    its import is made to fail in the command's own process), the default recogniser goes on with pocketsphinx
    alone: one warning line on stderr says why and what it costs, and the correction is heard and stored."""
    pytest.importorskip("pocketsphinx", reason="voice extra not installed: pip install -e '.[voice]'")
    no_whisper = ("import sys; sys.modules['faster_whisper'] = None; from skill_stack_apps.cli import main; "
                  "sys.exit(main(sys.argv[1:]))")
    wav = REPO / "tests" / "fixtures" / "voice" / "left_two_cm.wav"  # one pocketsphinx alone is sure of
    proc = subprocess.run([sys.executable, "-c", no_whisper, "correct", "--audio", str(wav), "--skill", "place",
                           "--json"], capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [warning] = proc.stderr.strip().splitlines()
    assert "needs faster-whisper" in warning and "pocketsphinx alone" in warning, warning
    assert "understands about half as many" in warning
    result = last_json(proc.stdout)
    assert result["knowledge"]["parameter"] == "offset_y" and result["heard_by"] in ("language model", "grammar")
    [record] = stored(data_dir)
    assert (record.source, record.value) == ("voice", 0.02)


def test_list_show_delete_export_import(capsys, data_dir, tmp_path):
    run(capsys, "correct", "grasp it lower", "--object", "lego_brick")
    run(capsys, "correct", "pick up the blue cube before the red cube")
    code, out, _ = run(capsys, "corrections", "list")
    assert code == 0 and "2 correction(s)" in out and "pick.grasp_offset delta -0.01" in out
    code, out, _ = run(capsys, "corrections", "show", "2")
    assert json.loads(out)["rule"]["type"] == "before"
    export = tmp_path / "export.jsonl"
    assert run(capsys, "corrections", "export", str(export))[0] == 0
    assert len(export.read_text().splitlines()) == 2
    assert run(capsys, "corrections", "delete", "1")[0] == 0
    code, _, err = run(capsys, "corrections", "delete", "1")
    assert code == 2 and "no correction 1" in err
    code, out, _ = run(capsys, "corrections", "import", str(export))
    assert code == 0 and "imported 1 correction(s)" in out and "(1 already stored)" in out
    assert sorted(r.text for r in stored(data_dir)) == ["grasp it lower", "pick up the blue cube before the red cube"]


def test_disable_and_enable(capsys, data_dir):
    run(capsys, "correct", "2 cm to the left", "--skill", "place")
    assert run(capsys, "corrections", "disable", "1")[:2] == (0, "disabled correction 1\n")
    assert "(disabled)" in run(capsys, "corrections", "list")[1] and stored(data_dir)[0].disabled
    assert run(capsys, "corrections", "enable", "1")[0] == 0 and not stored(data_dir)[0].disabled
    code, _, err = run(capsys, "corrections", "disable", "7")
    assert code == 2 and err.startswith("error: no correction 7")


def test_import_of_a_bad_file_stores_nothing(capsys, data_dir, tmp_path):
    run(capsys, "correct", "slower")
    good = tmp_path / "good.jsonl"
    run(capsys, "corrections", "export", str(good))
    line = json.loads(good.read_text())
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**line, "uid": "new"}) + "\n" + json.dumps({**line, "kind": "poem"}) + "\n")
    code, _, err = run(capsys, "corrections", "import", str(bad))
    assert code == 2 and f"{bad}:2" in err
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(os.urandom(256) + b"\xff")
    code, _, err = run(capsys, "corrections", "import", str(binary))
    assert code == 2 and err.startswith("error: ")
    assert len(stored(data_dir)) == 1


def test_real_process_binary_text_exit_code_and_no_traceback(tmp_path):
    env = {**os.environ, "SKILL_STACK_DATA": str(tmp_path), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "skill_stack_apps.cli", "correct", "grasp\x01\x02 lower", "--json"],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ") and "binary" in proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["stored"] is False


def test_a_task_is_taught_listed_shown_exported_and_deleted_like_any_correction(capsys, data_dir, tmp_path):
    code, out, _ = run(capsys, "correct", "tidying up means putting every cube in the tray", "--json")
    result = last_json(out)
    assert code == 0 and result["kind"] == "task"
    assert result["knowledge"] == {"definition": "tidying up", "means": "put every cube in the tray"}
    code, out, _ = run(capsys, "teach", "a tower means stacking the large cubes")
    assert code == 0 and "stored #2: task" in out
    code, out, _ = run(capsys, "corrections", "list", "--kind", "task")
    assert code == 0 and "task 'tidying up' = put every cube in the tray" in out and "2 correction(s)" in out
    code, out, _ = run(capsys, "corrections", "show", "2")
    assert json.loads(out)["rule"] == {"type": "definition",
                                       "args": {"phrase": "a tower", "steps": "stack the large cubes"}}
    export = tmp_path / "export.jsonl"
    assert run(capsys, "corrections", "export", str(export))[0] == 0
    assert [json.loads(line)["kind"] for line in export.read_text().splitlines()] == ["task", "task"]
    assert run(capsys, "corrections", "delete", "1")[0] == 0
    assert [r.rule.args["phrase"] for r in stored(data_dir)] == ["a tower"]
    assert run(capsys, "corrections", "import", str(export))[0] == 0
    assert len(stored(data_dir)) == 2


def test_teach_refuses_what_is_not_a_definition_and_definitions_with_unknown_words(capsys, data_dir):
    code, out, err = run(capsys, "teach", "2 cm to the left", "--json")
    assert code == 2 and "teach says what a phrase means" in last_json(out)["error"]
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "teach", "tidying up means zorbing every cube")
    assert code == 2 and "unsupported verb 'zorbing'" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "correct", "tidying up means putting every mug in the tray")
    assert code == 2 and "no mug" in err
    assert stored(data_dir) == []
