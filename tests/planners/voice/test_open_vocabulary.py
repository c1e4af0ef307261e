"""The open-vocabulary recogniser in the recogniser: Moonshine's takes beside pocketsphinx's decodes on real
audio (tests/fixtures/voice/unseen), and what happens without the moonshine-cpp package."""
from __future__ import annotations

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
    recognizer = recognizer_for(VOCABULARY, open_vocabulary=True)
    assert recognizer.uses_open_vocabulary and not recognizer_for(VOCABULARY).uses_open_vocabulary  # opt-in
    hearings = recognizer.hear(read_wav(UNSEEN / "go_much_slower_than_that.wav").samples)
    assert len(hearings.open_vocabulary) == len(PERTURBATIONS) and len(hearings.language_model) == 1
    assert "slower than that" in hearings.open_vocabulary[0].lower()
    understand = understanding(CorrectionContext(objects=OBJECTS, object="red_cube"))
    transcript = recognizer.transcribe_file(UNSEEN / "go_much_slower_than_that.wav", understand)
    assert transcript.source == "open vocabulary" and understand(transcript.text) == understand("much slower")
    # pocketsphinx alone, from the same decodes: every take is decoded when asked for
    assert len(recognizer.hear(read_wav(UNSEEN / "good_morning.wav").samples, every_take=True).grammar) == 3


def test_without_moonshine_cpp_the_error_is_clear(monkeypatch):
    monkeypatch.setitem(sys.modules, "moonshine_cpp", None)  # makes the import fail, as where it has no wheel
    monkeypatch.setitem(sys.modules, "moonshine_cpp.moonshine_cpp", None)
    assert not available()
    with pytest.raises(AudioError, match="needs moonshine-cpp: pip install"):
        MoonshineTranscriber()
    with pytest.raises(AudioError, match="needs moonshine-cpp"):
        CorrectionRecognizer(VOCABULARY, open_vocabulary=True)
