"""`skillstack experiment`: the dry run on the held-out log set (tests/fixtures/experimenter/heldout, not looked at
while the analyser was developed), the refusal to pretend it trains, and the optional model endpoint, played by
ReplayChat, a test double of an OpenAI-compatible server on loopback that replays recorded chat completions."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from skill_stack_apps.cli import main

HELDOUT = Path(__file__).resolve().parents[1] / "fixtures" / "experimenter" / "heldout"


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
    assert all(p["evidence"] for p in result["proposals"]) and result["trained"] is False
    skills = {p["skill"] for p in result["proposals"]}
    assert {"pull", "pick", "place", "push"} <= skills
    report = Path(result["report"])
    assert report.is_file() and (report.parent / "attempts.png").is_file()
    assert result["proposals"][0]["what"] in report.read_text()


def test_without_dry_run_it_says_training_is_not_available_and_fails(tmp_path: Path, capsys) -> None:
    code, out, err = run(capsys, "--json", "--logs", str(HELDOUT), "--out", str(tmp_path / "r"))
    assert code == 1 and "training from the experimenter is not available yet" in err
    assert json.loads(out.strip().splitlines()[-1])["report"] is None and not (tmp_path / "r").exists()


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
