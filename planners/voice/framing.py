"""Audio on its way to pocketsphinx: a quiet microphone's noise floor, the same audio played slower or faster,
and a stream cut into utterances where the endpointer hears speech (planners.voice.recogniser uses all three)."""
from __future__ import annotations

from collections import deque

import numpy as np

from planners.voice.audio import SAMPLE_RATE, resample

#: standard deviation of the noise floor, in 16-bit steps (about -58 dBFS). pocketsphinx's noise
#: estimate and feature normalisation break down on stretches of exact digital zero (synthesised speech,
#: padded or edited files); a real microphone never gives those. A seeded noise floor like a quiet
#: microphone's made 28/32 of the espeak fixtures decode exactly instead of 16/32.
NOISE_FLOOR = 40.0
NOISE_SEED = 0
#: audio kept either side of what the endpointer calls speech, and the longest utterance kept
SPEECH_MARGIN_S, MAX_UTTERANCE_S = 0.2, 30.0


def perturbed(pcm: bytes, rate: float) -> bytes:
    """The audio played at `rate` (0.9: 10 % slower and lower), for planners.voice.verdict."""
    if rate == 1.0:
        return pcm
    played = resample(np.frombuffer(pcm, "<i2"), int(round(SAMPLE_RATE * rate)))
    return np.clip(np.round(played), -32768, 32767).astype("<i2").tobytes()


class NoiseFloor:
    """Adds the seeded noise floor; one per stream, so chunk boundaries do not change the result."""

    def __init__(self) -> None:
        self._rng = np.random.default_rng(NOISE_SEED)

    def __call__(self, samples: np.ndarray) -> bytes:
        noisy = samples.astype(np.float64) + self._rng.normal(0.0, NOISE_FLOOR, samples.size)
        return np.clip(np.round(noisy), -32768, 32767).astype("<i2").tobytes()


class Segmenter:
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
        start = self._start if self._start is not None else end
        utterance = b"".join(f for t, f in self._frames if start <= t < end)
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
