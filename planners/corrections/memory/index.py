"""FAISS index over the corrections' context texts, derived from the store and never trusted over it.

Vectors (MiniLM, unit length: inner product is cosine) are kept in partitions, one per key the caller gives a
record (retrieval partitions by the gates' necessary conditions: kind, skill, object category), plus one over
every record for unfiltered searches. A query searches only the partitions that can match, so it scales with
those, not with the store. A partition is an exact scan while small and an HNSW graph from HNSW_FROM vectors
on (recall@10 >= 0.95 against exact search at 1M records, bench/retrieval.py); HNSW cannot delete, so its
deleted ids are masked until they are a tenth of it, then it is rebuilt.

The index follows the store's change feed (CorrectionStore.changes_since): it keeps the cursor of the last
change it applied and, when the store's fingerprint moves, reads only the changes after it (new records
embedded and added, deleted ones removed), so catching up costs what changed, not the store's size. The feed
holds committed changes only, so a writer killed mid-transaction leaves nothing for the index to take, and
the index never holds what the store does not. `apply` takes a write the caller has just made without
reading the store at all (the feed brings it again later: applying a change twice changes nothing). On disk,
next to the database: `corrections.faiss` (a snapshot of the partitions), `corrections.log` (what changed
since, appended per sync: cheap at any size) and `corrections.index.json` (store fingerprint, feed cursor,
model id, hashes). A torn, foreign or mismatched file, or one ahead of the store (a database restored from an
older copy), is rebuilt from the store; one behind it is caught up from the feed.
"""
from __future__ import annotations

import hashlib
import heapq
import json
import logging
import struct
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import faiss
import numpy as np

from hardware.resources import atomic_write
from planners.corrections.memory.record import CorrectionRecord
from planners.corrections.memory.store import CorrectionStore
from skill_lib.embedding import Embedder, default_model_id, get_embedder

log = logging.getLogger(__name__)

INDEX_FILE = "corrections.faiss"
LOG_FILE = "corrections.log"
MANIFEST_FILE = "corrections.index.json"
_FORMAT = 4  # 3: partitions, snapshot + change log; 4: the store's feed cursor
#: a partition becomes an HNSW graph at this size (docs/BENCHMARKS.md: an exact scan of 10k MiniLM vectors
#: takes ~0.8 ms, an HNSW search of them ~0.2 ms; the graph pays off from a few thousand)
HNSW_FROM = 4096
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 40, 96
#: the partition of every record, searched when no partitions are named
ALL: tuple[str, ...] = ("*",)
PartitionKey = tuple[str, ...]
#: changes read, embedded and added at a time by a sync
SYNC_CHUNK = 50_000
#: the log is folded into a new snapshot once it is longer than the snapshot and than this
SNAPSHOT_FROM = 64 << 20


def _link(previous: str, block: bytes) -> str:
    """The log's hash after appending `block`: a chain, so an append needs no re-read of the log."""
    return hashlib.sha256(bytes.fromhex(previous) + hashlib.sha256(block).digest()).hexdigest()


def _blocks(changes: bytes) -> Iterable[bytes]:
    offset = 0
    while offset < len(changes):
        header_bytes, vector_bytes = struct.unpack_from("<QQ", changes, offset)
        end = offset + 16 + header_bytes + vector_bytes
        yield changes[offset:end]
        offset = end


def _chain(changes: bytes) -> str:
    digest = hashlib.sha256(b"").hexdigest()
    for block in _blocks(changes):
        digest = _link(digest, block)
    return digest


def _ahead(synced: dict | None, store: dict) -> bool:
    """An index synced with a later write of the same database than the store holds now (the file was
    restored from an older copy): it holds what the store does not, and its cursor would skip changes."""
    return synced is not None and synced.get("db_uid") == store["db_uid"] and \
        int(synced.get("generation", 0)) > int(store["generation"])


class _Partition:
    """Vectors keyed by record id: exact (IndexFlatIP) while small, HNSW from HNSW_FROM on."""

    def __init__(self, dim: int, index: faiss.Index | None = None) -> None:
        index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        if not isinstance(index, faiss.IndexIDMap2):
            raise ValueError(f"a correction index partition is an IndexIDMap2, not {type(index).__name__}")
        self.index: faiss.IndexIDMap2 = index
        self.deleted: set[int] = set()  # masked ids of an HNSW partition (it cannot remove)

    @property
    def hnsw(self) -> bool:
        return isinstance(faiss.downcast_index(self.index.index), faiss.IndexHNSWFlat)

    def __len__(self) -> int:
        return int(self.index.ntotal) - len(self.deleted)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if self.deleted:
            self.deleted -= set(ids.tolist())  # an id is never reused: only a replay adds one again
        self.index.add_with_ids(vectors, ids)
        if not self.hnsw and self.index.ntotal >= HNSW_FROM:
            self._rebuild(hnsw=True)

    def remove(self, ids: Iterable[int]) -> None:
        if not self.hnsw:
            self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(list(ids), dtype=np.int64)))
            return
        self.deleted.update(ids)
        if len(self.deleted) * 10 > self.index.ntotal:
            self._rebuild(hnsw=len(self) >= HNSW_FROM // 2)

    def _rebuild(self, hnsw: bool) -> None:
        ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
        vectors = self.index.index.reconstruct_n(0, self.index.ntotal)
        keep = ~np.isin(ids, np.fromiter(self.deleted, dtype=np.int64, count=len(self.deleted)))
        dim = vectors.shape[1]
        if hnsw:
            graph = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            graph.hnsw.efConstruction, graph.hnsw.efSearch = HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH
            self.index = faiss.IndexIDMap2(graph)
        else:
            self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.deleted = set()
        self.index.add_with_ids(np.ascontiguousarray(vectors[keep]), ids[keep])

    def search(self, query: np.ndarray, k: int, ef_search: int | None = None) -> list[tuple[float, int]]:
        n = min(k + len(self.deleted), int(self.index.ntotal))
        if n <= 0:
            return []
        params = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]
            efSearch=max(ef_search, n)) if ef_search and self.hnsw else None
        scores, ids = self.index.search(query, n, params=params)
        return [(float(s), int(i)) for s, i in zip(scores[0], ids[0])
                if i >= 0 and int(i) not in self.deleted][:k]


class CorrectionIndex:
    def __init__(self, store: CorrectionStore, embedder: Embedder | None = None,
                 index_dir: Path | None = None,
                 partition: Callable[[CorrectionRecord], PartitionKey] | None = None) -> None:
        self.store = store
        self.index_dir = Path(index_dir) if index_dir is not None else store.path.parent
        self._embedder = embedder
        self._partition_of = partition or (lambda record: ALL)
        # part of the manifest: files partitioned another way are rebuilt
        self._partitioning = f"{partition.__module__}.{partition.__qualname__}" if partition else "none"
        self._lock = threading.Lock()
        self._parts: dict[PartitionKey, _Partition] | None = None
        self._where: dict[int, PartitionKey] = {}  # record id -> its partition (besides ALL)
        self._synced_with: dict | None = None
        self._cursor = 0  # the last change of the store's feed applied
        self._saver: threading.Thread | None = None
        self._pending: list[bytes] = []  # log blocks not yet appended
        self._disk: dict = {}  # what the files hold: snapshot and log sizes and hashes
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

    def _expected(self, fingerprint: dict) -> dict:
        return {"format": _FORMAT, "model_id": self._model_id(), "partitioning": self._partitioning, **fingerprint}

    def ensure_current(self) -> None:
        """Load, update or rebuild so that the index reflects the store's current content."""
        with self._lock:
            expected = self._expected(self.store.fingerprint())
            if self._parts is not None and self._synced_with == expected:
                return
            if (self._parts is None and not self._load(expected)) or _ahead(self._synced_with, expected):
                if self._parts is not None:
                    log.warning("correction index in %s is ahead of its database; rebuilding", self.index_dir)
                self._parts, self._where, self._disk, self._cursor = {}, {}, {}, 0
                self.rebuilds += 1
            if self._synced_with != expected:
                self._sync(expected)

    def apply(self, before: dict, after: dict, added: Sequence[CorrectionRecord], removed: Iterable[int]) -> bool:
        """Take one write the caller made (store fingerprint before and after it) without reading the store;
        False (nothing done: the next search reads it from the change feed) unless the index was current
        before it and the write was the only one since."""
        with self._lock:
            if self._parts is None or self._synced_with != self._expected(before) or \
                    after.get("db_uid") != before.get("db_uid") or \
                    int(after["generation"]) != int(before["generation"]) + 1:
                return False
            self._change([r for r in added if r.id is not None and r.id not in self._where], list(removed))
            self._synced_with = self._expected(after)
            self._save_in_background()
            return True

    def search(self, vector: np.ndarray, k: int, partitions: Iterable[PartitionKey] | None = None, *,
               ef_search: int | None = None, sync: bool = True) -> list[tuple[int, float]]:
        """(record id, cosine) pairs, best first: the k best among the given partitions (every record when
        None). `ef_search`: the HNSW beam, when a rough answer is enough; `sync=False`: the caller has just
        called ensure_current()."""
        if sync:
            self.ensure_current()
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        with self._lock:
            assert self._parts is not None
            keys = [ALL] if partitions is None else [p for p in partitions if p != ALL]
            found = [hit for key in keys if (part := self._parts.get(key)) is not None
                     for hit in part.search(query, k, ef_search)]
        return [(i, s) for s, i in heapq.nlargest(k, found)]

    def partitions(self, *, sync: bool = True) -> list[PartitionKey]:
        """The partition keys that hold records (ALL excepted)."""
        if sync:
            self.ensure_current()
        with self._lock:
            assert self._parts is not None
            return [key for key, part in self._parts.items() if key != ALL and len(part)]

    def __len__(self) -> int:
        return self.count()

    def __contains__(self, record_id: object) -> bool:
        """The index holds this record (as of its last sync: no store read)."""
        return record_id in self._where

    def count(self, *, sync: bool = True) -> int:
        if sync:
            self.ensure_current()
        return len(self._where)

    # ----- changes --------------------------------------------------------------------------------------
    def _sync(self, expected: dict) -> None:
        """Apply the store's changes after the cursor (`expected` was read before them: a write that lands
        meanwhile is either in the feed already or moves the fingerprint again), then save."""
        while True:  # in chunks: bounded memory when a whole store arrives
            changes, cursor = self.store.changes_since(self._cursor, SYNC_CHUNK)
            now = {c.record_id: c.record for c in changes}
            # a live id keeps its content (the stores give a changed record a new id): a switch needs nothing
            self._change([r for i, r in now.items() if r is not None and i not in self._where],
                         [i for i, r in now.items() if r is None and i in self._where])
            self._cursor = cursor
            if len(changes) < SYNC_CHUNK:
                break
        self._synced_with = expected
        self._save_in_background()

    def _change(self, added: Sequence[CorrectionRecord], removed: Sequence[int]) -> None:
        assert self._parts is not None
        if not added and not removed:
            return
        vectors = self.embedder.encode([r.context_text() for r in added]) if added else \
            np.zeros((0, self.embedder.dim), dtype=np.float32)
        self.encoded += len(added)
        keys = [self._partition_of(r) for r in added]
        ids = [int(r.id) for r in added if r.id is not None]
        self._apply_change(ids, keys, vectors, [int(i) for i in removed if int(i) in self._where])
        header = json.dumps({"add": [[i, list(k)] for i, k in zip(ids, keys)], "remove": list(removed)})
        if ids or removed:
            data = header.encode("utf-8")
            self._pending.append(struct.pack("<QQ", len(data), vectors.nbytes) + data + vectors.tobytes())

    def _apply_change(self, ids: list[int], keys: list[PartitionKey], vectors: np.ndarray,
                      removed: list[int]) -> None:
        assert self._parts is not None
        dim = vectors.shape[1] if len(vectors) else self.embedder.dim
        by_key: dict[PartitionKey, list[int]] = {}
        for row, key in enumerate(keys):
            by_key.setdefault(key, []).append(row)
        for key, rows in by_key.items():
            if key == ALL:
                continue
            self._parts.setdefault(key, _Partition(dim)).add(np.asarray([ids[r] for r in rows], dtype=np.int64),
                                                            np.ascontiguousarray(vectors[rows]))
        if ids:
            self._parts.setdefault(ALL, _Partition(dim)).add(np.asarray(ids, dtype=np.int64),
                                                            np.ascontiguousarray(vectors))
        self._where.update(zip(ids, keys))
        gone: dict[PartitionKey, list[int]] = {}
        for i in removed:
            gone.setdefault(self._where.pop(i), []).append(i)
        for key, key_ids in gone.items():
            if key != ALL:
                self._parts[key].remove(key_ids)
        if removed:
            self._parts[ALL].remove(removed)

    # ----- disk -------------------------------------------------------------------------------------------
    def _load(self, expected: dict) -> bool:
        """The saved partitions and log, if they belong to this database and model and the files are intact;
        they may be behind the store (the sync after this catches them up)."""
        paths = [self.index_dir / name for name in (INDEX_FILE, LOG_FILE, MANIFEST_FILE)]
        if not all(p.is_file() for p in paths):
            return False
        try:
            saved = json.loads(paths[2].read_text(encoding="utf-8"))
            if not isinstance(saved, dict) or any(saved.get(k) != expected[k] for k in ("format", "model_id", "partitioning", "db_uid")):
                return False  # another database, another model or an old format
            snapshot = paths[0].read_bytes()[:saved["snapshot_bytes"]]
            changes = paths[1].read_bytes()[:saved["log_bytes"]]
            if hashlib.sha256(snapshot).hexdigest() != saved["snapshot_sha256"] or \
                    _chain(changes) != saved["log_sha256"]:
                log.warning("correction index in %s does not match its manifest; rebuilding", self.index_dir)
                return False
            self._parts, self._where = {}, {}
            offset = 0
            for entry in saved["partitions"]:
                data = np.frombuffer(snapshot[offset:offset + entry["bytes"]], dtype=np.uint8)
                part = _Partition(0, faiss.deserialize_index(data))
                part.deleted = set(entry["deleted"])
                self._parts[tuple(entry["key"])] = part
                offset += entry["bytes"]
            for key, part in sorted(self._parts.items(), key=lambda item: item[0] != ALL):  # ALL first
                ids = faiss.vector_to_array(part.index.id_map).tolist()
                self._where.update((int(i), key) for i in ids if i not in part.deleted)
            self._replay(changes)
        except (OSError, ValueError, RuntimeError, KeyError, TypeError, struct.error) as err:
            log.warning("cannot read correction index in %s (%s); rebuilding", self.index_dir, err)
            self._parts, self._where = None, {}
            return False
        self._disk = {k: saved[k] for k in ("snapshot_bytes", "snapshot_sha256", "log_bytes", "log_sha256",
                                             "partitions")}
        self._synced_with = {k: saved.get(k) for k in expected}
        self._cursor = int(saved["cursor"])
        return True

    def _replay(self, changes: bytes) -> None:
        for block in _blocks(changes):
            header_bytes, vector_bytes = struct.unpack_from("<QQ", block)
            header = json.loads(block[16:16 + header_bytes])
            vectors = np.frombuffer(block[16 + header_bytes:], dtype=np.float32)
            ids = [int(i) for i, _ in header["add"]]
            self._apply_change(ids, [tuple(k) for _, k in header["add"]],
                               vectors.reshape(len(ids), -1) if ids else vectors.reshape(0, 1),
                               [int(i) for i in header["remove"] if int(i) in self._where])

    def _save_in_background(self) -> None:
        """Append the pending changes to the log (cheap: no copy of the index) and rewrite the manifest; in
        order, never blocking a skill. The snapshot is rewritten by flush() and close()."""
        blocks, self._pending = self._pending, []
        manifest = self._manifest()
        previous = self._saver

        def save() -> None:
            if previous is not None:
                previous.join()  # saves land in the order of the syncs
            try:
                if not self._disk:  # nothing on disk yet that the log could follow: an empty snapshot
                    self._write_snapshot({})
                with open(self.index_dir / LOG_FILE, "r+b") as f:
                    f.truncate(self._disk["log_bytes"])  # a torn append from an earlier crash goes
                    f.seek(self._disk["log_bytes"])
                    for block in blocks:
                        f.write(block)
                        self._disk["log_bytes"] += len(block)
                        self._disk["log_sha256"] = _link(self._disk["log_sha256"], block)
                self._write_manifest(manifest)
                if self._disk["log_bytes"] > max(self._disk["snapshot_bytes"], SNAPSHOT_FROM):
                    # replaying a long log costs its HNSW inserts at load: write the graphs instead (the index
                    # is held meanwhile: rare, the log must have outgrown the snapshot)
                    with self._lock:
                        if self._parts is not None and self._synced_with is not None:
                            self._write_snapshot(self._parts)
                            self._write_manifest(self._manifest())
            except OSError as err:  # a read-only data dir costs a rebuild next time, not a failure now
                log.warning("cannot save correction index to %s: %s", self.index_dir, err)

        self._saver = threading.Thread(target=save, name="correction-index-save", daemon=True)
        self._saver.start()

    def _write_snapshot(self, parts: dict[PartitionKey, _Partition]) -> None:
        blobs = [(key, part, faiss.serialize_index(part.index).tobytes()) for key, part in parts.items()]
        snapshot = b"".join(blob for _, _, blob in blobs)
        # snapshot, then an empty log, manifest last: a crash between them leaves a hash mismatch -> rebuild
        atomic_write(self.index_dir / INDEX_FILE, snapshot)
        atomic_write(self.index_dir / LOG_FILE, b"")
        self._disk = {"snapshot_bytes": len(snapshot), "snapshot_sha256": hashlib.sha256(snapshot).hexdigest(),
                      "log_bytes": 0, "log_sha256": hashlib.sha256(b"").hexdigest(),
                      "partitions": [{"key": list(key), "bytes": len(blob), "deleted": sorted(part.deleted)}
                                     for key, part, blob in blobs]}

    def _manifest(self) -> dict:
        """What the files hold as of now (called under the lock, with the log blocks of the same moment)."""
        return {**(self._synced_with or {}), "cursor": self._cursor}

    def _write_manifest(self, synced: dict) -> None:
        atomic_write(self.index_dir / MANIFEST_FILE, (json.dumps({**synced, **self._disk}) + "\n").encode("utf-8"))

    def flush(self) -> None:
        """Write a snapshot of the index as it is (the log starts again empty) and wait until the files on
        disk match the last sync."""
        if self._saver is not None:
            self._saver.join()
        with self._lock:
            if self._parts is None or self._synced_with is None or self._disk.get("log_bytes", 1) == 0:
                return  # nothing in memory, or the snapshot on disk is the index as it is
            try:
                self._write_snapshot(self._parts)
                self._write_manifest(self._manifest())
            except OSError as err:
                log.warning("cannot save correction index to %s: %s", self.index_dir, err)
