"""docs/img/console.png: the operator console during a task, in headless Chromium (scripts/install_browser.sh).

A correction is remembered first ("3 cm to the left" about putting the red cube in the tray), then the task
runs; the screenshot is taken while the place runs, so the page shows the retrieved correction with its score.
Usage: .venv/bin/python scripts/console_screenshot.py [OUT.png]
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "img" / "console.png"
    data = Path(tempfile.mkdtemp(prefix="console-screenshot-"))
    os.environ["SKILL_STACK_DATA"] = str(data)  # a clean store, not the user's
    sys.path.insert(0, str(REPO / "tests" / "apps" / "console"))
    from browser import MISSING, chromium
    from console_client import start_console, stop_console, wait_for

    if MISSING:
        print(f"error: {MISSING}", file=sys.stderr)
        return 1
    console = start_console(data, speed=0.5)
    browser = chromium(width=1600, height=880)
    try:
        console.ok("POST", "/api/corrections", {"text": "3 cm to the left", "task": "put the red cube in the tray"})
        browser.get(console.url)
        wait_for(lambda: browser.execute_script("return document.getElementById('link').textContent") == "live",
                 20, "the page")
        browser.find_element("id", "task-input").send_keys("put the red cube in the tray")
        browser.find_element("id", "task-run").click()
        task_id = wait_for(lambda: console.ok("GET", "/api/state")["task"], 20, "the task")["id"]
        console.running_step(task_id, "place", progress=0.15)
        request = urllib.request.Request(console.url + "api/corrections", method="POST",
                                         data=json.dumps({"text": "a bit slower"}).encode(),
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=30).read()
        time.sleep(0.5)  # the page draws what the WebSocket brought
        out.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(out))
        print(f"wrote {out}")
        console.wait_task(task_id)
    finally:
        browser.quit()
        stop_console(console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
