"""Three robot processes against a real PostgreSQL server: they write and read at once, one is killed with
SIGKILL mid-write (and started again on its file, as a robot reboots), the server is crashed and restarted
while they keep working. Afterwards every acknowledged record is on the server and in every robot's file
exactly once, and every robot's index holds exactly its file's records."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg

ROBOT = Path(__file__).with_name("fleet_robot.py")


class Robot:
    def __init__(self, url: str, db: Path, name: str, count: int, interval: float) -> None:
        env = {**os.environ, "SKILL_STACK_ROBOT": name}
        self.name, self.acks, self.lines = name, [], []
        self.proc = subprocess.Popen([sys.executable, str(ROBOT), url, str(db), name, str(count), str(interval)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("ack "):
                self.acks.append(line[4:])
            self.lines.append(line)

    def wait_for(self, what, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines if what(line)]
            if found:
                return found[-1]
            assert self.proc.poll() is None or self._reader.is_alive(), f"{self.name} exited: {self.lines[-3:]}"
            time.sleep(0.02)
        raise AssertionError(f"{self.name}: timed out; last lines {self.lines[-3:]}")

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()


def test_three_robots_a_killed_writer_and_a_server_crash_lose_nothing(tmp_path, fleet_url, postgres_cluster):
    robots = {name: Robot(fleet_url, tmp_path / f"{name}.db", name, 60, 0.02) for name in ("a", "b")}
    robots["c"] = Robot(fleet_url, tmp_path / "c.db", "c", 400, 0.002)  # a fast writer, to be killed mid-write
    for robot in robots.values():
        robot.wait_for(lambda line: line == "ready")

    robots["c"].wait_for(lambda line: len(robots["c"].acks) >= 40)
    os.kill(robots["c"].proc.pid, signal.SIGKILL)
    robots["c"].proc.wait(10)
    killed_acks = list(robots["c"].acks)
    assert 40 <= len(killed_acks) < 400 and robots["c"].proc.returncode == -signal.SIGKILL

    robots["a"].wait_for(lambda line: len(robots["a"].acks) >= 15)
    postgres_cluster.stop("immediate")  # a crash: no checkpoint, the restart recovers from the WAL
    acks_before = {n: len(robots[n].acks) for n in ("a", "b")}
    time.sleep(1.0)
    assert all(len(robots[n].acks) > acks_before[n] for n in ("a", "b")), "robots stopped working while offline"
    postgres_cluster.start()

    # the killed robot starts again on its file and writes a little more (its uids go on after 'c-0400')
    robots["c2"] = Robot(fleet_url, tmp_path / "c.db", "c", 0, 0.0)
    for robot in robots.values():
        if robot.name != "c":
            robot.wait_for(lambda line: line == "written")
    live = [robots[n] for n in ("a", "b", "c2")]
    for robot in live:
        robot.send("finish")
    for robot in live:
        assert robot.wait_for(lambda line: line.startswith("synced ")) == "synced synced"
    for robot in live:
        robot.send("report")
    reports = {robot.name: json.loads(robot.wait_for(lambda line: line.startswith("{"))) for robot in live}
    for robot in live:
        robot.proc.wait(20)
        assert robot.proc.returncode == 0, robot.lines[-3:]

    acknowledged = set(robots["a"].acks) | set(robots["b"].acks) | set(killed_acks)
    assert len(acknowledged) == 60 + 60 + len(killed_acks)
    with psycopg.connect(fleet_url) as conn:
        server = [row[0] for row in conn.execute("SELECT uid FROM corrections WHERE NOT deleted")]
    assert len(server) == len(set(server)) and acknowledged <= set(server)
    # beyond the acknowledged: at most the one record the killed robot stored but could not acknowledge
    assert len(set(server) - acknowledged) <= 1
    for name, report in reports.items():
        assert len(report["uids"]) == len(set(report["uids"])), f"{name} holds a record twice"
        assert set(report["uids"]) == set(server), f"{name} differs from the server"
        assert report["index_agrees"] and report["integrity"] and report["last"] == "synced", (name, report)
