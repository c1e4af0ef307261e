"""Real-time scheduling of control loops (hardware.realtime): SCHED_FIFO where the OS allows it, a clear refusal
where it does not, never an exception that stops a node. Each case runs in a child process, so the test runner
itself never becomes real-time."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hardware.realtime import make_realtime

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHILD = """
import os, threading
from hardware.realtime import is_realtime, make_realtime
started, stop = threading.Event(), threading.Event()
def wait():
    started.set()
    stop.wait()
other = threading.Thread(target=wait)
other.start()
started.wait()
print(make_realtime(20))
print("caller", is_realtime())
print("other", os.sched_getscheduler(other.native_id) == os.SCHED_FIFO)
later = threading.Thread(target=lambda: print("later", is_realtime()))
later.start()
later.join()
stop.set()
"""
linux_only = pytest.mark.skipif(not hasattr(os, "sched_setscheduler"), reason="SCHED_FIFO is Linux-only")


def _child() -> dict[str, str]:
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=REPO, capture_output=True,
                         text=True, timeout=60, env=dict(os.environ, PYTHONPATH=REPO))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    return {"message": lines[0], **dict(line.split() for line in lines[1:])}


@pytest.mark.parametrize("priority", [-1, 0])
def test_zero_or_less_leaves_the_scheduling_alone(priority):
    assert "off" in make_realtime(priority)


@pytest.mark.parametrize("priority", [100, 1000])
def test_a_priority_out_of_range_is_an_error(priority):
    with pytest.raises(ValueError, match="1-99"):
        make_realtime(priority)


@linux_only
def test_the_caller_and_the_threads_it_starts_run_real_time_or_the_log_says_why_not():
    got = _child()
    if "refused" in got["message"]:  # no privilege here: said, and nothing changed
        assert "normal priority" in got["message"]
        assert got["caller"] == got["later"] == got["other"] == "False"
    else:
        assert "SCHED_FIFO 20" in got["message"]
        assert got["caller"] == got["later"] == "True"
        assert got["other"] == "False", "a thread started before keeps its scheduling"


@linux_only
def test_without_the_privilege_it_is_refused_with_a_clear_line(monkeypatch):
    def refuse(*_):  # a fake kernel without CAP_SYS_NICE for this process (root here cannot lose it)
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    message = make_realtime(50)
    assert "refused" in message and "CAP_SYS_NICE" in message and "normal priority" in message
