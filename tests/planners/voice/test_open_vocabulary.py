"""The open-vocabulary recogniser in the recogniser, the default: Moonshine's takes beside pocketsphinx's decodes
on real audio (tests/fixtures/voice/unseen), and pocketsphinx alone where Moonshine cannot run (its package
missing, its worker not starting, or lost and not restartable: real failures of the worker's command)."""
from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

import pytest

pytest.importorskip("pocketsphinx", reason="voice extra not installed: pip install -e '.[voice]'")
pytest.importorskip("moonshine_cpp", reason="voice extra not installed: pip install -e '.[voice]'")

from hardware.scene import nominal_objects  # noqa: E402
from planners.corrections import CorrectionContext  # noqa: E402
from planners.voice.audio import AudioError, read_wav  # noqa: E402
from planners.voice.meaning import understanding  # noqa: E402
from planners.voice.moonshine import MoonshineTranscriber, available  # noqa: E402
from planners.voice.recogniser import PERTURBATIONS, CorrectionRecognizer, recognizer_for  # noqa: E402
from planners.voice.vocabulary import scene_vocabulary  # noqa: E402
from skill_lib.skills import default_skills  # noqa: E402

UNSEEN = Path(__file__).parents[2] / "fixtures" / "voice" / "unseen"
OBJECTS = nominal_objects("default")
VOCABULARY = scene_vocabulary(OBJECTS, tuple(spec.name for spec in default_skills()))


def test_moonshine_hears_each_take_and_pocketsphinx_the_recording_beside_it():
    recognizer = recognizer_for(VOCABULARY)  # the default
    assert recognizer.uses_open_vocabulary
    assert not recognizer_for(VOCABULARY, open_vocabulary=False).uses_open_vocabulary  # asked for
    hearings = recognizer.hear(read_wav(UNSEEN / "go_much_slower_than_that.wav").samples)
    assert len(hearings.open_vocabulary) == len(PERTURBATIONS) and len(hearings.language_model) == 1
    assert "slower than that" in hearings.open_vocabulary[0].lower()
    understand = understanding(CorrectionContext(objects=OBJECTS, object="red_cube"))
    transcript = recognizer.transcribe_file(UNSEEN / "go_much_slower_than_that.wav", understand)
    assert transcript.source == "open vocabulary" and understand(transcript.text) == understand("much slower")
    # pocketsphinx alone, from the same decodes: every take is decoded when asked for
    assert len(recognizer.hear(read_wav(UNSEEN / "good_morning.wav").samples, every_take=True).grammar) == 3


def test_without_moonshine_cpp_the_error_is_clear(monkeypatch):
    """(The recogniser then falls back to pocketsphinx alone: test_correction_cli.py, in a subprocess.)"""
    monkeypatch.setitem(sys.modules, "moonshine_cpp", None)  # makes the import fail, as where it has no wheel
    monkeypatch.setitem(sys.modules, "moonshine_cpp.moonshine_cpp", None)
    assert not available()
    with pytest.raises(AudioError, match=r"needs moonshine-cpp \(x86-64 Linux only\): pip install"):
        MoonshineTranscriber()


def _fallback_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "planners.voice.recogniser"
            and r.levelno == logging.WARNING and "pocketsphinx alone from now on" in r.getMessage()]


def _decided_by_pocketsphinx_alone(recognizer: CorrectionRecognizer) -> None:
    understand = understanding(CorrectionContext(objects=OBJECTS, object="red_cube"))
    transcript = recognizer.transcribe_file(UNSEEN / "go_much_slower_than_that.wav", understand)
    # pocketsphinx's own verdict over its three takes (agreement would say "open vocabulary")
    assert transcript.source in ("language model", "grammar"), transcript
    assert understand(transcript.text) == understand("much slower")


@pytest.mark.parametrize("worker_python, why", [("/nonexistent/python3", "No such file"),
                                                ("/bin/false", "exited while loading the model (exit code 1)")],
                         ids=["not_executable", "exits_at_once"])
def test_a_worker_that_cannot_start_leaves_pocketsphinx_alone_with_one_warning(monkeypatch, caplog, worker_python,
                                                                               why):
    """The worker is started as `sys.executable -m planners.voice.moonshine_worker`: pointed at a program that does
    not exist or exits at once, its start really fails."""
    monkeypatch.setattr(sys, "executable", worker_python)
    with caplog.at_level(logging.WARNING):
        recognizer = CorrectionRecognizer(VOCABULARY, open_vocabulary=True)
        assert not recognizer.uses_open_vocabulary
        _decided_by_pocketsphinx_alone(recognizer)
    [warning] = _fallback_warnings(caplog)
    assert "could not start" in warning and why in warning and "\n" not in warning, warning


def test_a_worker_lost_and_not_restartable_leaves_that_utterance_and_the_rest_to_pocketsphinx(monkeypatch, caplog):
    recognizer = CorrectionRecognizer(VOCABULARY, open_vocabulary=True)
    assert recognizer.uses_open_vocabulary
    worker_pid = recognizer._open.pid
    assert worker_pid is not None
    monkeypatch.setattr(sys, "executable", "/bin/false")  # its replacement exits at once
    os.kill(worker_pid, signal.SIGKILL)
    with caplog.at_level(logging.WARNING):
        _decided_by_pocketsphinx_alone(recognizer)
        assert not recognizer.uses_open_vocabulary
        _decided_by_pocketsphinx_alone(recognizer)  # no new worker tried, nor said again
    [warning] = _fallback_warnings(caplog)
    assert "failed twice on this audio" in warning and "killed by SIGKILL" in warning, warning
