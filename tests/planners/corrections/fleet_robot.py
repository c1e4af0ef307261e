"""One robot of the fleet tests, as its own process: a FleetStore (its own SQLite file, synced in the
background with the server) and a FAISS index that follows it.

`python fleet_robot.py URL DB ROBOT COUNT INTERVAL_S`: writes COUNT corrections, printing `ack UID` once each
is stored (acknowledged), reading the store and the index between writes; then waits for `finish` on stdin,
syncs until the server and the file hold the same records, and prints one JSON line with the file's uids and
whether the index agrees with the file. The embedder is a fake (a hash of the text) so that four processes
do not each load MiniLM: what is tested here is the store, the sync and the index's following them.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time

import numpy as np

from planners.corrections.memory import CorrectionRecord, ObjectContext
from planners.corrections.memory.index import CorrectionIndex
from planners.corrections.memory.sync import FleetStore, SyncConfig, SyncOutcome, SyncReport


class FakeHashEmbedder:
    """A test double of skill_lib.embedding.Embedder: unit vectors from a hash of each text."""

    model_id = "fake-hash-32"
    dim = 32

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest(), dtype=np.uint8).astype(np.float32) - 127.5
                for t in texts]
        vectors = np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def record(robot: str, number: int) -> CorrectionRecord:
    return CorrectionRecord(text=f"{robot} correction {number}", kind="skill", skill="pick",
                            parameter="grasp_height", value=-0.001 * (number % 7 + 1), scope="object",
                            object=ObjectContext(f"{robot}_cube_{number}", "cube", "red", "small"),
                            uid=f"{robot}-{number:04d}", robot=robot)


def index_agrees(store: FleetStore, index: CorrectionIndex) -> bool:
    index.ensure_current()
    # every record (the index scans exactly at these sizes): the ids it holds
    found = {i for i, _ in index.search(np.ones(FakeHashEmbedder.dim, dtype=np.float32), len(store) + 10)}
    return found == set(store.ids()) and len(index) == len(store)


def settle(store: FleetStore) -> SyncReport:
    deadline = time.monotonic() + 30
    while True:
        report = store.sync.sync_once()
        quiet = report.outcome is SyncOutcome.SYNCED and report.pushed == report.pulled == report.deleted == 0
        if quiet or time.monotonic() > deadline:
            return report
        time.sleep(0.1)


def main(url: str, db: str, robot: str, count: int, interval: float) -> None:
    store = FleetStore(url, local=db, config=SyncConfig(poll_s=0.5, retry_s=0.1, retry_max_s=0.5,
                                                        connect_timeout_s=1.0))
    index = CorrectionIndex(store, embedder=FakeHashEmbedder())  # type: ignore[arg-type]
    store.sync.on_change.append(index.ensure_current)
    probe = np.ones(FakeHashEmbedder.dim, dtype=np.float32) / np.sqrt(FakeHashEmbedder.dim)
    print("ready", flush=True)
    for number in range(count):
        stored = store.add(record(robot, number))
        print(f"ack {stored.uid}", flush=True)
        assert store.by_uid(stored.uid) is not None  # read back while the sync thread writes the file too
        index.search(probe, 5)
        time.sleep(interval)
    print("written", flush=True)
    assert sys.stdin.readline().strip() == "finish"
    store.sync.stop()  # the last syncs by hand: until one finds nothing to push and nothing new
    report = settle(store)
    print(f"synced {report.outcome.value}", flush=True)
    assert sys.stdin.readline().strip() == "report"  # every robot has pushed everything: pull it all
    report = settle(store)
    print(json.dumps({"uids": [r.uid for r in store.all()], "index_agrees": index_agrees(store, index),
                      "integrity": store.integrity_ok(), "last": report.outcome.value}), flush=True)
    index.flush()
    store.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
