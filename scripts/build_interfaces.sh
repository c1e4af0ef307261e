#!/usr/bin/env bash
# Build the ament_cmake package interfaces/ (skill_stack_interfaces) with plain cmake, from the ROS 2
# pip wheels, and install it into the virtual environment's prefix. Idempotent: skips in well under a
# second when the installed build matches the current .msg/.srv/.action files and CMakeLists.txt.
# Usage: scripts/build_interfaces.sh VENV
# (On a robot with ROS 2 from apt, use colcon instead: see README "ROS 2".)
set -euo pipefail
venv=$(cd "${1:?usage: build_interfaces.sh VENV}" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/interfaces
build=$root/build/interfaces
stamp=$venv/share/skill_stack_interfaces/.source-hash
py=$venv/bin/python

# The hash covers every interface file, the build files, and the Python the bindings are built for.
hash=$(cd "$src" && { find . -type f \( -name '*.msg' -o -name '*.srv' -o -name '*.action' \
         -o -name CMakeLists.txt -o -name package.xml \) -print0 | sort -z | xargs -0 sha256sum;
         "$py" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ] \
   && "$py" -c 'import skill_stack_interfaces.action' 2>/dev/null; then
  echo "skill_stack_interfaces is up to date in $venv"
  exit 0
fi

echo "building skill_stack_interfaces into $venv (about 30 s)"
# ament finds the wheels' packages through the prefix; the generators run with the venv's Python.
export AMENT_PREFIX_PATH=$venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}
export PATH=$venv/bin:$PATH
rm -rf "$build"
mkdir -p "$build"
cmake -S "$src" -B "$build" -Wno-dev -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DCMAKE_PREFIX_PATH="$venv" -DCMAKE_INSTALL_PREFIX="$venv" -DPython3_EXECUTABLE="$py" >"$build/configure.log" 2>&1 \
  || { tail -40 "$build/configure.log"; echo "cmake configure failed (full log: $build/configure.log)"; exit 1; }
cmake --build "$build" -j "${BUILD_JOBS:-2}" >"$build/build.log" 2>&1 \
  || { tail -40 "$build/build.log"; echo "build failed (full log: $build/build.log)"; exit 1; }
cmake --install "$build" >"$build/install.log" 2>&1 \
  || { tail -20 "$build/install.log"; echo "install failed (full log: $build/install.log)"; exit 1; }
"$py" -c 'from skill_stack_interfaces.action import ExecuteTask; from skill_stack_interfaces.msg import ObjectStates'
echo "$hash" >"$stamp"
echo "skill_stack_interfaces installed into $venv"
