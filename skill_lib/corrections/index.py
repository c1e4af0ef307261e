"""FAISS index over the corrections' context texts, derived from the store and never trusted over it.

Files next to the database: `corrections.faiss` (IndexFlatIP of MiniLM vectors, cosine on unit vectors)
and `corrections.index.json` (the store fingerprint it was built from, the row -> record id map, the
model id and the index file's hash). If any of these disagree with the store, the index is rebuilt
from the store. Corrections number in the hundreds or thousands: a flat index is exact and fast.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from pathlib import Path

import faiss
import numpy as np

from skill_lib.corrections.store import CorrectionStore
from skill_lib.embedding import Embedder, default_model_id, get_embedder
from skill_lib.library import _atomic_write

log = logging.getLogger(__name__)

INDEX_FILE = "corrections.faiss"
MANIFEST_FILE = "corrections.index.json"
_FORMAT = 1


class CorrectionIndex:
    def __init__(self, store: CorrectionStore, embedder: Embedder | None = None,
                 index_dir: Path | None = None) -> None:
        self.store = store
        self.index_dir = Path(index_dir) if index_dir is not None else store.path.parent
        self._embedder = embedder
        self._lock = threading.Lock()
        self._index: faiss.Index | None = None
        self._ids: list[int] = []
        self._built_from: dict | None = None
        #: how many times this object rebuilt from the store (tests and logs)
        self.rebuilds = 0

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder()
        return self._embedder

    def _model_id(self) -> str:
        return self._embedder.model_id if self._embedder is not None else default_model_id()

    def ensure_current(self) -> None:
        """Load or rebuild so that the index reflects the store's current content."""
        with self._lock:
            fingerprint = self.store.fingerprint()
            expected = {"format": _FORMAT, "model_id": self._model_id(), **fingerprint}
            if self._index is not None and self._built_from == expected:
                return
            if not self._load(expected):
                self._build(expected)

    def search(self, vector: np.ndarray, k: int | None = None) -> list[tuple[int, float]]:
        """(record id, cosine) pairs, best first; every record when k is None."""
        self.ensure_current()
        with self._lock:
            if self._index is None or self._index.ntotal == 0:
                return []
            n = self._index.ntotal if k is None else min(k, self._index.ntotal)
            scores, rows = self._index.search(np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1), n)
            return [(self._ids[r], float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def __len__(self) -> int:
        self.ensure_current()
        return len(self._ids)

    # ----- disk ---------------------------------------------------------------------------------------
    def _load(self, expected: dict) -> bool:
        index_path, manifest_path = self.index_dir / INDEX_FILE, self.index_dir / MANIFEST_FILE
        if not (index_path.is_file() and manifest_path.is_file()):
            return False
        try:
            saved = json.loads(manifest_path.read_text(encoding="utf-8"))
            if not isinstance(saved, dict) or {k: saved.get(k) for k in expected} != expected:
                return False  # the store changed since (or another database, or another model)
            data = index_path.read_bytes()
            if hashlib.sha256(data).hexdigest() != saved.get("index_sha256"):
                log.warning("correction index %s does not match its manifest; rebuilding", index_path)
                return False
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
            ids = [int(i) for i in saved["ids"]]
            # the fingerprint matched, but the ids are checked against the store anyway: the DB rules
            if index.ntotal != len(ids) or ids != self.store.ids():
                return False
        except (OSError, ValueError, RuntimeError, KeyError, TypeError) as err:
            log.warning("cannot read correction index in %s (%s); rebuilding", self.index_dir, err)
            return False
        self._index, self._ids, self._built_from = index, ids, expected
        return True

    def _build(self, expected: dict) -> None:
        records = self.store.all()
        index = faiss.IndexFlatIP(self.embedder.dim)
        if records:  # an empty store still needs the dimension, hence the model, but no encoding
            index.add(self.embedder.encode([r.context_text() for r in records]))
        ids = [int(r.id) for r in records]
        # the store may have changed while we embedded: record what we actually built from
        if [r.id for r in records] != self.store.ids():
            expected = {**expected, "generation": -1}  # forces a rebuild on the next call
        self._index, self._ids, self._built_from = index, ids, expected
        self.rebuilds += 1
        data = faiss.serialize_index(index).tobytes()
        manifest = {**expected, "ids": ids, "index_sha256": hashlib.sha256(data).hexdigest()}
        try:
            # index first, manifest last: a crash between them leaves a hash mismatch -> rebuild
            _atomic_write(self.index_dir / INDEX_FILE, data)
            _atomic_write(self.index_dir / MANIFEST_FILE, (json.dumps(manifest) + "\n").encode("utf-8"))
        except OSError as err:  # a read-only data dir costs a rebuild next time, not a failure now
            log.warning("cannot save correction index to %s: %s", self.index_dir, err)
