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
# espeak-ng and sox speak the voice test phrasings: scripts/make_voice_fixtures.sh (regenerating the WAVs in
# tests/fixtures/voice) and bench/voice.py (the held-out set, made at bench time); the tests themselves use
# the committed WAVs. Installed when apt-get can be run, else a note.
if ! command -v espeak-ng >/dev/null || ! command -v sox >/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get install -y -q espeak-ng sox >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q espeak-ng sox >/dev/null; }
  else
    echo "note: apt-get install -y espeak-ng sox to regenerate voice fixtures and run bench/voice.py" >&2
  fi
fi
# PostgreSQL: the fleet correction store's tests start their own server (tests/postgres_cluster.py) from the
# distribution's binaries (/usr/lib/postgresql/<version>/bin); the packaged default cluster is not used.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get install -y -q postgresql >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }
  else
    echo "note: apt-get install -y postgresql to run the fleet store's tests" >&2
  fi
fi
