"""Headless Chromium for the console's browser tests: Debian's `chromium` and `chromedriver`
(scripts/install_browser.sh), driven by Selenium; nothing is downloaded when the tests run. The microphone is
Chromium's fake capture device playing a WAV file once (`%noloop`) each time the page opens it."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from console_client import wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
try:
    import selenium  # noqa: F401
    MISSING = None if CHROMIUM and CHROMEDRIVER else (
        "the browser tests need Debian's chromium and chromium-driver: run scripts/install_browser.sh")
except ImportError as err:
    MISSING = f"the browser tests need selenium (pip install -e '.[test]'): {err}"

requires_browser = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def chromium(microphone: Path | None = None, width: int = 1600, height: int = 1000) -> Any:
    """A headless Chromium under WebDriver; `microphone`: a WAV the fake microphone plays once per capture."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or ""
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 f"--window-size={width},{height}", "--use-fake-ui-for-media-stream",
                 "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required",
                 "--no-first-run", "--disable-extensions", "--disable-background-networking"):
        options.add_argument(flag)
    if microphone is not None:
        options.add_argument(f"--use-file-for-fake-audio-capture={microphone}%noloop")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER or ""))
    driver.set_page_load_timeout(30)
    return driver


#: what the page shows, read in one go (the page redraws parts as the state arrives: held elements go stale)
READ_PAGE = """
const rows = (selector, read) => [...document.querySelectorAll(selector)].map(read);
const text = (id) => document.getElementById(id).textContent.trim();
return {
  link: text("link"), task_state: text("task-state"), message: text("task-message"), notice: text("notice"),
  plan: rows("#plan tr", (r) => ({state: r.dataset.state, policy: r.dataset.policy})),
  goals: rows("#goals li", (li) => li.dataset.holds),
  feed: rows("#correction-feed li",
             (li) => ({status: li.dataset.status, records: li.dataset.records, text: li.textContent})),
  memory: rows("#memory tr[data-id]", (tr) => Number(tr.dataset.id)),
  estopped: !document.getElementById("estop-banner").hidden,
  camera: document.getElementById("camera").src,
};
"""


def read(browser) -> dict:
    return browser.execute_script(READ_PAGE)


def until(browser, check, what: str, timeout: float = 30.0) -> dict:
    """The page as read once `check(page)` holds."""
    def ready() -> dict | None:
        page = read(browser)
        return page if check(page) else None
    return wait_for(ready, timeout, what)


def open_page(browser, console):
    from selenium.webdriver.common.by import By

    browser.get(console.url)
    until(browser, lambda p: p["link"] == "live", "live updates", 20)
    return lambda selector: browser.find_element(By.CSS_SELECTOR, selector)


def type_into(element, value: str) -> None:
    element.clear()
    element.send_keys(value)
