#!/usr/bin/env bash
# Headless Chromium and its WebDriver for the operator console's browser tests (tests/apps/console/):
# Debian's `chromium` and `chromium-driver`, so nothing is downloaded when the tests run. Idempotent: does
# nothing when they (and a font) are installed. Needs root (or sudo) and an apt mirror; without them the
# browser tests skip, saying why.
# Usage: scripts/install_browser.sh
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
    && fc-list 2>/dev/null | grep -i dejavu >/dev/null; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install_browser.sh: need root or sudo to apt-get install chromium chromium-driver" >&2
    exit 1
  fi
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# a font, so that the page's text (and docs/img/console.png) renders on a bare machine
$sudo apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-dejavu-core fontconfig
