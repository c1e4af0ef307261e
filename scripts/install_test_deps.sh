#!/usr/bin/env bash
# What `make test` needs beyond the core: ROS 2 wheels, the interface package, speech recognition.
# Usage: scripts/install_test_deps.sh VENV
set -euo pipefail
venv=${1:?usage: install_test_deps.sh VENV}
root=$(cd "$(dirname "$0")/.." && pwd)
"$venv/bin/python" -m pip install -q -e "$root[test,ros,ros-build,voice]"
if [ -f "$root/scripts/build_interfaces.sh" ]; then
  bash "$root/scripts/build_interfaces.sh" "$venv"
fi
