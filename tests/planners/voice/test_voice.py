"""Voice corrections: real pocketsphinx on espeak-ng recordings (tests/fixtures/voice, made by
scripts/make_voice_fixtures.sh), through the language model and grammar (and the grammar alone), to what
`distill` makes of the transcript. Bad audio is made here, in tmp_path. No fakes of the recogniser.
pocketsphinx alone throughout (`open_vocabulary=False`, `--recogniser pocketsphinx`): the default, the agreement
rule with Whisper, is tested in test_open_vocabulary.py. Phrasings beyond the grammar: test_unseen_phrasings.py."""
from __future__ import annotations

import logging
import struct
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

pocketsphinx = pytest.importorskip("pocketsphinx", reason="voice extra not installed: pip install -e '.[voice]'")

from hardware.scene import nominal_objects  # noqa: E402
from skill_lib.skills import default_skills  # noqa: E402
from planners.corrections import CorrectionContext, CorrectionError, distill  # noqa: E402
from planners.voice.meaning import understanding  # noqa: E402
from planners.voice.verdict import same_words  # noqa: E402
from planners.voice.grammar import build_grammar, normalize_phrase  # noqa: E402
from planners.voice.vocabulary import GrammarVocabulary, correction_vocabulary  # noqa: E402
from planners.voice.recogniser import AudioError, Transcript, listen_microphone, recognizer_for, \
    transcribe_file, transcribe_stream  # noqa: E402
from planners.voice.audio import resample  # noqa: E402

FIXTURES = Path(__file__).parents[2] / "fixtures" / "voice"
SKILL_NAMES = tuple(spec.name for spec in default_skills())
#: the grammar alone, on its own phrasings (it guesses: some of the rest are wrong)
MIN_CORRECT = 0.8
#: with the language model, which refuses what it is not sure of instead of guessing (measured 2026-11-30:
#: 25 of 32 right, none wrong; the grammar alone 28 right, none wrong, on these phrasings of its own)
MIN_CORRECT_SURE = 0.7
#: the scene's objects as an operator names them (with and without size words), and its container's names
OBJECT_WORDS = ("red cube", "blue cube", "green cube", "yellow cube", "small red cube", "small blue cube",
                "lego brick")
VOCABULARY = correction_vocabulary(OBJECT_WORDS, SKILL_NAMES, container_words=("tray", "box"))


def _phrases(directory: Path = FIXTURES) -> list[dict[str, str]]:
    columns = ("file", "voice", "wpm", "phrase", "kind", "target", "expect")
    lines = (directory / "phrases.tsv").read_text().splitlines()
    return [dict(zip(columns, line.split("\t"))) for line in lines if line.strip() and not line.startswith("#")]


PHRASES = _phrases()


@pytest.fixture(scope="module")
def objects():
    return nominal_objects("default")


@pytest.fixture(scope="module")
def recognizer():
    # loaded once; transcribe_file() below reuses it from the cache
    return recognizer_for(VOCABULARY, open_vocabulary=False)


def _transcribe_all(language_model: bool, objects) -> dict[str, Transcript | AudioError]:
    """Every fixture transcribed once: a Transcript, or the AudioError it gave."""
    understand = understanding(CorrectionContext(objects=objects, object="red_cube"))
    results: dict[str, Transcript | AudioError] = {}
    for row in PHRASES:
        try:
            results[row["file"]] = transcribe_file(FIXTURES / f"{row['file']}.wav", VOCABULARY, understand,
                                                   language_model=language_model, open_vocabulary=False)
        except AudioError as err:
            results[row["file"]] = err
    return results


@pytest.fixture(scope="module")
def outcomes(recognizer, objects) -> dict[str, Transcript | AudioError]:
    return _transcribe_all(True, objects)


@pytest.fixture(scope="module")
def grammar_outcomes(objects) -> dict[str, Transcript | AudioError]:
    return _transcribe_all(False, objects)


def samples_of(name: str) -> np.ndarray:
    with wave.open(str(FIXTURES / f"{name}.wav"), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2")


def write_wav(path: Path, samples: np.ndarray, rate: int, channels: int = 1, width: int = 2) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return path


def correction_of(text: str, objects) -> tuple[str, str, str]:
    """(kind, target, expect) in the notation of phrases.tsv, for what distill makes of `text`."""
    records = distill(text, CorrectionContext(objects=objects, object="red_cube"))
    assert len(records) == 1, records
    record = records[0]
    if record.kind == "skill":
        value = f"{record.value:g}" if isinstance(record.value, float) else str(record.value)
        return "skill", f"{record.skill or 'any'}.{record.parameter}", f"{record.mode}:{value}"
    if record.rule.type == "before":
        first = record.rule.args["first"]
        said = [first["verb"]] + ([first["object"]["color"], first["object"]["category"]] if first["object"] else [])
        return "plan", "before", " ".join(w for w in said if w)
    return "plan", record.rule.type, record.rule.args["container"]


def expected(row: dict[str, str]) -> tuple[str, str, str]:
    expect = row["expect"]
    if ":" in expect:  # normalise the number: "delta:0.020" == "delta:0.02"
        mode, value = expect.split(":")
        expect = f"{mode}:{float(value):g}" if value.lstrip("-").replace(".", "").isdigit() else expect
    return row["kind"], row["target"], expect


# -- fixtures ---------------------------------------------------------------------------------------------
def test_fixture_set_is_16k_mono_16bit_varied_and_small():
    assert len(PHRASES) >= 24 and len({row["phrase"] for row in PHRASES}) == len(PHRASES)
    assert {row["voice"] for row in PHRASES} >= {"en-us", "en-gb"} and len({row["wpm"] for row in PHRASES}) >= 2
    total = 0
    for row in PHRASES:
        path = FIXTURES / f"{row['file']}.wav"
        with wave.open(str(path), "rb") as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2), path
        total += path.stat().st_size
    assert total < 3_000_000, f"fixtures take {total} bytes"


@pytest.mark.parametrize("row", PHRASES, ids=[row["file"] for row in PHRASES])
def test_each_phrase_as_text_gives_its_expected_correction(row, objects):
    """The table itself is right: the text of every fixture distills to what the table expects."""
    assert correction_of(row["phrase"], objects) == expected(row)
    assert recognizer_for(VOCABULARY, open_vocabulary=False).grammar.accepts(row["phrase"]), \
        "phrase is not in the grammar"


# -- recognition accuracy ---------------------------------------------------------------------------------
REFUSED = ("no speech detected", "no correction recognised", "not sure what was said")


def _score(outcomes, objects) -> tuple[int, int, int, list[str]]:
    """(right, wrong, exact transcripts, report lines) over the fixtures."""
    exact, right, wrong, report = 0, 0, 0, []
    for row in PHRASES:
        outcome = outcomes[row["file"]]
        if isinstance(outcome, AudioError):  # a clear refusal, never a crash
            assert any(fragment in str(outcome) for fragment in REFUSED), outcome
            report.append(f"  {row['file']}: refused: {outcome}")
            continue
        assert outcome.text and 0.0 <= (outcome.confidence or 0.0) <= 1.0 and 0.5 < outcome.duration_s < 10
        exact += normalize_phrase(outcome.text) == normalize_phrase(row["phrase"])
        try:
            got = correction_of(outcome.text, objects)
        except CorrectionError as err:
            got = ("refused", str(err), "")
        right += got == expected(row)
        wrong += got != expected(row)
        if got != expected(row):
            report.append(f"  {row['file']}: heard {outcome.text!r}, distilled {got}, expected {expected(row)}")
    return right, wrong, exact, report


def test_fixtures_transcribe_to_the_expected_correction(outcomes, grammar_outcomes, objects):
    total = len(PHRASES)
    for name, results, floor in (("language model + grammar", outcomes, MIN_CORRECT_SURE),
                                 ("grammar alone", grammar_outcomes, MIN_CORRECT)):
        right, wrong, exact, report = _score(results, objects)
        print(f"\nvoice, {name}: {right}/{total} ({right / total:.0%}) right structured correction, {wrong} wrong, "
              f"{exact}/{total} ({exact / total:.0%}) exact transcripts\n" + "\n".join(report))
        assert right / total >= floor, "\n".join(report)
        if results is outcomes:  # what the language model is not sure of, it refuses
            assert wrong == 0, "\n".join(report)


def test_file_transcription_is_deterministic(recognizer):
    first = recognizer.transcribe_file(FIXTURES / "left_two_cm.wav")
    assert recognizer.transcribe_file(FIXTURES / "left_two_cm.wav") == first


def test_other_rates_and_stereo_are_converted_and_say_so(tmp_path, outcomes):
    name = "left_two_cm"
    reference = outcomes[name]
    assert isinstance(reference, Transcript)
    mono = samples_of(name).astype(np.float64)
    # 44.1 kHz by interpolation (upsampling does not alias), then back down inside read_wav
    times = np.arange(int(mono.size * 44100 / 16000)) / 44100
    upsampled = np.interp(times, np.arange(mono.size) / 16000, mono).astype("<i2")
    heard = transcribe_file(write_wav(tmp_path / "cd_rate.wav", upsampled, 44100), VOCABULARY, open_vocabulary=False)
    assert heard.text == reference.text and any("resampled from 44100 Hz" in n for n in heard.notes)
    stereo = np.stack([mono, 0.8 * mono], axis=1).astype("<i2")
    heard = transcribe_file(write_wav(tmp_path / "stereo.wav", stereo, 16000, channels=2), VOCABULARY,
                            open_vocabulary=False)
    assert heard.text == reference.text and "stereo downmixed to mono" in heard.notes


def test_truncated_file_gives_what_it_holds_and_says_so(tmp_path, outcomes):
    data = (FIXTURES / "slow_down.wav").read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[:-2 * 3200])  # the last 0.2 s of trailing silence lost; the header still counts it
    heard = transcribe_file(cut, VOCABULARY, open_vocabulary=False)
    assert heard.text == outcomes["slow_down"].text and "the file is truncated" in heard.notes[0]


def test_resampling_keeps_speech_band_tones_and_does_not_fold_back_the_rest():
    t = np.arange(44100) / 44100
    def level_at(samples: np.ndarray, hz: float) -> float:
        spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
        return float(spectrum[int(round(hz * samples.size / 16000))])
    kept = resample(10000 * np.sin(2 * np.pi * 1000 * t), 44100)
    folded = resample(10000 * np.sin(2 * np.pi * 12000 * t), 44100)  # would alias to 4 kHz
    assert kept.size == 16000 and level_at(kept, 1000) > 1000 * level_at(folded, 4000)


# -- bad audio: one clear AudioError each, nothing crashes ------------------------------------------------------
def _bytes(content: bytes):
    return lambda path: (path.write_bytes(content), path)[1]


def _float_wav(path: Path) -> Path:
    """WAVE_FORMAT_IEEE_FLOAT (3): a valid WAV that is not PCM."""
    data = np.zeros(1600, "<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, 16000, 64000, 4, 32)
    path.write_bytes(b"RIFF" + struct.pack("<I", 4 + 24 + 8 + len(data)) + b"WAVE" + b"fmt " +
                     struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data)) + data)
    return path


BAD_AUDIO = {
    "silent": (lambda p: write_wav(p, np.zeros(16000, "<i2"), 16000), "no speech detected"),
    "corrupt": (_bytes(np.random.default_rng(0).bytes(5000)), "not a WAV file"),
    "corrupt_header": (_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt \x10\x00"), "corrupt WAV file"),
    "zero_channels": (_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00" + struct.pack(
        "<HHIIHH", 1, 0, 16000, 32000, 2, 16) + b"data\x00\x00\x00\x00"), "corrupt WAV file"),
    "empty": (_bytes(b""), "empty"),
    "text": (_bytes(b"grasp it lower\n"), "not a WAV file"),
    "eight_bit": (lambda p: write_wav(p, np.full(16000, 128, np.uint8), 16000, width=1), "8-bit"),
    "absurd_rate": (lambda p: write_wav(p, np.zeros(4000, "<i2"), 4000), "outside 8000-192000 Hz"),
    "five_channels": (lambda p: write_wav(p, np.zeros((1600, 5), "<i2"), 16000, channels=5), "5 channels"),
    "float": (_float_wav, "not PCM"),
    "no_samples": (lambda p: write_wav(p, np.zeros(0, "<i2"), 16000), "no audio samples"),
    "directory": (lambda p: p.mkdir() or p, "is a directory"),
    "missing": (lambda p: p, "no such audio file"),
}


@pytest.mark.parametrize("case", sorted(BAD_AUDIO))
def test_bad_audio_is_a_clear_audio_error(tmp_path, case, recognizer):
    make, fragment = BAD_AUDIO[case]
    path = make(tmp_path / f"{case}.wav")
    with pytest.raises(AudioError) as caught:
        transcribe_file(path, VOCABULARY, open_vocabulary=False)
    message = str(caught.value)
    assert isinstance(caught.value, ValueError) and fragment in message and "\n" not in message, message
    assert str(path) in message


def test_noise_that_is_not_speech_is_refused(tmp_path, recognizer):
    hum = (3000 * np.sin(2 * np.pi * 100 * np.arange(32000) / 16000)).astype("<i2")
    with pytest.raises(AudioError, match="no speech detected|no correction recognised"):
        transcribe_file(write_wav(tmp_path / "hum.wav", hum, 16000), VOCABULARY, open_vocabulary=False)


# -- grammar -----------------------------------------------------------------------------------------------------
def test_grammar_parses_in_pocketsphinx_and_every_word_is_in_the_dictionary(recognizer):
    grammar, decoder = recognizer.grammar, pocketsphinx.Decoder(lm=None, loglevel="FATAL")
    assert decoder.parse_jsgf(grammar.jsgf) is not None
    assert grammar.unknown_words == () and len(grammar.templates) == len(VOCABULARY.phrases)
    for slot, values in grammar.slot_values.items():
        assert set(values) == set(VOCABULARY.slots[slot]), slot
        assert all(f"( {value} )" in grammar.jsgf for value in values)
    assert all(decoder.lookup_word(word) is not None for word in grammar.words)
    spoken = {w for t in VOCABULARY.phrases for w in t.split() if not w.startswith("<")} | {
        w for slot in grammar.slot_values for value in VOCABULARY.slots[slot] for w in value.split()}
    assert grammar.words == spoken


def test_unknown_words_are_left_out_with_a_warning_and_numbers_spoken(caplog):
    decoder = pocketsphinx.Decoder(lm=None, loglevel="FATAL")
    vocabulary = GrammarVocabulary(
        phrases=("move it <number> <unit> to the <side>", "grasp the <object> lower", "zorblat it faster", "slower"),
        slots={"number": ("2", "12"), "unit": ("centimeters",), "side": ("left",),
               "object": ("Red_Cube", "florbix cube"), "unused": ("qqqx",)})
    with caplog.at_level(logging.WARNING, logger="planners.voice.grammar"):
        grammar = build_grammar(vocabulary, lambda w: decoder.lookup_word(w) is not None)
    assert grammar.unknown_words == ("florbix", "zorblat")  # "qqqx" is in no template: not checked
    assert "florbix" in caplog.text and "zorblat" in caplog.text
    assert grammar.slot_values["object"] == ("red cube",) and grammar.slot_values["number"] == ("two", "twelve")
    assert "zorblat it faster" not in grammar.templates and decoder.parse_jsgf(grammar.jsgf) is not None
    assert grammar.accepts("move it twelve centimeters to the left") and not grammar.accepts("move it twelve")
    assert build_grammar(vocabulary, lambda w: decoder.lookup_word(w) is not None) == grammar  # deterministic
    with pytest.raises(ValueError, match="colour"):
        build_grammar(GrammarVocabulary(("the <colour> one",), {}), lambda w: True)


# -- streaming ---------------------------------------------------------------------------------------------------
def chunks_of(samples: np.ndarray, chunk_s: float = 0.02):
    step = int(16000 * chunk_s)
    data = samples.astype("<i2").tobytes()
    return (data[i:i + 2 * step] for i in range(0, len(data), 2 * step))


def test_stream_in_20ms_chunks_gives_the_file_transcripts(outcomes, recognizer, objects):
    names = ["move_right_four_cm", "left_two_cm", "slower"]
    assert all(isinstance(outcomes[n], Transcript) for n in names)
    silence = np.zeros(16000, "<i2")
    audio = np.concatenate([silence] + [part for name in names for part in (samples_of(name), silence)])
    understand = understanding(CorrectionContext(objects=objects, object="red_cube"))
    heard = list(transcribe_stream(chunks_of(audio), 16000, VOCABULARY, understand, open_vocabulary=False))
    assert [t.text for t in heard] == [outcomes[n].text for n in names]
    assert all(0.5 < t.duration_s < 4 and 0.0 <= t.confidence <= 1.0 and t.did_you_mean is None for t in heard)


@pytest.mark.parametrize("language_model,floor,every", [(True, MIN_CORRECT_SURE, 3), (False, MIN_CORRECT, 1)])
def test_one_long_stream_of_the_fixtures(recognizer, objects, language_model, floor, every):
    """An operator talking on: the phrases, 0.5 s apart, in one stream; the endpointer must cut them. With the
    language model every third phrase (its decoding is slow; test_fixtures_transcribe_to_the_expected_correction
    hears every file with it), with the grammar alone all of them."""
    rows = PHRASES[::every]
    gap = np.zeros(8000, "<i2")
    audio = np.concatenate([part for row in rows for part in (samples_of(row["file"]), gap)])
    understand = understanding(CorrectionContext(objects=objects, object="red_cube"))
    heard = [t.text for t in transcribe_stream(chunks_of(audio, 0.05), 16000, VOCABULARY, understand,
                                               language_model=language_model, open_vocabulary=False)]
    phrases = [row["phrase"] for row in rows]
    # each transcript is the next phrase said that means the same
    said, after = [], -1
    for text in heard:
        after = next((i for i, p in enumerate(phrases) if i > after and
                      (same_words(text, p) or understand(text) == understand(p))), len(phrases))
        said.append(after)
    in_order = len(phrases) not in said
    print(f"\nvoice stream ({'language model' if language_model else 'grammar alone'}): {len(heard)}/{len(phrases)} "
          f"phrases heard, all of them right and in order: {in_order}")
    assert in_order and len(heard) / len(phrases) >= floor


def test_stream_of_silence_gives_nothing_and_a_wrong_rate_is_refused(recognizer):
    assert list(transcribe_stream(chunks_of(np.zeros(32000, "<i2")), 16000, VOCABULARY, open_vocabulary=False)) == []
    with pytest.raises(AudioError, match="16000 Hz"):
        transcribe_stream(iter(()), 44100, VOCABULARY, open_vocabulary=False)


# -- microphone: optional ----------------------------------------------------------------------------------------
def test_microphone_without_sounddevice_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # makes `import sounddevice` raise ImportError
    with pytest.raises(AudioError, match="no microphone: install sounddevice"):
        listen_microphone(VOCABULARY)


def test_microphone_without_an_input_device_is_a_clear_error():
    try:
        import sounddevice
        sounddevice.query_devices(kind="input")
    except (ImportError, OSError, ValueError, RuntimeError):
        pass  # no package, no PortAudio or no input: listen_microphone must say so
    else:
        pytest.skip("this machine has a microphone")
    with pytest.raises(AudioError, match="no microphone"):
        listen_microphone(VOCABULARY)


@pytest.mark.parametrize("fixture,kind,fragment", [("blue_cube_first", "plan", '"before"'),
                                                   ("goes_in_tray", "plan", '"destination"'),
                                                   ("place_two_cm_closer", "skill", '"offset_x"')])
def test_cli_understands_spoken_corrections_of_the_default_scene(fixture, kind, fragment, tmp_path):
    """Through `skillstack correct --audio`, whose grammar comes from the scene as operators say it."""
    import json
    import os
    import subprocess
    import sys
    env = {**os.environ, "SKILL_STACK_DATA": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "skill_stack_apps.cli", "correct", "--audio",
                           str(FIXTURES / f"{fixture}.wav"), "--object", "red_cube", "--recogniser", "pocketsphinx",
                           "--json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["kind"] == kind and fragment in json.dumps(result["knowledge"]) and result["stored"]


def test_the_drawer_scene_grammar_hears_pull_and_handle_corrections():
    """The drawer scene's grammar adds the pull and grasp-point phrasings (tests/fixtures/voice/drawer);
    the default scene's does not offer "pull", which the recogniser confuses with "push"."""
    from planners.voice.vocabulary import scene_vocabulary

    objects = nominal_objects("drawer")
    vocabulary = scene_vocabulary(objects, SKILL_NAMES)
    assert "pull it further" in vocabulary.phrases and "grasp it by the <grasp>" in vocabulary.phrases
    assert "pull it further" not in scene_vocabulary(nominal_objects("default"), SKILL_NAMES).phrases
    rows = _phrases(FIXTURES / "drawer")
    understand = understanding(CorrectionContext(objects=objects, object="red_cube"))
    for row in rows:
        assert recognizer_for(vocabulary, open_vocabulary=False).grammar.accepts(row["phrase"]), row["phrase"]
        assert correction_of(row["phrase"], objects) == expected(row)
    # with the language model, measured 7 of 11 (none wrong): it mishears "hold it by the handle" and
    # "grab the mug by the handle", and is not sure of "pull it eight centimeters further" (with
    # open_vocabulary=True 8 of 11, none wrong)
    for language_model, floor in ((True, 0.6), (False, MIN_CORRECT)):
        right, wrong, report = 0, 0, []
        for row in rows:
            try:
                heard = transcribe_file(FIXTURES / "drawer" / f"{row['file']}.wav", vocabulary, understand,
                                        language_model=language_model, open_vocabulary=False).text
                got = correction_of(heard, objects)
            except (AudioError, CorrectionError) as err:
                heard, got = str(err), None
            right += got == expected(row)
            wrong += got is not None and got != expected(row)
            report.append(f"  {row['file']}: heard {heard!r} -> {got}")
        name = "language model + grammar" if language_model else "grammar alone"
        print(f"\ndrawer scene voice, {name}: {right}/{len(rows)}, {wrong} wrong\n" + "\n".join(report))
        assert len(rows) >= 8 and right / len(rows) >= floor, "\n".join(report)
        assert wrong == 0 or not language_model, "\n".join(report)
