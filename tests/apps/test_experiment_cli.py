"""`skillstack experiment`: the dry run on the held-out log set (tests/fixtures/experimenter/heldout, not looked at
while the analyser was developed); the optional model endpoint, played by ReplayChat, a test double of an
OpenAI-compatible server on loopback that replays recorded chat completions; and train -> judge -> promote end to
end with tiny trainings (move_to: 30 demonstrations, 800 cloning updates, a small network; seconds) against a
temporary registry: a candidate kept and promoted (trained on Ray, 1 worker), one rejected (in this process), and
logs whose proposals cannot be trained yet."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from skill_lib.learning import recipes
from skill_lib.learning.registry import PolicyRegistry
from skill_stack_apps.cli import main

HELDOUT = Path(__file__).resolve().parents[1] / "fixtures" / "experimenter" / "heldout"
#: what no flag sets, over the recipe: a small network, 2-episode training evaluations, updates from the 20th step
TINY = {"eval_episodes": 2, "learning_starts": 20, "batch_size": 32, "critic_warmup_updates": 10, "hidden": 64}
#: a tiny training that learns move_to (9-10 of 10 held out) and the held-out comparison's size
FLAGS = ["--seeds", "0", "--demos", "30", "--bc-steps", "800", "--steps", "0", "--eval-episodes", "10"]


class ReplayChat:
    """Test double: answers each POST with the next recorded chat completion; keeps the requests' JSON bodies."""

    def __init__(self, *contents: str) -> None:
        self.contents, self.requests = list(contents), []
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                double.requests.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                body = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "model": "qwen2.5-7b-instruct",
                                   "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                       "role": "assistant", "content": double.contents.pop(0)}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    def __enter__(self) -> ReplayChat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(["experiment", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_dry_run_proposes_from_held_out_logs_and_writes_a_report(tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "--dry-run", "--json", "--logs", str(HELDOUT), "--out", str(tmp_path / "r"))
    assert code == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert result["proposals"] and all({"skill", "what", "evidence"} <= set(p) for p in result["proposals"])
    assert all(p["evidence"] for p in result["proposals"]) and result["dry_run"] is True
    assert result["trained"] == result["kept"] == result["rejected"] == []
    skills = {p["skill"] for p in result["proposals"]}
    # the logs' pulls ran scripted for want of a policy; the registry has one now (an empty one proposes it: below)
    assert {"pick", "place"} <= skills and "pull" not in skills
    # the logs' push declines (5-15 cm then) are pushes the promoted push (2-25 cm) takes: asked again, not proposed
    pushes = [r for path in HELDOUT.rglob("episode.jsonl") for line in path.read_text().splitlines()
              if (r := json.loads(line))["event"] == "skill_start" and r["skill"] == "push" and r.get("fallback")]
    assert "push" not in skills and result["declines_taken_now"]["push"] == len(pushes) > 0
    report = Path(result["report"])
    assert report.is_file() and (report.parent / "attempts.png").is_file()
    assert result["proposals"][0]["what"] in report.read_text()


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every recipe with TINY's settings (the training size comes from the command's flags)."""
    recipe = recipes.recipe
    monkeypatch.setattr(recipes, "recipe", lambda skill, **overrides: recipe(skill, **{**TINY, **overrides}))


def below_target(tmp_path: Path) -> Path:
    """A `skillstack eval --json` result that puts move_to below target: the proposal "move_to/evaluation"."""
    path = tmp_path / "eval.json"
    path.write_text(json.dumps({"skill": "move_to", "episodes": 10, "success_rate": 0.0, "policy": "v1"}) + "\n")
    return path


def sections(report: Path) -> list[str]:
    return [line for line in report.read_text().splitlines() if line.startswith("## ")]


@pytest.mark.slow
def test_a_better_candidate_is_trained_on_ray_judged_and_promoted(tmp_path: Path, capsys, tiny) -> None:
    from skill_lib.learning.envs.place import TARGETS
    from skill_lib.learning.mcsac import MultiCriticSAC, TrainConfig
    from skill_lib.learning.train import save_policy, train

    registry = PolicyRegistry(tmp_path / "registry")
    # the current move_to policy: untrained (no demonstrations, no updates), 0 of 10 held out
    train(recipes.recipe("move_to", seed=3, demo_episodes=0, bc_pretrain_steps=0, total_steps=0), tmp_path / "v1",
          quiet=True)
    registry.promote("move_to", registry.register("move_to", tmp_path / "v1" / "policy.pt", data="untrained").version)
    # a place trained to set cubes down everywhere (untrained weights): the logs' declined tray places are no
    # proposal, and move_to's evaluation heads the curriculum
    place = MultiCriticSAC(TrainConfig(skill="place", hidden=8, env_options={"targets": list(TARGETS)}), 19, 3, 4)
    save_policy(place, tmp_path / "place.pt")
    registry.promote("place", registry.register("place", tmp_path / "place.pt", data="untrained").version)
    code, out, err = run(capsys, "--json", "--logs", str(HELDOUT), str(below_target(tmp_path)), "--out",
                         str(tmp_path / "x"), "--registry", str(registry.root), *FLAGS, "--demos", "60",
                         "--bc-steps", "1600", "--workers", "1")  # move_to starts anywhere: a little more than FLAGS
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    [kept] = result["kept"]
    assert kept["id"] == "move_to/evaluation" and kept["version"] == 2 and kept["parent"] == 1
    assert kept["compared_with"] == "v1" and kept["decision"] == "more successful"
    assert kept["b"] >= 5 and kept["c"] == 0 and kept["p_success"] < 0.05
    assert kept["held_out"]["current"]["success_rate"] == 0.0 and kept["held_out"]["candidate"]["seed"] == 7
    [trained] = result["trained"]
    assert trained["id"] == "move_to/evaluation" and [r["seed"] for r in trained["runs"]] == [0]
    assert trained["runs"][0]["curve"] == "too short to test"  # a warm start alone: one evaluation
    assert result["rejected"] == [] and "[1/1] move_to (multi-critic, seed 0)" in err  # Ray's progress line
    # the rest of the curriculum: not trainable yet, or over the budget (pick's failures; one proposal a run)
    assert {p["id"] for p in result["not_trainable"]} >= {"place/objects/mug"}
    assert not any(p["id"].startswith("place/targets") for p in result["proposals"])
    assert {p["id"] for p in result["not_tried"]} == {"pick/failures/cube", "pick/objects/lego", "pick/objects/mug",
                                                      "place/objects/lego", "pull/new_policy",
                                                      "push/parameters/distance"}

    promoted = registry.promoted("move_to")
    assert promoted is not None and promoted.version == 2 and promoted.parent == 1
    assert promoted.recipe["seed"] == 0 and promoted.recipe["demo_episodes"] == 60 and promoted.recipe["hidden"] == 64
    assert promoted.metrics["success_rate"] == kept["held_out"]["candidate"]["success_rate"] >= 0.5
    assert promoted.metrics["episodes"] == 10 and "move_to/evaluation" in promoted.data
    assert registry.checkpoint(promoted).read_bytes() == \
        (tmp_path / "x" / "train" / "move_to-evaluation-seed0" / "policy.pt").read_bytes()
    assert registry.rollback("move_to").version == 1  # the registry's rollback undoes a promotion

    report = Path(result["report"])
    assert sections(report) == ["## Proposals", "## How the experimenter decided", "## Tried", "## Kept",
                                "## Rejected", "## Not trainable yet", "## Not tried", "## What ran",
                                "## Evaluations"]
    text = report.read_text()
    assert f"- success: b = {kept['b']}, c = 0, p_success = " in text and "kept: more successful" in text
    assert "seeds 1070000-1070009" in text and (report.parent / "curves-move_to-evaluation.png").is_file()


@pytest.mark.slow
def test_a_candidate_no_better_than_the_scripted_controller_is_rejected_and_not_registered(
        tmp_path: Path, capsys, tiny) -> None:
    registry = PolicyRegistry(tmp_path / "registry")  # no move_to policy: the scripted controller is the current one
    code, out, err = run(capsys, "--json", "--logs", str(below_target(tmp_path)), "--out", str(tmp_path / "x"),
                         "--registry", str(registry.root), "--seeds", "0", "--demos", "3", "--bc-steps", "30",
                         "--steps", "200", "--eval-every", "25", "--eval-episodes", "6")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    [rejected] = result["rejected"]
    # a barely trained candidate: worse than the scripted controller, or less safe (it may drag a held cube)
    assert rejected["id"] == "move_to/evaluation" and rejected["decision"] in ("not better", "less safe")
    assert rejected["compared_with"] == "the scripted reference controller"
    assert rejected["held_out"]["current"]["success_rate"] == 1.0 and "version" not in rejected
    assert result["kept"] == [] and "[1/1]" in err  # trained in this process: one run, no --workers
    assert result["trained"][0]["runs"][0]["curve"] in ("stalled", "declining", "still improving", "converged")
    assert registry.versions("move_to") == [] and not (registry.root / "registry.json").exists()
    text = Path(result["report"]).read_text()
    assert "## Rejected\n\n- `move_to/evaluation`" in text and f"rejected: {rejected['decision']}" in text
    assert "Mann-Kendall over the last" in text  # the curve had enough evaluations for the trend test


def test_proposals_that_cannot_be_trained_yet_are_reported_not_trained(tmp_path: Path, capsys) -> None:
    # operators' corrections of move_to's height: training a policy does not learn them (028-extra's 2 cm push,
    # 002-single_skill's tray, 026-extra's lego brick, 023-extra's mug and 021-extra's drawer are trainable since the
    # push's distances, the place's targets and the pick's objects options and the pull environment:
    # tests/skill_lib/learning/test_experimenter_loop.py)
    logs = [str(HELDOUT / run) for run in ("017-replanning", "032-extra")]
    code, out, err = run(capsys, "--json", "--logs", *logs, "--out", str(tmp_path / "x"), "--registry",
                         str(tmp_path / "registry"))
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["proposals"] and result["trained"] == result["kept"] == result["rejected"] == []
    assert {p["id"] for p in result["not_trainable"]} == {p["id"] for p in result["proposals"]}
    assert all(p["why"] for p in result["not_trainable"])
    for line in out.splitlines()[:-1]:
        if line.startswith(tuple(p["id"] for p in result["proposals"])):
            assert ": not trainable yet: " in line
    text = Path(result["report"]).read_text()
    assert "Nothing: no proposal can be trained today" in text and "## Not trainable yet" in text
    assert not (tmp_path / "x" / "train").exists() and not (tmp_path / "registry").exists()


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "0", "0"], "seed 0 given twice"),
    (["--max-proposals", "0"], "--max-proposals must be positive"),
    (["--workers", "2", "--address", "auto"], "--workers is for this machine"),
])
def test_bad_budgets_are_one_line_errors(tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    code, _, err = run(capsys, "--logs", str(HELDOUT), "--out", str(tmp_path / "x"), *argv)
    assert code == 2 and err.startswith("error: ") and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_held_out_seeds_that_a_run_trains_on_stop_it_before_training(tmp_path: Path, capsys) -> None:
    code, out, err = run(capsys, "--json", "--logs", str(below_target(tmp_path)), "--out", str(tmp_path / "x"),
                         "--registry", str(tmp_path / "registry"), "--seeds", "7", "--eval-seed", "7")
    assert code == 1 and "held-out seed 1070000 (--eval-seed 7)" in err and len(err.splitlines()) == 1
    assert json.loads(out.strip().splitlines()[-1])["report"] is None and not (tmp_path / "x").exists()


def test_bad_log_paths_are_one_line_errors(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "--dry-run", "--logs", str(tmp_path / "nowhere"))
    assert code == 1 and err.strip() == f"error: no such log file or directory: {tmp_path / 'nowhere'}"


def test_a_model_orders_the_candidates_and_its_answer_is_checked(tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "--dry-run", "--json", "--logs", str(HELDOUT), "--out", str(tmp_path / "a"))
    ids = [p["id"] for p in json.loads(out.strip().splitlines()[-1])["proposals"]]
    chosen = {"proposals": [{"id": ids[2], "why": "pulling drawers is asked for and has no policy at all."},
                            {"id": ids[0], "why": "the most attempts fall back here."}]}
    with ReplayChat(json.dumps(chosen)) as server:
        code, out, _ = run(capsys, "--dry-run", "--json", "--logs", str(HELDOUT), "--out", str(tmp_path / "b"),
                           "--llm", server.url)
    assert code == 0
    result = json.loads(out.strip().splitlines()[-1])
    assert [p["id"] for p in result["proposals"]] == [ids[2], ids[0]]
    assert result["proposals"][0]["evidence"][-1] == "model's reason: pulling drawers is asked for and has no policy at all."
    sent = server.requests[0]
    assert sent["response_format"]["json_schema"]["schema"]["properties"]["proposals"]["items"]["properties"][
        "id"]["enum"] == ids  # the model can only choose among the candidates

    for bad, why in ((json.dumps({"proposals": [{"id": "pick/objects/unicorn", "why": "x"}]}), "is not one of"),
                     (json.dumps({"proposals": [{"id": ids[0], "why": "a"}, {"id": ids[0], "why": "b"}]}),
                      "chosen twice"),
                     ("here is my curriculum: ...", "not JSON")):
        with ReplayChat(bad) as server:
            code, out, err = run(capsys, "--dry-run", "--json", "--logs", str(HELDOUT), "--out", str(tmp_path / "c"),
                                 "--llm", server.url)
        assert code == 1 and "the model's curriculum was refused" in err and why in err, err
        assert len(err.strip().splitlines()) == 1 and not (tmp_path / "c").exists()
