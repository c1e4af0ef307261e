"""The open-vocabulary recogniser: Moonshine base (English), whose weights ship inside the `moonshine-cpp`
package (MIT; nothing is downloaded: the model is loaded from the package's own folder, never by language
name, which is the path that fetches other languages).

It hears any English words, so it hears phrasings no template or n-gram has; it also mishears freely
("hover" as "hummer"), so its transcript is never taken alone: planners.voice.agreement takes it only when
the vocabulary-constrained pocketsphinx decodes agree (see there).
"""
from __future__ import annotations

import ctypes
import threading
from pathlib import Path

import numpy as np

from planners.voice.audio import AudioError

#: what the model was built for: `base` (61 M parameters; `tiny` is not in the package)
MODEL_TYPE_BASE = 1
#: what is said when the package is missing (planners.voice.moonshine_worker says it before starting a worker)
MISSING_PACKAGE = ("open-vocabulary speech recognition needs moonshine-cpp (x86-64 Linux only): "
                   "pip install 'moonshine-cpp==0.1.4'")

__all__ = ["MoonshineTranscriber", "available"]


def available() -> bool:
    """Whether moonshine-cpp is installed and loads (the wheel used here is for x86-64 Linux)."""
    try:
        from moonshine_cpp import moonshine_cpp  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


class MoonshineTranscriber:
    """One loaded model (~0.7 s to load); calls are serialised (one model handle)."""

    def __init__(self) -> None:
        try:
            from moonshine_cpp import moonshine_cpp as package  # loads the package's own onnxruntime first
        except ImportError as err:
            raise AudioError(f"{MISSING_PACKAGE} ({err})") from None
        except OSError as err:  # the package is there but its shared libraries do not load
            raise AudioError(f"moonshine-cpp is installed but its libraries do not load: {err}") from None
        folder = Path(package.__file__).parent / "models" / "base-en"
        paths = [folder / name for name in ("encoder_model.ort", "decoder_model_merged.ort", "tokenizer.bin")]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise AudioError(f"moonshine-cpp has no English model: missing {', '.join(missing)}; reinstall it")
        # a library handle of our own: the package's `transcribe` wrapper does not run (it names a ctypes type
        # that does not exist), so the C entry points are declared here
        self._lib = ctypes.CDLL(package.moonshine_library_path)
        self._lib.moonshine_load_model.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int32)
        self._lib.moonshine_load_model.restype = ctypes.c_int
        self._lib.moonshine_transcribe.argtypes = (ctypes.c_int, ctypes.POINTER(ctypes.c_float), ctypes.c_size_t,
                                                   ctypes.POINTER(ctypes.c_char_p))
        self._lib.moonshine_transcribe.restype = ctypes.c_int
        self._lib.moonshine_free_text.argtypes = (ctypes.c_char_p,)
        self._lib.moonshine_free_text.restype = None
        self._lib.moonshine_free_model.argtypes = (ctypes.c_int,)
        self._lib.moonshine_free_model.restype = None
        self._handle = self._lib.moonshine_load_model(*(str(p).encode() for p in paths), MODEL_TYPE_BASE)
        if self._handle < 0:
            raise AudioError(f"moonshine-cpp could not load its English model from {folder}")
        self._lock = threading.Lock()

    def transcribe(self, samples: np.ndarray) -> str:
        """16 kHz mono int16 samples of one utterance -> the words heard, lower case, punctuation as spaces
        ("" for none). The C call releases the GIL, so it can run beside a pocketsphinx decode."""
        audio = np.ascontiguousarray(samples, dtype=np.float32) / np.float32(32768.0)
        text = ctypes.c_char_p(0)
        with self._lock:
            error = self._lib.moonshine_transcribe(self._handle, audio.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                                   audio.size, ctypes.byref(text))
            if error != 0:
                raise AudioError(f"moonshine-cpp failed to transcribe the audio (error {error})")
            words = (text.value or b"").decode("utf-8", errors="replace")
            self._lib.moonshine_free_text(text)
        return words

    def __del__(self) -> None:
        if getattr(self, "_handle", -1) >= 0:
            self._lib.moonshine_free_model(self._handle)
            self._handle = -1
