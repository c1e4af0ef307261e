"""Helpers of the ROS 2 tests: an isolated domain per module, the graph in separate processes, a client.

Every process (the graph's and this one) gets ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST and the module's
own ROS_DOMAIN_ID; every wait has a timeout; every process started here is killed on teardown.
"""
from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
REPO = Path(__file__).resolve().parents[1]
_counter = itertools.count()

try:
    import rclpy  # noqa: F401
    import skill_stack_interfaces.action  # noqa: F401
    ROS_MISSING = None
except ImportError as err:  # `make test` installs both; a core-only venv skips these tests
    ROS_MISSING = f"ROS 2 tests need rclpy and skill_stack_interfaces (run `make test`): {err}"

requires_ros = pytest.mark.skipif(ROS_MISSING is not None, reason=ROS_MISSING or "")


def domain_id() -> int:
    """A ROS domain for one test module: from the pid, so concurrent test runs do not meet (10..99); under
    pytest-xdist each worker draws from its own part of that range, so two workers never share one."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, ...
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    size = 90 // count
    first = 10 + size * (int(worker[2:]) if worker.startswith("gw") else 0)
    return first + (os.getpid() * 7 + next(_counter) * 13) % size


def ros_env(domain: int) -> dict[str, str]:
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
               PYTHONUNBUFFERED="1")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    return env


class LaunchedGraph:
    """`skillstack launch FILE args...` in its own session; output goes to a log file."""

    def __init__(self, launch_file: str, args: list[str], domain: int, log: Path) -> None:
        self.log, self.domain = log, domain
        self._file = open(log, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "skill_stack_apps.cli", "launch", str(REPO / launch_file), *args],
            cwd=REPO, env=ros_env(domain), stdout=self._file, stderr=subprocess.STDOUT, start_new_session=True)

    def pid_of(self, label: str, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(rf"\[launch\] started {re.escape(label)} \(pid (\d+)\)", self.log.read_text())
            if m:
                return int(m.group(1))
            time.sleep(0.1)
        raise TimeoutError(f"{label} did not start; log:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text()[-6000:]

    def stop(self) -> None:
        """SIGINT to the whole group (the launcher and every node), then SIGKILL what is left."""
        for sig, wait in ((signal.SIGINT, 8.0), (signal.SIGKILL, 5.0)):
            if self.process.poll() is not None and sig == signal.SIGINT:
                sig = signal.SIGKILL  # launcher gone: make sure no node outlives it
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            if sig == signal.SIGKILL:
                break
        try:  # the launcher has exited; kill any straggler still in its group
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._file.close()


def graph_with_client(launch_args: list[str], folder: Path, make_client: Callable[[Spinner], object],
                      wait_ready: Callable[[object], None]):
    """For a module fixture (`yield from`): the sim graph launched with `launch_args` and a client in its domain,
    ready, then both torn down. A graph that does not come up fails with its log."""
    domain = domain_id()
    launched = LaunchedGraph("launch/sim.launch.yaml", launch_args, domain, folder / "launch.log")
    spinner = None
    try:
        spinner = Spinner(domain)
        client = make_client(spinner)
        try:
            wait_ready(client)
        except TimeoutError as err:
            raise AssertionError(f"{err}\n{launched.output()}") from None
        yield launched, client
    finally:
        if spinner is not None:
            spinner.close()
        launched.stop()


@contextmanager
def hardware_node(folder: Path, namespace: str, params: list[str],
                  also: Sequence[tuple[str, list[str]]] = ()) -> Iterator[tuple[Spinner, Path]]:
    """The hardware node, in its own process and ROS domain, with `-p` `params` (and the node modules `also`
    names, each with its params, beside it), and a client there; all stopped on exit, and the log printed
    (pytest shows it when a test failed)."""
    domain = domain_id()
    log = folder / "hardware.log"
    processes = []
    with open(log, "w") as out:
        for module, module_params in (("hardware.node", params), *also):
            processes.append(subprocess.Popen(
                [sys.executable, "-m", module, "--ros-args", "-r", f"__ns:={namespace}",
                 *(arg for p in module_params for arg in ("-p", p))],
                cwd=REPO, env=ros_env(domain), stdout=out, stderr=subprocess.STDOUT))
    spinner = Spinner(domain)
    try:
        yield spinner, log
    finally:
        spinner.close()
        for process in processes:
            process.kill()
            process.wait(timeout=10)
        print(f"the nodes' log, last lines:\n{log.read_text()[-3000:]}")


def wait_for(predicate: Callable[[], object], timeout: float, what: str, poll: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


class Spinner:
    """An rclpy context of its own with a node spun in a background thread (hardware.ros.common.BackgroundNode),
    and a wait for a future's result."""

    def __init__(self, domain: int, name: str = "test_client") -> None:
        from hardware.ros.common import BackgroundNode

        self._spun = BackgroundNode(domain, name)
        self.node = self._spun.node

    def result(self, future, timeout: float, what: str):
        wait_for(future.done, timeout, what, poll=0.02)
        return future.result()

    def close(self) -> None:
        self._spun.close()
