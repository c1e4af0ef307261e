"""FAISS index over the corrections' context texts, derived from the store and never trusted over it.

Files next to the database: `corrections.faiss` (an IndexIDMap2 over IndexFlatIP: MiniLM unit vectors
keyed by record id, so inner product is cosine) and `corrections.index.json` (the store fingerprint it
was last synced with, its record ids, the model id and the index file's hash). When the store changes,
only the difference is applied: new records are embedded and added, deleted ones removed (embedding
every record again would cost minutes at 100k); the files are then saved in the background. A torn,
foreign, stale or mismatched file is caught up or rebuilt from the store. Searches can be limited to
given record ids (the retrieval gates' pre-filter).
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import faiss
import numpy as np

from hardware.resources import atomic_write
from planners.corrections.memory.store import CorrectionStore
from skill_lib.embedding import Embedder, default_model_id, get_embedder

log = logging.getLogger(__name__)

INDEX_FILE = "corrections.faiss"
MANIFEST_FILE = "corrections.index.json"
_FORMAT = 2  # 2: vectors keyed by record id (IndexIDMap2)


class CorrectionIndex:
    def __init__(self, store: CorrectionStore, embedder: Embedder | None = None,
                 index_dir: Path | None = None) -> None:
        self.store = store
        self.index_dir = Path(index_dir) if index_dir is not None else store.path.parent
        self._embedder = embedder
        self._lock = threading.Lock()
        self._index: faiss.IndexIDMap2 | None = None
        self._ids: list[int] = []
        self._synced_with: dict | None = None
        self._saver: threading.Thread | None = None
        #: full builds from the store, and records embedded in all (tests and logs)
        self.rebuilds = 0
        self.encoded = 0

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder()
        return self._embedder

    def _model_id(self) -> str:
        return self._embedder.model_id if self._embedder is not None else default_model_id()

    def ensure_current(self) -> None:
        """Load, update or rebuild so that the index reflects the store's current content."""
        with self._lock:
            expected = {"format": _FORMAT, "model_id": self._model_id(), **self.store.fingerprint()}
            if self._index is not None and self._synced_with == expected:
                return
            if self._index is None and not self._load(expected):
                self._index, self._ids = faiss.IndexIDMap2(faiss.IndexFlatIP(self.embedder.dim)), []
                self.rebuilds += 1
            if self._synced_with != expected:
                self._sync(expected)

    def search(self, vector: np.ndarray, k: int | None = None,
               among: Sequence[int] | np.ndarray | None = None) -> list[tuple[int, float]]:
        """(record id, cosine) pairs, best first: the k best (every record when k is None), only among
        the given record ids when `among` is given."""
        self.ensure_current()
        with self._lock:
            if self._index is None or self._index.ntotal == 0:
                return []
            params = None
            if among is not None:
                among = np.asarray(among, dtype=np.int64)
                if among.size == 0:
                    return []
                params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(among))
            limit = self._index.ntotal if among is None else min(self._index.ntotal, len(among))
            n = limit if k is None else min(k, limit)
            query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
            scores, ids = self._index.search(query, n, params=params)
            return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def __len__(self) -> int:
        self.ensure_current()
        return len(self._ids)

    # ----- disk ---------------------------------------------------------------------------------------
    def _load(self, expected: dict) -> bool:
        """The saved index, if it belongs to this database and model and its file is intact; it may be
        behind the store (the sync after this catches it up)."""
        index_path, manifest_path = self.index_dir / INDEX_FILE, self.index_dir / MANIFEST_FILE
        if not (index_path.is_file() and manifest_path.is_file()):
            return False
        same_source = ("format", "model_id", "db_uid")
        try:
            saved = json.loads(manifest_path.read_text(encoding="utf-8"))
            if not isinstance(saved, dict) or any(saved.get(k) != expected[k] for k in same_source):
                return False  # another database, another model or an old format
            data = index_path.read_bytes()
            if hashlib.sha256(data).hexdigest() != saved.get("index_sha256"):
                log.warning("correction index %s does not match its manifest; rebuilding", index_path)
                return False
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
            ids = [int(i) for i in saved["ids"]]
            if not isinstance(index, faiss.IndexIDMap2) or index.ntotal != len(ids) or \
                    sorted(faiss.vector_to_array(index.id_map).tolist()) != ids:
                return False
        except (OSError, ValueError, RuntimeError, KeyError, TypeError) as err:
            log.warning("cannot read correction index in %s (%s); rebuilding", self.index_dir, err)
            return False
        self._index, self._ids = index, ids
        self._synced_with = {k: saved.get(k) for k in expected}
        return True

    def _sync(self, expected: dict) -> None:
        """Apply the store's additions and deletions since the last sync, then save."""
        assert self._index is not None
        store_ids = self.store.ids()
        current = set(store_ids)
        removed = [i for i in self._ids if i not in current]
        if removed:
            self._index.remove_ids(np.asarray(removed, dtype=np.int64))
        have = set(self._ids)
        records = self.store.get_many([i for i in store_ids if i not in have])
        if records:
            self._index.add_with_ids(self.embedder.encode([r.context_text() for r in records]),
                                     np.asarray([r.id for r in records], dtype=np.int64))
            self.encoded += len(records)
        self._ids = sorted((have - set(removed)) | {int(r.id) for r in records})
        if self._ids != self.store.ids():  # changed while we embedded: sync again on the next call
            expected = {**expected, "generation": -1}
        self._synced_with = expected
        # Saving is slow at scale (150 MB to hash and write at 100k records) and only spares the next
        # process some embedding: it runs in the background on a copy, in order, never blocking a skill.
        self._save_in_background(faiss.clone_index(self._index), {**expected, "ids": list(self._ids)})

    def _save_in_background(self, index: faiss.Index, manifest: dict) -> None:
        previous = self._saver

        def save() -> None:
            if previous is not None:
                previous.join()  # saves land in the order of the syncs
            data = faiss.serialize_index(index).tobytes()
            try:
                # index first, manifest last: a crash between them leaves a hash mismatch -> rebuild
                atomic_write(self.index_dir / INDEX_FILE, data)
                atomic_write(self.index_dir / MANIFEST_FILE, (json.dumps(
                    {**manifest, "index_sha256": hashlib.sha256(data).hexdigest()}) + "\n").encode("utf-8"))
            except OSError as err:  # a read-only data dir costs a rebuild next time, not a failure now
                log.warning("cannot save correction index to %s: %s", self.index_dir, err)

        self._saver = threading.Thread(target=save, name="correction-index-save", daemon=True)
        self._saver.start()

    def flush(self) -> None:
        """Wait until the index files on disk match the last sync."""
        if self._saver is not None:
            self._saver.join()
