"""Runs node processes side by side, prefixes their output, and stops them all together (no ROS imports).

Children stay in the launcher's process group (a test can kill the whole group), and on Linux each gets
SIGTERM if the launcher dies, so no orphan keeps a simulated robot running.
"""
from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_PR_SET_PDEATHSIG = 1
try:  # loaded here, not in the forked child: dlopen between fork and exec can deadlock
    _LIBC = ctypes.CDLL("libc.so.6", use_errno=True) if sys.platform.startswith("linux") else None
except OSError:  # not glibc: children then rely on the launcher's own clean-up
    _LIBC = None


def _die_with_parent() -> None:
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    label: str
    process: subprocess.Popen


class ProcessGroup:
    """Start commands, forward their output as `[label] line`, stop them with SIGINT -> SIGTERM -> SIGKILL."""

    def __init__(self, env: Mapping[str, str] | None = None, out=None) -> None:
        self.env = dict(os.environ if env is None else env)
        self.out = out or sys.stdout
        self.children: list[Child] = []
        self._print_lock = threading.Lock()

    def say(self, line: str) -> None:
        with self._print_lock:
            print(line, file=self.out, flush=True)

    def start(self, label: str, command: Sequence[str]) -> Child:
        process = subprocess.Popen(list(command), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, text=True, errors="replace", bufsize=1,
                                   preexec_fn=_die_with_parent if _LIBC is not None else None)
        child = Child(label, process)
        self.children.append(child)
        threading.Thread(target=self._forward, args=(child,), daemon=True).start()
        self.say(f"[launch] started {label} (pid {process.pid})")
        return child

    def _forward(self, child: Child) -> None:
        assert child.process.stdout is not None  # started with stdout=PIPE
        for line in child.process.stdout:
            self.say(f"[{child.label}] {line.rstrip()}")

    def wait(self) -> int:
        """Block until every child has exited; report each exit. Returns the worst exit code."""
        reported: set[int] = set()
        while len(reported) < len(self.children):
            for child in self.children:
                code = child.process.poll()
                if code is not None and child.process.pid not in reported:
                    reported.add(child.process.pid)
                    self.say(f"[launch] {child.label} exited with code {code}")
            time.sleep(0.1)
        return max((abs(c.process.returncode) for c in self.children), default=0)

    def stop(self, grace: float = 5.0) -> None:
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
            alive = [c for c in self.children if c.process.poll() is None]
            if not alive:
                return
            for child in alive:
                child.process.send_signal(sig)
            deadline = time.monotonic() + wait
            for child in alive:
                try:
                    child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
