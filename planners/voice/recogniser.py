"""Spoken corrections: WAV files, audio streams and a microphone -> text, with pocketsphinx (offline).

Three hearings of the same audio: an open-vocabulary recogniser (planners.voice.whisper, Whisper tiny.en from
its package, prompted with the scene's words), which hears any English; an n-gram language model of the ways
corrections and taught tasks are said (planners.voice.language_model); and the JSGF grammar of the correction
templates (planners.voice.grammar).
By default a meaning is taken when the open recogniser and pocketsphinx agree on it
(planners.voice.agreement: the agreement rule); with `open_vocabulary=False`, or where Whisper cannot run
(see CorrectionRecognizer), pocketsphinx decodes the utterance as recorded and slightly slower and faster and
decides alone (planners.voice.verdict: stable across the playback rates). Otherwise UnsureError says "did you
mean ...?". `language_model=False` is the grammar alone.

The text then goes through `distill` like a typed correction. Everything that can be wrong with the
audio (missing, not a WAV, not 16-bit PCM, silent, absurd rate, no microphone) is an AudioError whose
message says what is wrong and how to fix it; a decoder traceback never reaches the operator.
"""
from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from planners.corrections.context import CorrectionContext
from planners.voice import agreement
from planners.voice.audio import SAMPLE_RATE, AudioError, read_wav, rms_dbfs
from planners.voice.framing import NoiseFloor, Segmenter, perturbed
from planners.voice.grammar import GRAMMAR_NAME, CorrectionGrammar, build_grammar
from planners.voice.language_model import (LM_SEARCH, is_known_word, language_model_text, load_language_model,
                                           model_words, pronunciations, write_dictionary)
from planners.voice.meaning import Understanding, hearing_context, teaches, understanding
from planners.voice.verdict import PERTURBATIONS, Verdict, decide
from planners.voice.vocabulary import GrammarVocabulary
from planners.voice.whisper import WhisperTranscriber, prompt_for

log = logging.getLogger(__name__)

#: below this level nothing can be told apart from the noise floor (planners.voice.framing): silence
SILENCE_DBFS = -65.0
EXAMPLE = "say e.g. 'two centimeters to the left', 'grasp it lower', 'slower', 'that goes in the tray'"
#: pocketsphinx's search settings: more Gaussians per frame than its default 4 (fewer confusions on the
#: development phrasings, at 0.1 s more per decode)
DECODER_CONFIG = {"topn": 16}
#: where a correction was given, when the caller does not say (see planners.voice.meaning.hearing_context)
DEFAULT_CONTEXT = hearing_context(CorrectionContext())

__all__ = ["AudioError", "CorrectionRecognizer", "Hearings", "Transcript", "UnsureError", "guess_of", "listen_microphone",
           "read_wav", "recognizer_for", "transcribe_file", "transcribe_stream"]


@dataclass(frozen=True)
class Transcript:
    #: what was recognised: a correction (with the grammar alone, a whole sentence of the grammar)
    text: str
    #: the share of the hearings that agree (planners.voice.agreement / verdict); grammar alone: the
    #: decoder's posterior probability of the sentence (0..1, not calibrated); None if none was given
    confidence: float | None
    #: seconds of audio the sentence came from
    duration_s: float
    #: what was done to the audio on the way (resampled, downmixed, truncated file)
    notes: tuple[str, ...] = ()
    #: "open vocabulary", "language model", or "grammar" (the grammar heard exactly these words)
    source: str = "grammar"
    #: set when the recogniser was not sure (an UnsureError's transcript): the best guess, to offer the operator
    did_you_mean: str | None = None


@dataclass(frozen=True)
class Hearings:
    """Every decode of one utterance, before the decision; a take per playback rate of PERTURBATIONS (as
    recorded first), or fewer."""
    #: the open-vocabulary recogniser's transcripts, one per take (none without it)
    open_vocabulary: tuple[str, ...]
    #: pocketsphinx's language model and grammar (None: nothing heard, or for the grammar no whole sentence);
    #: with the open recogniser, only as recorded unless every take was asked for (bench/voice.py)
    language_model: tuple[str | None, ...]
    grammar: tuple[str | None, ...]
    #: wall time of all of it, and of the pocketsphinx decodes alone (the open recogniser runs beside them)
    seconds: float
    constrained_seconds: float


class UnsureError(AudioError):
    """Something like a correction was heard, but not surely enough to act on; `transcript.did_you_mean` is
    the best guess, if there is one, to offer ("did you mean ...?")."""

    def __init__(self, message: str, transcript: Transcript) -> None:
        super().__init__(message)
        self.transcript = transcript


def guess_of(err: Exception) -> str | None:
    """The "did you mean" an UnsureError offers (None for any other error)."""
    return err.transcript.did_you_mean if isinstance(err, UnsureError) else None


def _new_decoder(words: Iterable[str], grammar: CorrectionGrammar | None = None, language_model: str | None = None):
    """A pocketsphinx decoder with the en-US model, a dictionary of `words`, the grammar's search (active)
    and, given its ARPA text, the language model's."""
    try:
        import pocketsphinx
    except ImportError as err:
        raise AudioError(f"speech recognition needs pocketsphinx: pip install 'pocketsphinx>=5,<6' ({err})") from None
    handle, path = tempfile.mkstemp(suffix=".dict", prefix="skill_stack_voice_")
    os.close(handle)
    try:
        write_dictionary(words, path)
        decoder = pocketsphinx.Decoder(lm=None, dict=path, loglevel="FATAL", **DECODER_CONFIG)
    finally:
        os.unlink(path)
    if language_model is not None:
        load_language_model(decoder, language_model)
    if grammar is not None:
        _add_grammar(decoder, grammar)
    return decoder


def _add_grammar(decoder, grammar: CorrectionGrammar) -> None:
    try:
        decoder.add_jsgf_string(GRAMMAR_NAME, grammar.jsgf)
    except (ValueError, RuntimeError) as err:  # a grammar bug, not bad audio: say so plainly
        raise RuntimeError(f"pocketsphinx rejected the correction grammar: {err}") from err
    decoder.activate_search(GRAMMAR_NAME)


class CorrectionRecognizer:
    """A decoder loaded with one vocabulary's grammar and (unless `language_model=False`) language model, and
    with the language model (unless `open_vocabulary=False`) the open-vocabulary recogniser: the agreement rule.
    Where Whisper cannot run (faster-whisper or its weights' package missing, or the model does not load), the
    recogniser is pocketsphinx alone, said in one warning; `uses_open_vocabulary` tells which. File decoding is
    serialised by a lock (one decoder); each stream gets a decoder of its own, as a stream holds it between
    utterances."""

    def __init__(self, vocabulary: GrammarVocabulary, *, language_model: bool = True,
                 open_vocabulary: bool = True) -> None:
        self._language_model = language_model_text(vocabulary) if language_model else None
        self.grammar = build_grammar(vocabulary, is_known_word)
        self._words = self.grammar.words | (model_words(self._language_model) if self._language_model else set())
        self._decoder = _new_decoder(self._words, self.grammar, self._language_model)
        self._lock = threading.Lock()
        # the grammar alone has no decodes to agree with
        self._open = _open_recogniser(vocabulary) if open_vocabulary and language_model else None
        # one thread for the open recogniser, so that it runs beside pocketsphinx (both release the GIL)
        self._beside = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voice-open") \
            if self._open is not None else None

    @property
    def uses_language_model(self) -> bool:
        return self._language_model is not None

    @property
    def uses_open_vocabulary(self) -> bool:
        return self._open is not None

    @property
    def words(self) -> frozenset[str]:
        """The correction vocabulary: every word of the grammar and the language model."""
        return frozenset(self._words)

    @staticmethod
    def _decode(decoder, pcm: bytes, search: str = GRAMMAR_NAME) -> tuple[str | None, float | None]:
        """One whole utterance -> (text, posterior). Fresh feature extraction each time: the cepstral mean
        and noise estimate would otherwise carry over, and the same audio would decode differently
        depending on what came before (a first utterance, with no history, decoded worst)."""
        if decoder.current_search() != search:
            decoder.activate_search(search)
        decoder.reinit_feat()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)  # whole utterance known: normalise over all of it
        decoder.end_utt()
        hyp = decoder.hyp()
        if hyp is None or not hyp.hypstr.strip():
            return None, None
        return " ".join(hyp.hypstr.split()), float(hyp.prob)

    def _hearings(self, decoder, takes: list[bytes], every_take: bool = False,
                  open_vocabulary: bool = True) -> Hearings:
        """Every decode of one utterance given as played at each of PERTURBATIONS (as recorded first): the
        open recogniser's of each take, on its own thread, and beside it pocketsphinx's, of the take as
        recorded only when the open recogniser decides with it (unless `every_take`), else of each. If the open
        recogniser fails on it, pocketsphinx decides it and every utterance after it alone: a recogniser that
        failed once would otherwise fail on, or hold up, each one."""
        start = time.perf_counter()
        heard_open = None
        if self._open is not None and self._beside is not None and open_vocabulary:
            transcribe = self._open.transcribe
            heard_open = self._beside.submit(lambda: tuple(transcribe(np.frombuffer(t, "<i2")) for t in takes))
        constrained_takes = takes if heard_open is None or every_take else takes[:1]
        lm_texts, grammar_texts = self._constrained(decoder, constrained_takes)
        constrained = time.perf_counter() - start
        texts: tuple[str, ...] = ()
        if heard_open is not None:
            try:
                texts = heard_open.result()
            except AudioError as err:
                dropped, self._open = self._open, None
                if dropped is not None:  # not yet dropped by another stream's utterance
                    _say_pocketsphinx_alone(err)
                more_lm, more_grammar = self._constrained(decoder, takes[len(constrained_takes):])
                lm_texts, grammar_texts = lm_texts + more_lm, grammar_texts + more_grammar
        return Hearings(texts, lm_texts, grammar_texts, time.perf_counter() - start, constrained)

    def _constrained(self, decoder, takes: list[bytes]) -> tuple[tuple[str | None, ...], tuple[str | None, ...]]:
        """pocketsphinx's language model and grammar decodes of each take."""
        grammar_texts = [self._decode(decoder, pcm)[0] for pcm in takes]
        # a text the grammar does not accept is its best partial path ("pick up the"): no sentence fits
        grammar_texts = [t if t is not None and self.grammar.accepts(t) else None for t in grammar_texts]
        lm_texts = [self._decode(decoder, pcm, LM_SEARCH)[0] for pcm in takes]
        return tuple(lm_texts), tuple(grammar_texts)

    def decide(self, hearings: Hearings, understand: Understanding) -> Verdict:
        """The verdict on an utterance's hearings: by agreement of the open recogniser and pocketsphinx when
        there are open transcripts, else by pocketsphinx's stability alone. A taught definition the two do
        not agree on is pocketsphinx's to decide, given all its takes (see _may_teach)."""
        if not hearings.open_vocabulary:
            return decide(hearings.language_model, hearings.grammar, understand)
        verdict = agreement.decide(hearings.open_vocabulary, hearings.language_model, hearings.grammar, understand,
                                   self._words, pronunciations)
        if verdict.sure or len(hearings.language_model) < len(PERTURBATIONS):
            return verdict
        alone = decide(hearings.language_model, hearings.grammar, understand)
        return alone if alone.sure and teaches(understand(alone.text)) else verdict

    def _may_teach(self, decoder, takes: list[bytes], hearings: Hearings, understand: Understanding) -> Hearings:
        """The hearings with pocketsphinx's slower and faster takes too, when the open decision is unsure and
        pocketsphinx heard a taught definition: a definition means its phrase word for word, which the open
        recogniser's takes rarely agree on ("tie-ving up means ..."), and pocketsphinx's language model knows
        the taught phrases (on the development phrasings this took one more right and no wrong one)."""
        lm = hearings.language_model
        if (not hearings.open_vocabulary or len(lm) >= len(takes) or not lm[0] or not teaches(understand(lm[0]))
                or self.decide(hearings, understand).sure):
            return hearings
        rest = self._hearings(decoder, takes, every_take=True, open_vocabulary=False)
        return replace(hearings, language_model=lm[:1] + rest.language_model[1:],
                       grammar=hearings.grammar[:1] + rest.grammar[1:])

    def hear(self, samples: np.ndarray, *, every_take: bool = False,
             understand: Understanding | None = None) -> Hearings:
        """Every decode of one utterance of 16 kHz mono int16 samples (needs the language model). `every_take`:
        pocketsphinx decodes the slower and faster takes too even beside the open recogniser (to compare the
        two decisions on the same decodes, as bench/voice.py does); given `understand`, it does so when the
        decision needs them (a taught definition)."""
        if self._language_model is None:
            raise ValueError("hear() needs the language model: CorrectionRecognizer(..., language_model=True)")
        # each take gets its own noise floor, as a recording of its own would
        takes = [NoiseFloor()(np.frombuffer(perturbed(samples.astype("<i2").tobytes(), rate), "<i2"))
                 for rate in PERTURBATIONS]
        with self._lock:
            hearings = self._hearings(self._decoder, takes, every_take)
            return self._may_teach(self._decoder, takes, hearings, understand) if understand else hearings

    def transcribe_samples(self, samples: np.ndarray, source: str = "the audio", notes: tuple[str, ...] = (),
                           understand: Understanding | None = None) -> Transcript:
        """One utterance of 16 kHz mono int16 samples -> Transcript; AudioError if no correction is heard,
        UnsureError if one may have been. `understand` says what a text means as a correction where it was
        given (planners.voice.meaning.understanding of the CorrectionContext); without it, a bare context."""
        duration = samples.size / SAMPLE_RATE
        level = rms_dbfs(samples)
        if level < SILENCE_DBFS:
            raise AudioError(f"no speech detected in {source}: it is silent ({level:.0f} dBFS over "
                             f"{duration:.1f} s); check the microphone level")
        if self._language_model is None:
            with self._lock:
                text, confidence = self._decode(self._decoder, NoiseFloor()(samples))
            return self._grammar_transcript(text, confidence, source, duration, level, notes)
        understand = understand or understanding(DEFAULT_CONTEXT)
        verdict = self.decide(self.hear(samples, understand=understand), understand)
        transcript = Transcript(verdict.text, round(verdict.confidence, 3), round(duration, 3), notes, verdict.source,
                                None if verdict.sure else verdict.did_you_mean)
        if verdict.sure:
            return transcript
        if not verdict.text and verdict.did_you_mean is None:
            raise AudioError(f"no speech detected that matches a correction: nothing in {source} ({duration:.1f} s "
                             f"at {level:.0f} dBFS) sounds like one; {EXAMPLE}")
        if verdict.did_you_mean is None:
            raise AudioError(f"no correction recognised in {source}: heard '{verdict.text}', which is none; {EXAMPLE}")
        raise UnsureError(f"not sure what was said in {source}: did you mean '{verdict.did_you_mean}'? "
                          f"({verdict.votes} of {verdict.possible} hearings agree); say it again, or type it",
                          transcript)

    def _grammar_transcript(self, text: str | None, confidence: float | None, source: str, duration: float,
                            level: float, notes: tuple[str, ...]) -> Transcript:
        if not text:
            raise AudioError(f"no speech detected that matches a correction: nothing in {source} ({duration:.1f} s "
                             f"at {level:.0f} dBFS) fits the grammar; {EXAMPLE}")
        if not self.grammar.accepts(text):
            raise AudioError(f"no correction recognised in {source}: the closest match '{text}' is incomplete; "
                             f"{EXAMPLE}")
        return Transcript(text, confidence, round(duration, 3), notes)

    def transcribe_file(self, path: str | Path, understand: Understanding | None = None) -> Transcript:
        audio = read_wav(path)
        for note in audio.notes:
            log.info("%s: %s", path, note)
        return self.transcribe_samples(audio.samples, str(path), audio.notes, understand)

    def transcribe_stream(self, chunks: Iterable[bytes], sample_rate: int, understand: Understanding | None = None,
                          *, unsure: bool = False) -> Iterator[Transcript]:
        """Continuous 16-bit mono audio (any chunk sizes) -> one Transcript per utterance, cut by
        pocketsphinx's voice-activity endpointer. Utterances that match no correction are logged, skipped;
        so are unsure ones, unless `unsure` (then they come with `did_you_mean` set)."""
        if sample_rate != SAMPLE_RATE:
            raise AudioError(f"stream audio must be {SAMPLE_RATE} Hz (got {sample_rate} Hz): open the input at "
                             f"{SAMPLE_RATE} Hz, or resample it first")
        return self._stream(chunks, understand or understanding(DEFAULT_CONTEXT), unsure)

    def _stream(self, chunks: Iterable[bytes], understand: Understanding, unsure: bool) -> Iterator[Transcript]:
        import pocketsphinx

        decoder = _new_decoder(self._words, self.grammar, self._language_model)
        segmenter = Segmenter(pocketsphinx.Endpointer(sample_rate=SAMPLE_RATE))
        noise_floor, pending, frame_bytes = NoiseFloor(), b"", segmenter.frame_bytes
        for chunk in chunks:
            pending += bytes(chunk)
            while len(pending) >= frame_bytes:
                frame, pending = pending[:frame_bytes], pending[frame_bytes:]
                utterance = segmenter.push(noise_floor(np.frombuffer(frame, "<i2")))
                if utterance and (transcript := self._stream_utterance(decoder, utterance, understand,
                                                                       unsure)) is not None:
                    yield transcript
        utterance = segmenter.finish()  # the stream ended, maybe mid-utterance: decode what there is
        if utterance and (transcript := self._stream_utterance(decoder, utterance, understand, unsure)) is not None:
            yield transcript

    def _stream_utterance(self, decoder, pcm: bytes, understand: Understanding, unsure: bool) -> Transcript | None:
        duration = round(len(pcm) / 2 / SAMPLE_RATE, 3)
        if self._language_model is None:
            text, confidence = self._decode(decoder, pcm)
            if not text or not self.grammar.accepts(text):
                log.info("voice: %.1f s of speech matched no correction (closest: %r)", duration, text)
                return None
            return Transcript(text, confidence, duration)
        # the stream's audio has its noise floor already; the perturbed takes are played from it
        takes = [perturbed(pcm, rate) for rate in PERTURBATIONS]
        hearings = self._may_teach(decoder, takes, self._hearings(decoder, takes), understand)
        verdict = self.decide(hearings, understand)
        if verdict.sure or (unsure and verdict.did_you_mean):
            return Transcript(verdict.text, round(verdict.confidence, 3), duration, (), verdict.source,
                              None if verdict.sure else verdict.did_you_mean)
        log.info("voice: %.1f s of speech gave no sure correction (heard %r; did you mean %r?)", duration,
                 verdict.text, verdict.did_you_mean)
        return None


def _open_recogniser(vocabulary: GrammarVocabulary) -> WhisperTranscriber | None:
    """Whisper prompted with the vocabulary, or None (pocketsphinx alone) with one warning saying why and what it
    costs."""
    try:
        return WhisperTranscriber(prompt_for(vocabulary))
    except AudioError as err:
        _say_pocketsphinx_alone(err)
        return None


def _say_pocketsphinx_alone(reason: AudioError) -> None:
    log.warning("voice: %s; hearing corrections with pocketsphinx alone from now on, which "
                "understands about half as many (docs/BENCHMARKS.md, \"Voice\")", reason)


_RECOGNIZERS: dict[tuple, CorrectionRecognizer] = {}
_RECOGNIZERS_LOCK = threading.Lock()
_MAX_CACHED = 4


def recognizer_for(vocabulary: GrammarVocabulary, *, language_model: bool = True,
                   open_vocabulary: bool = True) -> CorrectionRecognizer:
    """The recogniser for a vocabulary, built once (the models, grammar and language model take ~1-2 s).
    `open_vocabulary=False` is pocketsphinx alone: right less often (docs/BENCHMARKS.md, "Voice")."""
    key = (tuple(vocabulary.phrases), tuple(sorted((k, tuple(v)) for k, v in vocabulary.slots.items())),
           language_model, open_vocabulary and language_model)
    with _RECOGNIZERS_LOCK:
        if key not in _RECOGNIZERS:
            if len(_RECOGNIZERS) >= _MAX_CACHED:  # scenes change rarely; keep the newest few
                _RECOGNIZERS.pop(next(iter(_RECOGNIZERS)))
            _RECOGNIZERS[key] = CorrectionRecognizer(vocabulary, language_model=language_model,
                                                     open_vocabulary=open_vocabulary)
        return _RECOGNIZERS[key]


def transcribe_file(path: str | Path, vocabulary: GrammarVocabulary, understand: Understanding | None = None, *,
                    language_model: bool = True, open_vocabulary: bool = True) -> Transcript:
    """A WAV file holding one spoken correction -> Transcript. Raises AudioError with a clear reason
    (UnsureError, with a best guess, when something like a correction was heard but not surely)."""
    return recognizer_for(vocabulary, language_model=language_model,
                          open_vocabulary=open_vocabulary).transcribe_file(path, understand)


def transcribe_stream(chunks: Iterable[bytes], sample_rate: int, vocabulary: GrammarVocabulary,
                      understand: Understanding | None = None, *, language_model: bool = True,
                      open_vocabulary: bool = True, unsure: bool = False) -> Iterator[Transcript]:
    """16-bit mono PCM chunks -> a Transcript per utterance heard (see CorrectionRecognizer.transcribe_stream)."""
    recognizer = recognizer_for(vocabulary, language_model=language_model, open_vocabulary=open_vocabulary)
    return recognizer.transcribe_stream(chunks, sample_rate, understand, unsure=unsure)


def listen_microphone(vocabulary: GrammarVocabulary, device: int | str | None = None, *,
                      open_vocabulary: bool = True) -> Iterator[Transcript]:
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
    # loaded before the microphone opens, so no speech is lost
    recognizer = recognizer_for(vocabulary, open_vocabulary=open_vocabulary)
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
