"""Fixtures of the console tests: a console per test over a fresh simulator and correction store (after the
first, a console starts in ~0.2 s: the models are loaded once per process)."""
from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the console needs its extra: pip install -e '.[console]'")

from console_client import Console, start_console, stop_console  # noqa: E402


@pytest.fixture
def console(tmp_path) -> Console:
    started = start_console(tmp_path)
    yield started
    stop_console(started)
