"""The correction index's partitions, HNSW graphs, change log and write-through path (real FAISS, real
SQLite). Index mechanics use FakeEmbedder (random unit vectors per text) to isolate them from MiniLM; the
write-through test uses the real model."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from planners.corrections.memory import CorrectionMemory, CorrectionRecord, CorrectionStore, ObjectContext, \
    RetrievalQuery
from planners.corrections.memory import index as index_module
from planners.corrections.memory.index import ALL, LOG_FILE, CorrectionIndex
from planners.corrections.memory.retrieval import gate_partition
from skill_lib.embedding import get_embedder

CATEGORIES = ["cube", "mug", "ball"]


class FakeEmbedder:
    """A deterministic random unit vector per text (no model): isolates the index from MiniLM."""

    model_id, dim = "fake-random-vectors", 32

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = [np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:12], 16)).normal(size=self.dim)
                for t in texts]
        vecs = np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)


def record(i: int, skill: str = "pick", category: str = "cube") -> CorrectionRecord:
    return CorrectionRecord(text=f"grasp it {i} mm lower", kind="skill", skill=skill, parameter="grasp_offset",
                            value=-0.001 * i, object=ObjectContext(category=category, color="red"),
                            task=f"pick up the red {category} number {i}")


def exact(index: CorrectionIndex, store: CorrectionStore, vector: np.ndarray, k: int, key=None) -> list[int]:
    records = [r for r in store.all() if key is None or gate_partition(r) == key]
    vecs = index.embedder.encode([r.context_text() for r in records])
    return [records[i].id for i in np.argsort(-(vecs @ vector))[:k]]


def test_partitions_turn_into_hnsw_graphs_keep_recall_and_survive_deletions(tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "HNSW_FROM", 300)
    store = CorrectionStore(tmp_path / "c.db")
    store.add_many([record(i) for i in range(400)] + [record(i, "push", "mug") for i in range(50)])
    index = CorrectionIndex(store, embedder=FakeEmbedder(), partition=gate_partition)
    cube, mug = ("skill", "pick", "cube"), ("skill", "push", "mug")
    assert sorted(index.partitions()) == sorted([cube, mug])
    parts = index._parts
    assert parts is not None and parts[cube].hnsw and not parts[mug].hnsw and parts[ALL].hnsw
    query = FakeEmbedder().encode(["pick up the red cube number 7"])[0]
    found = [i for i, _ in index.search(query, 10, [cube])]
    assert len(set(found) & set(exact(index, store, query, 10, cube))) >= 9
    assert all(gate_partition(store.get(i)) == cube for i in found)  # type: ignore[arg-type]
    # HNSW cannot delete: masked, never returned; past a tenth of the graph it is rebuilt without them
    for i in found[:3]:
        store.delete(i)
    assert not set(found[:3]) & {i for i, _ in index.search(query, 10, [cube])} and parts[cube].deleted
    for i in store.ids()[:60]:
        store.delete(i)
    index.search(query, 10, [cube])
    assert not parts[cube].deleted and len(parts[cube]) == len([r for r in store.all() if gate_partition(r) == cube])


def test_saved_as_a_snapshot_and_a_log_replayed_by_the_next_process(tmp_path):
    store = CorrectionStore(tmp_path / "c.db")
    store.add_many([record(i, category=CATEGORIES[i % 3]) for i in range(30)])
    first = CorrectionIndex(store, embedder=FakeEmbedder(), partition=gate_partition)
    first.ensure_current()
    first.flush()  # snapshot of 30
    store.add_many([record(i, category="ball") for i in range(30, 40)])
    store.delete(1)
    query = FakeEmbedder().encode(["pick up the red ball number 35"])[0]
    ball = ("skill", "pick", "ball")
    want = first.search(query, 5, [ball])  # syncs: the change goes to the log, not a new snapshot
    assert first._saver is not None
    first._saver.join()  # the log written, no snapshot
    assert (tmp_path / LOG_FILE).stat().st_size > 0
    second = CorrectionIndex(store, embedder=FakeEmbedder(), partition=gate_partition)
    assert second.search(query, 5, [ball]) == want and len(second) == 39
    assert (second.rebuilds, second.encoded) == (0, 0)  # snapshot + log: nothing embedded again
    # a torn log: rebuilt from the store, never trusted
    with open(tmp_path / LOG_FILE, "r+b") as f:
        f.seek(40)
        f.write(b"\xff" * 8)
    third = CorrectionIndex(store, embedder=FakeEmbedder(), partition=gate_partition)
    assert third.search(query, 5, [ball]) == want and (third.rebuilds, third.encoded) == (1, 39)
    # another partitioning of the same files: rebuilt too
    other = CorrectionIndex(store, embedder=FakeEmbedder())
    assert len(other) == 39 and other.rebuilds == 1 and other.partitions() == []


def test_a_record_added_through_the_memory_is_retrievable_without_reading_the_store(tmp_path, monkeypatch):
    memory = CorrectionMemory.open(tmp_path / "c.db", embedder=get_embedder())
    memory.add_many([record(i, category=CATEGORIES[i % 3]) for i in range(20)])
    query = RetrievalQuery(task="pick up the green mug", skill="pick",
                           object=ObjectContext(category="mug", color="green"))
    assert len(memory.retrieve(query, include_rejected=True)) >= 1
    reads = []
    for name in ("ids", "get_many", "all"):
        original = getattr(memory.store, name)
        monkeypatch.setattr(memory.store, name, lambda *a, _o=original, _n=name, **k: reads.append(_n) or _o(*a, **k))
    new = memory.add(CorrectionRecord(text="grasp the green mug by its handle", kind="skill", skill="pick",
                                      parameter="grasp_offset", value=0.01, scope="object",
                                      object=ObjectContext(category="mug", color="green"), task="pick up the green mug"))
    found = memory.retrieve(query)
    assert found[0].record.id == new.id and reads == []
    # a write from elsewhere (not through this memory) is found by difference
    other = CorrectionStore(tmp_path / "c.db")
    later = other.add(record(99, category="mug"))
    assert later.id in {r.record.id for r in memory.retrieve(query, include_rejected=True)} and "ids" in reads
    other.close()
    memory.close()
