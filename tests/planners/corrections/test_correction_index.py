"""The correction index's partitions, HNSW graphs, change log, write-through path and how it follows the
store's change feed (real FAISS, real SQLite, other processes writing). Index mechanics use FakeEmbedder
(random unit vectors per text) to isolate them from MiniLM; the retrieval tests use the real model."""
from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from planners.corrections.memory import CorrectionMemory, CorrectionRecord, CorrectionStore, ObjectContext, \
    RetrievalQuery
from planners.corrections.memory import index as index_module
from planners.corrections.memory.index import ALL, LOG_FILE, MANIFEST_FILE, CorrectionIndex
from planners.corrections.memory.retrieval import gate_partition
from skill_lib.embedding import get_embedder

CATEGORIES = ["cube", "mug", "ball"]
REPO = Path(__file__).resolve().parents[3]


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
    for name in ("ids", "get_many", "all", "changes_since"):
        original = getattr(memory.store, name)
        monkeypatch.setattr(memory.store, name, lambda *a, _o=original, _n=name, **k: reads.append(_n) or _o(*a, **k))
    new = memory.add(CorrectionRecord(text="grasp the green mug by its handle", kind="skill", skill="pick",
                                      parameter="grasp_offset", value=0.01, scope="object",
                                      object=ObjectContext(category="mug", color="green"), task="pick up the green mug"))
    found = memory.retrieve(query)
    assert found[0].record.id == new.id and reads == []
    # a write from elsewhere (not through this memory) comes from the store's change feed, never an id list
    other = CorrectionStore(tmp_path / "c.db")
    later = other.add(record(99, category="mug"))
    assert later.id in {r.record.id for r in memory.retrieve(query, include_rejected=True)}
    assert "changes_since" in reads and not {"ids", "get_many", "all"} & set(reads)
    other.close()
    memory.close()


# -- the change feed: writes from another process, restarts, a writer killed mid-transaction ------------------
OTHER_PROCESS = textwrap.dedent("""
    import sys
    from dataclasses import replace
    from planners.corrections.memory.record import CorrectionRecord, ObjectContext
    from planners.corrections.memory.store import CorrectionStore
    store = CorrectionStore(sys.argv[1])
    for line in sys.stdin:
        op, arg = line.split()
        if op == "add":
            print(store.add(CorrectionRecord(
                text="grasp the green mug by its handle", kind="skill", skill="pick", parameter="grasp_offset",
                value=0.01, scope="object", object=ObjectContext(category="mug", color="green"),
                task="pick up the green mug", uid=arg)).id, flush=True)
        elif op == "narrow":  # the same record, changed: a new id replaces the old one in one transaction
            old = store.get(int(arg))
            print(store.add_many([replace(old, id=None, value=0.02)], replacing=[old.id])[0].id, flush=True)
        elif op == "disable":
            print(store.set_disabled(int(arg)), flush=True)
        elif op == "delete":
            print(store.delete(int(arg)), flush=True)
""")


class OtherProcess:
    """Another process writing to the same database file, one command at a time."""

    def __init__(self, db: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", OTHER_PROCESS, str(db)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, cwd=REPO,
                                     env={**os.environ, "PYTHONPATH": str(REPO)})

    def __call__(self, op: str, arg: object) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{op} {arg}\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()  # answered once committed

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        assert self.proc.wait(timeout=30) == 0


def no_id_lists(monkeypatch, store: CorrectionStore) -> None:
    """What following the feed must never need: the store's whole id list or every record."""
    for name in ("ids", "all"):
        monkeypatch.setattr(store, name, lambda *a, _n=name, **k: pytest.fail(f"store.{_n}() read"))


def retrieved(memory: CorrectionMemory, query: RetrievalQuery) -> set[int]:
    return {r.record.id for r in memory.retrieve(query, include_rejected=True) if r.record.id is not None}


def held(index: CorrectionIndex) -> set[int]:
    index.ensure_current()
    return set(index._where)


def test_a_write_by_another_process_reaches_this_memory_through_the_change_feed(tmp_path, monkeypatch):
    memory = CorrectionMemory.open(tmp_path / "c.db", embedder=get_embedder())
    memory.add_many([record(i, category=CATEGORIES[i % 3]) for i in range(20)])
    query = RetrievalQuery(task="pick up the green mug", skill="pick",
                           object=ObjectContext(category="mug", color="green"))
    memory.retrieve(query)
    no_id_lists(monkeypatch, memory.store)
    other = OtherProcess(tmp_path / "c.db")
    try:
        new = int(other("add", "mug-handle"))
        assert memory.retrieve(query)[0].record.id == new  # the object-scope record comes first
        narrowed = int(other("narrow", new))  # an update: the old id goes, the new one comes
        found = [r.record.id for r in memory.retrieve(query)]
        assert found[0] == narrowed and new not in found and new not in held(memory.index)
        assert other("disable", narrowed) == "True"
        assert narrowed not in retrieved(memory, query) and narrowed in held(memory.index)  # kept, never retrieved
        assert other("delete", narrowed) == "True"
        assert narrowed not in retrieved(memory, query) and narrowed not in held(memory.index)
    finally:
        other.close()
    assert memory.index.rebuilds == 1 and memory.index.encoded == 22  # 20, then one per new id
    monkeypatch.undo()
    assert held(memory.index) == set(memory.store.ids())
    memory.close()


def test_the_index_cursor_survives_a_restart(tmp_path, monkeypatch):
    store = CorrectionStore(tmp_path / "c.db")
    store.add_many([record(i, category=CATEGORIES[i % 3]) for i in range(30)])
    first = CorrectionIndex(store, embedder=FakeEmbedder(), partition=gate_partition)
    first.ensure_current()
    first.flush()
    saved = json.loads((tmp_path / MANIFEST_FILE).read_text())
    assert saved["cursor"] == store.changes_since(0)[1]  # the files say how far into the feed they are
    other = OtherProcess(tmp_path / "c.db")  # written while no index runs
    try:
        added = [int(other("add", f"after-restart-{i}")) for i in range(2)]
        assert other("delete", 1) == "True"
    finally:
        other.close()
    no_id_lists(monkeypatch, store)
    asked: list[int] = []
    feed = store.changes_since
    monkeypatch.setattr(store, "changes_since", lambda cursor, *a: asked.append(cursor) or feed(cursor, *a))
    restarted = CorrectionIndex(store, embedder=FakeEmbedder(), partition=gate_partition)
    assert held(restarted) == set(range(2, 31)) | set(added)
    assert asked[0] == saved["cursor"] > 0  # read on from where the saved files left off, not from the start
    assert (restarted.rebuilds, restarted.encoded) == (0, 2)  # loaded, then only the two new records embedded


def test_a_restored_older_database_is_not_followed_from_the_cursor_but_rebuilt(tmp_path):
    store = CorrectionStore(tmp_path / "c.db")
    store.add_many([record(i) for i in range(10)])
    with closing(sqlite3.connect(tmp_path / "older.db")) as older, closing(sqlite3.connect(tmp_path / "c.db")) as now:
        now.backup(older)  # the same database (db_uid) as it is now
    index = CorrectionIndex(store, embedder=FakeEmbedder(), partition=gate_partition)
    store.add_many([record(i) for i in range(10, 15)])
    assert len(held(index)) == 15
    index.flush()
    store.close()  # the last connection: the WAL is folded into the file and removed
    assert not (tmp_path / "c.db-wal").exists()
    os.replace(tmp_path / "older.db", tmp_path / "c.db")
    restored = CorrectionStore(tmp_path / "c.db")
    again = CorrectionIndex(restored, embedder=FakeEmbedder(), partition=gate_partition)
    assert held(again) == set(restored.ids()) == set(range(1, 11)) and again.rebuilds == 1


KILLED_WRITER = textwrap.dedent("""
    import random, sys
    from planners.corrections.memory.record import CorrectionRecord, ObjectContext
    from planners.corrections.memory.store import CorrectionStore
    store, rng, n = CorrectionStore(sys.argv[1]), random.Random(int(sys.argv[2])), 0
    print("ready", flush=True)
    while True:
        ids = store.changes_since(0, 10**9)[0]
        live = [c.record_id for c in ids if c.record is not None]
        roll = rng.random()
        if live and roll < 0.15:
            store.delete(rng.choice(live))
        elif live and roll < 0.3:
            store.set_disabled(rng.choice(live), rng.random() < 0.5)
        else:  # a batch, replacing some records, in one transaction: all of it or none of it
            batch = []
            for _ in range(rng.randint(1, 40)):
                n += 1
                batch.append(CorrectionRecord(text=f"grasp it {n} mm lower", kind="skill", skill="pick",
                                              parameter="grasp_offset", value=-0.001, task=f"pick {sys.argv[2]}.{n}",
                                              object=ObjectContext(category=rng.choice(["cube", "mug"]))))
            store.add_many(batch, replacing=rng.sample(live, min(len(live), rng.randint(0, 3))))
""")


def test_a_writer_killed_mid_transaction_never_leaves_the_index_ahead_of_the_store(tmp_path):
    db = tmp_path / "c.db"
    store = CorrectionStore(db)
    index = CorrectionIndex(store, embedder=FakeEmbedder(), partition=gate_partition)
    rng = random.Random(3)
    for round_ in range(8):
        writer = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(db), str(round_)], stdout=subprocess.PIPE,
                                  text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + rng.uniform(0.2, 0.6)
        while time.monotonic() < deadline:  # following the writer while it writes
            index.ensure_current()
        writer.send_signal(signal.SIGKILL)  # at a random moment: mid-transaction, mid-commit, between
        writer.communicate(timeout=10)
        assert held(index) == set(store.ids()), f"round {round_}: the index and the store differ"
        index.flush()
        reloaded = CorrectionIndex(store, embedder=FakeEmbedder(), partition=gate_partition)
        assert held(reloaded) == set(store.ids()) and reloaded.rebuilds == 0
    assert len(store) > 50 and store.integrity_ok()
