"""Spoken corrections: WAV files, audio streams and a microphone -> text, with pocketsphinx (offline)
constrained by a JSGF grammar of the correction vocabulary (planners.voice.grammar).

The text then goes through `distill` like a typed correction. Everything that can be wrong with the
audio (missing, not a WAV, not 16-bit PCM, silent, absurd rate, no microphone) is an AudioError whose
message says what is wrong and how to fix it; a decoder traceback never reaches the operator.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from planners.voice.grammar import GRAMMAR_NAME, CorrectionGrammar, build_grammar
from planners.voice.vocabulary import GrammarVocabulary
from planners.voice.audio import SAMPLE_RATE, AudioError, read_wav, rms_dbfs

log = logging.getLogger(__name__)

#: below this level nothing can be told apart from the noise floor added below: silence
SILENCE_DBFS = -65.0
#: standard deviation of the noise floor, in 16-bit steps (about -58 dBFS). pocketsphinx's noise
#: estimate and feature normalisation break down on stretches of exact digital zero (synthesised speech,
#: padded or edited files); a real microphone never gives those. A seeded noise floor like a quiet
#: microphone's made 28/32 of the espeak fixtures decode exactly instead of 16/32.
NOISE_FLOOR = 40.0
NOISE_SEED = 0
#: audio kept either side of what the endpointer calls speech, and the longest utterance kept
SPEECH_MARGIN_S, MAX_UTTERANCE_S = 0.2, 30.0
EXAMPLE = "say e.g. 'two centimeters to the left', 'grasp it lower', 'slower', 'that goes in the tray'"

__all__ = ["AudioError", "CorrectionRecognizer", "Transcript", "listen_microphone", "read_wav", "recognizer_for",
           "transcribe_file", "transcribe_stream"]


@dataclass(frozen=True)
class Transcript:
    #: what was recognised: always a whole sentence of the correction grammar
    text: str
    #: the decoder's posterior probability of the sentence (0..1), None if it gave none; not calibrated
    confidence: float | None
    #: seconds of audio the sentence came from
    duration_s: float
    #: what was done to the audio on the way (resampled, downmixed, truncated file)
    notes: tuple[str, ...] = ()


def _new_decoder(grammar: CorrectionGrammar | None = None):
    """A pocketsphinx decoder with the en-US model and no language model (the grammar is the only search)."""
    try:
        import pocketsphinx
    except ImportError as err:
        raise AudioError(f"speech recognition needs pocketsphinx: pip install 'pocketsphinx>=5,<6' ({err})") from None
    decoder = pocketsphinx.Decoder(lm=None, loglevel="FATAL")
    if grammar is not None:
        decoder.add_jsgf_string(GRAMMAR_NAME, grammar.jsgf)
        decoder.activate_search(GRAMMAR_NAME)
    return decoder


class _NoiseFloor:
    """Adds the seeded noise floor; one per stream, so chunk boundaries do not change the result."""

    def __init__(self) -> None:
        self._rng = np.random.default_rng(NOISE_SEED)

    def __call__(self, samples: np.ndarray) -> bytes:
        noisy = samples.astype(np.float64) + self._rng.normal(0.0, NOISE_FLOOR, samples.size)
        return np.clip(np.round(noisy), -32768, 32767).astype("<i2").tobytes()


class _Segmenter:
    """Cuts a stream of frames into utterances where pocketsphinx's endpointer hears speech, with a margin
    either side: the endpointer clips faint word ends ("further"), which then fail to match."""

    def __init__(self, endpointer) -> None:
        self._endpointer = endpointer
        self.frame_bytes: int = endpointer.frame_bytes
        self._frames: deque[tuple[float, bytes]] = deque(maxlen=int(MAX_UTTERANCE_S / endpointer.frame_length))
        self._now = 0.0
        self._start: float | None = None  # of the utterance being collected (margin included)
        self._end: float | None = None  # once speech has ended: when its trailing margin is complete

    def _cut(self, end: float) -> bytes:
        utterance = b"".join(f for t, f in self._frames if self._start <= t < end)
        self._start = self._end = None
        return utterance

    def push(self, frame: bytes) -> bytes | None:
        """Feed one frame (`frame_bytes` long); returns an utterance's audio when one is complete."""
        endpointer, done = self._endpointer, None
        self._frames.append((self._now, frame))
        self._now += endpointer.frame_length
        was_speech = endpointer.in_speech
        endpointer.process(frame)
        if endpointer.in_speech and not was_speech:
            if self._end is not None:  # speech again before the last one's margin ran out: cut it here
                done = self._cut(self._now)
            self._start = endpointer.speech_start - SPEECH_MARGIN_S
        elif was_speech and not endpointer.in_speech:
            self._end = endpointer.speech_end + SPEECH_MARGIN_S
        elif self._end is not None and self._now >= self._end:
            done = self._cut(self._end)
        keep_from = self._start if self._start is not None else self._now - 2 * SPEECH_MARGIN_S - 0.5
        while self._frames and self._frames[0][0] < keep_from:  # idle audio older than any start can be
            self._frames.popleft()
        return done

    def finish(self) -> bytes | None:
        """The utterance in progress when the stream ends, if any."""
        return self._cut(self._now) if self._start is not None else None


class CorrectionRecognizer:
    """A decoder loaded with one vocabulary's grammar. File decoding is serialised by a lock (one decoder);
    each stream gets a decoder of its own, as a stream holds it between utterances."""

    def __init__(self, vocabulary: GrammarVocabulary) -> None:
        self._decoder = _new_decoder()
        self.grammar = build_grammar(vocabulary, lambda word: self._decoder.lookup_word(word) is not None)
        try:
            self._decoder.add_jsgf_string(GRAMMAR_NAME, self.grammar.jsgf)
        except (ValueError, RuntimeError) as err:  # a grammar bug, not bad audio: say so plainly
            raise RuntimeError(f"pocketsphinx rejected the correction grammar: {err}") from err
        self._decoder.activate_search(GRAMMAR_NAME)
        self._lock = threading.Lock()

    @staticmethod
    def _decode(decoder, pcm: bytes) -> tuple[str | None, float | None]:
        """One whole utterance -> (text, posterior). Fresh feature extraction each time: the cepstral mean
        and noise estimate would otherwise carry over, and the same audio would decode differently
        depending on what came before (a first utterance, with no history, decoded worst)."""
        decoder.reinit_feat()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)  # whole utterance known: normalise over all of it
        decoder.end_utt()
        hyp = decoder.hyp()
        if hyp is None:
            return None, None
        return " ".join(hyp.hypstr.split()), float(hyp.prob)

    def transcribe_samples(self, samples: np.ndarray, source: str = "the audio",
                           notes: tuple[str, ...] = ()) -> Transcript:
        """One utterance of 16 kHz mono int16 samples -> Transcript; AudioError if no correction is heard."""
        duration = samples.size / SAMPLE_RATE
        level = rms_dbfs(samples)
        if level < SILENCE_DBFS:
            raise AudioError(f"no speech detected in {source}: it is silent ({level:.0f} dBFS over "
                             f"{duration:.1f} s); check the microphone level")
        with self._lock:
            text, confidence = self._decode(self._decoder, _NoiseFloor()(samples))
        if not text:
            raise AudioError(f"no speech detected that matches a correction: nothing in {source} ({duration:.1f} s "
                             f"at {level:.0f} dBFS) fits the grammar; {EXAMPLE}")
        if not self.grammar.accepts(text):
            raise AudioError(f"no correction recognised in {source}: the closest match '{text}' is incomplete; "
                             f"{EXAMPLE}")
        return Transcript(text, confidence, round(duration, 3), notes)

    def transcribe_file(self, path: str | Path) -> Transcript:
        audio = read_wav(path)
        for note in audio.notes:
            log.info("%s: %s", path, note)
        return self.transcribe_samples(audio.samples, str(path), audio.notes)

    def transcribe_stream(self, chunks: Iterable[bytes], sample_rate: int) -> Iterator[Transcript]:
        """Continuous 16-bit mono audio (any chunk sizes) -> one Transcript per utterance, cut by
        pocketsphinx's voice-activity endpointer. Utterances that match no correction are logged, skipped."""
        if sample_rate != SAMPLE_RATE:
            raise AudioError(f"stream audio must be {SAMPLE_RATE} Hz (got {sample_rate} Hz): open the input at "
                             f"{SAMPLE_RATE} Hz, or resample it first")
        return self._stream(chunks)

    def _stream(self, chunks: Iterable[bytes]) -> Iterator[Transcript]:
        import pocketsphinx

        decoder = _new_decoder(self.grammar)
        segmenter = _Segmenter(pocketsphinx.Endpointer(sample_rate=SAMPLE_RATE))
        noise_floor, pending, frame_bytes = _NoiseFloor(), b"", segmenter.frame_bytes
        for chunk in chunks:
            pending += bytes(chunk)
            while len(pending) >= frame_bytes:
                frame, pending = pending[:frame_bytes], pending[frame_bytes:]
                utterance = segmenter.push(noise_floor(np.frombuffer(frame, "<i2")))
                if utterance and (transcript := self._stream_utterance(decoder, utterance)) is not None:
                    yield transcript
        utterance = segmenter.finish()  # the stream ended, maybe mid-utterance: decode what there is
        if utterance and (transcript := self._stream_utterance(decoder, utterance)) is not None:
            yield transcript

    def _stream_utterance(self, decoder, pcm: bytes) -> Transcript | None:
        text, confidence = self._decode(decoder, pcm)
        duration = round(len(pcm) / 2 / SAMPLE_RATE, 3)
        if not text or not self.grammar.accepts(text):
            log.info("voice: %.1f s of speech matched no correction (closest: %r)", duration, text)
            return None
        return Transcript(text, confidence, duration)


_RECOGNIZERS: dict[tuple, CorrectionRecognizer] = {}
_RECOGNIZERS_LOCK = threading.Lock()
_MAX_CACHED = 4


def recognizer_for(vocabulary: GrammarVocabulary) -> CorrectionRecognizer:
    """The recogniser for a vocabulary, built once (loading the model and grammar takes ~0.3 s)."""
    key = (tuple(vocabulary.phrases), tuple(sorted((k, tuple(v)) for k, v in vocabulary.slots.items())))
    with _RECOGNIZERS_LOCK:
        if key not in _RECOGNIZERS:
            if len(_RECOGNIZERS) >= _MAX_CACHED:  # scenes change rarely; keep the newest few
                _RECOGNIZERS.pop(next(iter(_RECOGNIZERS)))
            _RECOGNIZERS[key] = CorrectionRecognizer(vocabulary)
        return _RECOGNIZERS[key]


def transcribe_file(path: str | Path, vocabulary: GrammarVocabulary) -> Transcript:
    """A WAV file holding one spoken correction -> Transcript. Raises AudioError with a clear reason."""
    return recognizer_for(vocabulary).transcribe_file(path)


def transcribe_stream(chunks: Iterable[bytes], sample_rate: int,
                      vocabulary: GrammarVocabulary) -> Iterator[Transcript]:
    """16-bit mono PCM chunks -> a Transcript per utterance heard (see CorrectionRecognizer.transcribe_stream)."""
    return recognizer_for(vocabulary).transcribe_stream(chunks, sample_rate)


def listen_microphone(vocabulary: GrammarVocabulary, device: int | str | None = None) -> Iterator[Transcript]:
    """Transcripts of corrections spoken into a microphone, until the iterator is closed. Needs the optional
    `sounddevice` package (and PortAudio); raises AudioError at once if either or an input device is missing."""
    try:
        import sounddevice
    except ImportError:
        raise AudioError("no microphone: install sounddevice (pip install sounddevice) to listen live") from None
    except OSError as err:  # the package is there but the PortAudio library is not
        raise AudioError(f"no microphone: sounddevice cannot load PortAudio ({err}); "
                         "apt-get install libportaudio2") from None
    try:
        info = sounddevice.query_devices(device, kind="input")
    except (ValueError, sounddevice.PortAudioError) as err:
        raise AudioError(f"no microphone: no input device found ({err})") from None
    if int(info.get("max_input_channels", 0)) < 1:
        raise AudioError(f"no microphone: device {info.get('name', device)!r} has no input channels")
    recognizer = recognizer_for(vocabulary)  # loaded before the microphone opens, so no speech is lost
    return recognizer.transcribe_stream(_microphone_chunks(sounddevice, device), SAMPLE_RATE)


def _microphone_chunks(sounddevice, device: int | str | None, chunk_s: float = 0.03) -> Iterator[bytes]:
    """16 kHz mono int16 chunks from the input device; the device is released when the iterator is closed."""
    frames = int(SAMPLE_RATE * chunk_s)
    try:
        stream = sounddevice.RawInputStream(samplerate=SAMPLE_RATE, channels=1, dtype="int16", device=device,
                                            blocksize=frames)
    except sounddevice.PortAudioError as err:
        raise AudioError(f"no microphone: cannot open the input at {SAMPLE_RATE} Hz mono ({err})") from None
    with stream:
        while True:
            data, overflowed = stream.read(frames)
            if overflowed:  # decoding fell behind the microphone: some audio was lost
                log.warning("voice: microphone input overflowed; audio was dropped")
            yield bytes(data)
