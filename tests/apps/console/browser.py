"""Headless Chromium for the console's browser tests: Debian's `chromium` and `chromedriver`
(scripts/install_browser.sh), driven by Selenium; nothing is downloaded when the tests run. The microphone is
Chromium's fake capture device playing a WAV file once (`%noloop`) each time the page opens it."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

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
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER or ""))
