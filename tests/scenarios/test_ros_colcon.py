"""The robot workflow: colcon builds both packages (skill_stack, ament_python at the repository root, and
skill_stack_interfaces, ament_cmake in interfaces/) in a temporary workspace, and the result runs."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ros_helpers import REPO, requires_ros

pytestmark = [requires_ros, pytest.mark.slow]
VENV_BIN = Path(sys.executable).parent


@pytest.mark.skipif(shutil.which("colcon", path=str(VENV_BIN)) is None and shutil.which("colcon") is None,
                    reason="colcon is not installed (pip install -e '.[ros-build]')")
def test_colcon_builds_both_packages(tmp_path):
    prefix = Path(sys.prefix)
    env = dict(os.environ, AMENT_PREFIX_PATH=str(prefix), PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
    colcon = shutil.which("colcon", path=str(VENV_BIN)) or shutil.which("colcon")
    build = subprocess.run(
        [colcon, "--log-base", "log", "build", "--build-base", "build", "--install-base", "install",
         "--base-paths", str(REPO), str(REPO / "interfaces"), "--event-handlers", "console_direct-",
         "--cmake-args", f"-DPython3_EXECUTABLE={sys.executable}", f"-DCMAKE_PREFIX_PATH={prefix}",
         "-DBUILD_TESTING=OFF"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=400)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "2 packages finished" in build.stdout, build.stdout[-2000:]
    install = tmp_path / "install"
    for exe in ("hardware_node", "skill_server", "scheduler"):
        assert os.access(install / "skill_stack" / "lib" / "skill_stack" / exe, os.X_OK), exe
    share = install / "skill_stack" / "share" / "skill_stack"
    assert (share / "launch" / "sim.launch.yaml").is_file() and (share / "config" / "sim.yaml").is_file()
    # the colcon-built interfaces import (ahead of the copy built into the venv)
    site = next((install / "skill_stack_interfaces" / "lib").glob("python3*/site-packages"))
    check = subprocess.run(
        [sys.executable, "-c", "import skill_stack_interfaces.action as a; from skill_stack_interfaces.action "
         "import ExecuteTask; print(a.__file__); print(ExecuteTask.Result.ERROR_HARDWARE)"],
        env=dict(env, PYTHONPATH=str(site), LD_LIBRARY_PATH=str(install / "skill_stack_interfaces" / "lib")),
        capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr
    assert str(install) in check.stdout and check.stdout.strip().endswith("5")
    # the installed launch file resolves its config from the install's share directory
    printed = subprocess.run(
        [sys.executable, "-m", "skill_stack_apps.cli", "launch", str(share / "launch" / "sim.launch.yaml"), "--print"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    assert f"--params-file {share / 'config' / 'sim.yaml'}" in printed.stdout
