"""Reading audio for the recogniser: WAV files checked and converted to 16 kHz mono 16-bit samples.

What can be wrong with a file (missing, empty, not a WAV, not 16-bit PCM, too many channels, absurd rate,
corrupt, too long) is an AudioError whose one-line message says what and how to fix it; other rates are
resampled and stereo is downmixed, and the returned notes say so.
"""
from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: what pocketsphinx's en-US acoustic model was trained on
SAMPLE_RATE = 16_000
#: below 8 kHz speech loses the consonants; above 192 kHz the header is more likely corrupt than real
MIN_RATE, MAX_RATE = 8_000, 192_000
#: one correction is a sentence; longer recordings belong to transcribe_stream
MAX_FILE_SECONDS = 60.0
CONVERT = "convert it with: sox IN.wav -r 16000 -c 1 -b 16 -e signed-integer OUT.wav"


class AudioError(ValueError):
    """The audio cannot give a correction: missing, unreadable, wrong format, silent, no microphone."""


def rms_dbfs(samples: np.ndarray) -> float:
    """Root-mean-square level relative to 16-bit full scale (-inf for digital silence)."""
    if samples.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(samples.astype(np.float64)))))
    return 20 * np.log10(rms / 32768) if rms > 0 else float("-inf")


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    """Resample by linear interpolation, after a windowed-sinc low-pass when downsampling so that what is
    above the new Nyquist frequency does not fold back as noise (numpy only; 127 taps leave a little
    aliasing in the top 2 % of the band, above the 6.8 kHz the acoustic model looks at)."""
    if rate == target or samples.size == 0:
        return samples.astype(np.float64)
    signal = samples.astype(np.float64)
    if rate > target:
        cutoff = 0.45 * target / rate  # in cycles per input sample
        taps = np.arange(-63, 64)
        kernel = 2 * cutoff * np.sinc(2 * cutoff * taps) * np.blackman(taps.size)
        signal = np.convolve(signal, kernel / kernel.sum(), mode="same")
    count = int(round(samples.size * target / rate))
    return np.interp(np.arange(count) / target, np.arange(samples.size) / rate, signal)


@dataclass(frozen=True)
class WavAudio:
    #: 16 kHz mono int16 samples
    samples: np.ndarray
    #: what was done to the file's audio on the way (resampled, downmixed, truncated file)
    notes: tuple[str, ...]


def _open_wav(path: Path) -> wave.Wave_read:
    try:
        with path.open("rb") as handle:
            head = handle.read(12)
    except FileNotFoundError:
        raise AudioError(f"no such audio file: {path}") from None
    except IsADirectoryError:
        raise AudioError(f"{path} is a directory, not an audio file") from None
    except OSError as err:
        raise AudioError(f"cannot read {path}: {err.strerror or err}") from None
    if not head:
        raise AudioError(f"{path} is empty (0 bytes): no audio to transcribe")
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise AudioError(f"{path} is not a WAV file (no RIFF/WAVE header; it starts with {head[:8]!r}); {CONVERT}")
    try:
        return wave.open(str(path), "rb")
    except wave.Error as err:
        if "unknown format" in str(err):  # WAVE_FORMAT 3 is float, 6/7 A-law/mu-law, 65534 extensible
            raise AudioError(f"{path} is not PCM audio ({err}); {CONVERT}") from None
        raise AudioError(f"{path} is a corrupt WAV file ({err})") from None
    except (EOFError, ValueError) as err:  # a header cut short
        raise AudioError(f"{path} is a truncated or corrupt WAV file ({err or 'ends inside the header'})") from None


def read_wav(path: str | Path) -> WavAudio:
    """A PCM 16-bit WAV file -> 16 kHz mono samples, with notes on what was changed. AudioError otherwise."""
    path = Path(path)
    with _open_wav(path) as wav:
        rate, channels, width, frames = wav.getframerate(), wav.getnchannels(), wav.getsampwidth(), wav.getnframes()
        if width != 2:
            raise AudioError(f"{path} is {8 * width}-bit audio; 16-bit PCM is needed; {CONVERT}")
        if channels not in (1, 2):
            raise AudioError(f"{path} has {channels} channels; mono or stereo is needed; {CONVERT}")
        if not MIN_RATE <= rate <= MAX_RATE:
            raise AudioError(f"{path} is sampled at {rate} Hz: outside {MIN_RATE}-{MAX_RATE} Hz, not usable for "
                             f"speech ({SAMPLE_RATE} Hz expected); {CONVERT}")
        limit = int(MAX_FILE_SECONDS * rate)
        try:
            data = wav.readframes(min(frames, limit + 1))
        except (wave.Error, EOFError, OSError) as err:
            raise AudioError(f"{path} is a corrupt WAV file ({err})") from None
    usable = len(data) - len(data) % (2 * channels)
    samples = np.frombuffer(data[:usable], "<i2").reshape(-1, channels)
    if samples.shape[0] == 0:
        raise AudioError(f"{path} holds no audio samples (empty data chunk)")
    if samples.shape[0] > limit:
        raise AudioError(f"{path} is longer than {MAX_FILE_SECONDS:g} s; one correction is a sentence "
                         "(use transcribe_stream for long recordings)")
    notes = []
    if samples.shape[0] < frames:
        notes.append(f"the file is truncated: its header announces {frames / rate:.2f} s, it holds "
                     f"{samples.shape[0] / rate:.2f} s")
    mono = samples.mean(axis=1) if channels == 2 else samples[:, 0]
    if channels == 2:
        notes.append("stereo downmixed to mono")
    if rate != SAMPLE_RATE:
        mono = resample(mono, rate)
        notes.append(f"resampled from {rate} Hz to {SAMPLE_RATE} Hz"
                     + (" (telephone-band audio: expect lower accuracy)" if rate < SAMPLE_RATE else ""))
    return WavAudio(np.clip(np.round(mono), -32768, 32767).astype(np.int16), tuple(notes))
