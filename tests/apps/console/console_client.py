"""Helpers of the console tests: the console on a free loopback port over the in-process stack, and a small
JSON client of its API (urllib: what any client has)."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from skill_stack_apps.console.server import ConsoleServer, ServeOptions
from skill_stack_apps.console.sim import SimBackend, SimConfig

REPO = Path(__file__).resolve().parents[3]
VOICE = REPO / "tests" / "fixtures" / "voice"
UNSEEN_VOICE = VOICE / "unseen"  # phrasings in no grammar template (tests/planners/voice/test_unseen_phrasings.py)


class Console:
    """A running console: `call` its API, `wait` for its state."""

    def __init__(self, backend: Any, server: ConsoleServer) -> None:
        self.backend, self.server = backend, server
        self.url = server.url

    def call(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else None
        sent = dict(headers or {})
        if data is not None:
            sent.setdefault("Content-Type", content_type)
        request = urllib.request.Request(self.url.rstrip("/") + path, data=data, method=method, headers=sent)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw, status, kind = response.read(), response.status, response.headers.get("content-type", "")
        except urllib.error.HTTPError as err:
            raw, status, kind = err.read(), err.code, err.headers.get("content-type", "")
        return status, json.loads(raw) if kind.startswith("application/json") else raw

    def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        status, data = self.call(method, path, body, **kw)
        assert status == 200, (status, data)
        return data

    def run_task(self, text: str) -> int:
        return self.ok("POST", "/api/tasks", {"task": text})["id"]

    def wait_task(self, task_id: int, until: Callable[[dict], bool] = lambda t: t["state"] != "running",
                  timeout: float = 90.0) -> dict:
        """The task's view once `until` holds (default: it ended)."""
        def check() -> dict | None:
            task = self.ok("GET", f"/api/tasks/{task_id}")
            return task if until(task) else None
        return wait_for(check, timeout, f"task {task_id}")

    def running_step(self, task_id: int, skill: str, progress: float = 0.1, timeout: float = 60.0) -> dict:
        """Wait until the task's `skill` step runs and got `progress` into its motion."""
        def step(task: dict) -> bool:
            return any(s["skill"] == skill and s["state"] == "running" and s["progress"] >= progress
                       for s in task["plan"])
        return self.wait_task(task_id, lambda t: step(t) or t["state"] != "running", timeout)


def wait_for(check: Callable[[], Any], timeout: float, what: str, period: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(period)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def start_console(tmp_path: Path, *, speed: float = 2.0, token: str | None = None, host: str = "127.0.0.1",
                  seed: int = 0, record: bool = False, recogniser: str = "agreement") -> Console:
    backend = SimBackend(SimConfig(speed=speed, seed=seed, out=tmp_path / "runs", db=tmp_path / "corrections.db",
                                   record=record, recogniser=recogniser))
    backend.start()
    try:
        server = ConsoleServer(backend, ServeOptions(host=host, port=0, token=token)).start()
    except BaseException:
        backend.close()
        raise
    return Console(backend, server)


def stop_console(console: Console) -> None:
    console.server.stop()
    console.backend.close()


def relative_to_tray(console: Console, name: str) -> tuple[float, float]:
    """Where `name` is in the simulator, relative to the tray's centre (x, y metres)."""
    def where(arm: Any) -> tuple[float, float]:
        rel = arm.object(name).position[:2] - arm.object("tray").position[:2]
        return float(rel[0]), float(rel[1])
    return console.backend.in_worker(where)


def holds_still(arm: Any) -> tuple[bool, float]:
    """(For `in_worker`) whether the arm is e-stopped, and how far its joints move in 2 s of simulated time."""
    before = arm.joint_state().positions.copy()
    for _ in range(40):
        arm.step()
    return arm.estopped, float(np.max(np.abs(arm.joint_state().positions - before)))
