"""Test-wide settings: nothing a test (or a process it starts) writes lands in the user's data dir."""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Set at import, before any fixture starts a subprocess: they inherit it. Removed when the run ends.
os.environ["SKILL_STACK_DATA"] = tempfile.mkdtemp(prefix="skill_stack_test_data_")
atexit.register(shutil.rmtree, os.environ["SKILL_STACK_DATA"], ignore_errors=True)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"


def pytest_sessionstart(session) -> None:
    """Remove Fast DDS shared-memory files left by ROS processes that were killed (by earlier runs' kill
    tests, or a crash) before this run starts its own. A stale port in /dev/shm can leave a new process
    that reuses its number unable to receive data while discovery still works (eProsima/Fast-DDS#3535),
    which is how CI once timed out on every call after a few good ones. Fast DDS's own `shm clean` only
    removes files whose owner process is gone (its lock is free), so a running robot is left alone."""
    tool = Path(sys.prefix) / "tools" / "fastdds" / "fastdds.py"
    if tool.is_file():
        subprocess.run([sys.executable, str(tool), "shm", "clean"], capture_output=True, timeout=60, check=False)
