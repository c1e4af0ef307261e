"""CorrectionMemory.retrieve at 10k / 100k / 1M stored corrections (bench/retrieval.py --memory).

Records are generated contexts (skill, object, target, task, correction) in a real SQLite store. Their vectors
are real MiniLM embeddings of `--real` distinct record texts (ONNX, batch); larger stores tile those vectors
with Gaussian noise (sigma 0.02/dim, renormalised: near-duplicate clusters, harder for HNSW than distinct
sentences), served to the index by PrecomputedEmbedder, a test double. Queries are held-out contexts, embedded
by the real model on every call unless said otherwise (cold), beside the same query again (from the cache).
The reference in the same run is the same memory with every partition an exact scan (HNSW_FROM = infinity).
`run_feed` (bench/retrieval.py --only feed) times how soon a record another process writes is retrievable.
"""
from __future__ import annotations

import gc
import json
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from planners.corrections.memory import CorrectionMemory, CorrectionRecord, CorrectionStore, ObjectContext, \
    RetrievalQuery
from planners.corrections.memory import index as index_module
from planners.corrections.memory.retrieval import TOP_K, gate_partition, query_partitions
from skill_lib.embedding import Embedder

COLOURS = ["red", "green", "blue", "yellow", "orange", "purple", "white", "black", "grey", "pink"]
CATEGORIES = ["cube", "lego", "carton", "ball", "die", "mug", "bottle", "can", "bowl", "sponge", "box", "plate",
              "banana", "apple", "marker", "lid", "brick", "cup", "screwdriver", "tape"]
SKILLS = {"pick": ("grasp_offset", ["grasp it {d} cm lower", "grasp it {d} cm higher", "grab it a bit lower",
                                    "approach it from the side", "squeeze harder"]),
          "place": ("offset_y", ["{d} cm to the left", "move it {d} cm to the right", "a bit more to the left",
                                 "put it down more gently"]),
          "push": ("distance", ["push it {d} cm further", "push it a bit less far", "push it slower"]),
          "move_to": ("height", ["hover {d} cm higher", "hover lower", "stay {d} cm above it"])}
TARGETS = ["tray", "bin", "box", "plate", "shelf", "drawer"]
VERBS = {"pick": ["pick up", "grab", "lift", "take"], "place": ["put", "place", "drop", "set"],
         "push": ["push", "slide", "nudge"], "move_to": ["move to", "hover over", "go above"]}


def contexts(n: int, seed: int) -> list[CorrectionRecord]:
    """n records with distinct context texts; a tenth apply to any object (scope "any")."""
    rng, seen = random.Random(seed), set()
    out: list[CorrectionRecord] = []
    while len(out) < n:
        skill = rng.choice(list(SKILLS))
        obj = ObjectContext(category=rng.choice(CATEGORIES), color=rng.choice(COLOURS),
                            size=rng.choice(["small", "large", None]))
        target = ObjectContext(category=rng.choice(TARGETS)) if skill == "place" else None
        where = f" in the {target.category}" if target else rng.choice(["", " on the left", " near the edge"])
        task = f"{rng.choice(VERBS[skill])} the {obj.describe()}{where}"
        record = CorrectionRecord(text=rng.choice(SKILLS[skill][1]).format(d=rng.randint(1, 9)), kind="skill",
                                  skill=skill, parameter=SKILLS[skill][0], value=0.01, object=obj, target=target,
                                  task=task, scope="any" if rng.random() < 0.1 else "category")
        if record.context_text() not in seen:
            seen.add(record.context_text())
            out.append(record)
    return out


def as_query(record: CorrectionRecord) -> RetrievalQuery:
    return RetrievalQuery(task=record.task, skill=record.skill, object=record.object, target=record.target)


class PrecomputedEmbedder:
    """Test double for the index's bulk embedding: a table of vectors made beforehand (real MiniLM, or real
    plus noise for the tiled copies); texts not in it (queries) go to the real model."""

    def __init__(self, real: Embedder, table: dict[str, np.ndarray]) -> None:
        self.real, self.table = real, table
        self.dim, self.model_id = real.dim, real.model_id

    def encode(self, texts: list[str]) -> np.ndarray:
        if len(texts) == 1 and texts[0] not in self.table:
            return self.real.encode(texts)  # a query: the real model (and its cache), as in production
        return np.stack([self.table[t] for t in texts]).astype(np.float32)


def tiled(records: list[CorrectionRecord], vectors: np.ndarray, n: int, rng: np.random.Generator
          ) -> tuple[list[CorrectionRecord], np.ndarray]:
    """n records: the real ones, then copies ("... (copy c)" in the task) whose vectors are the source's
    plus noise."""
    out, vecs = list(records[:n]), [vectors[:n]]
    copy = 1
    while len(out) < n:
        take = min(len(records), n - len(out))
        out += [CorrectionRecord(**{**r.__dict__, "task": f"{r.task} (copy {copy})", "uid": uuid.uuid4().hex})
                for r in records[:take]]
        noisy = vectors[:take] + rng.normal(0, 0.02, (take, vectors.shape[1])).astype(np.float32)
        vecs.append(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
        copy += 1
    return out, np.concatenate(vecs)


def filled_store(path: Path, records: list[CorrectionRecord]) -> tuple[CorrectionStore, float]:
    """A new store at `path` holding `records`, written in batches of 20 000, and the seconds that took."""
    store = CorrectionStore(path)
    t0 = time.perf_counter()
    for start in range(0, len(records), 20_000):
        store.add_many(records[start:start + 20_000])
    return store, time.perf_counter() - t0


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1e3


def measure(memory: CorrectionMemory, queries: list[RetrievalQuery]) -> dict:
    """retrieve() latency cold (each query's first call: embedded) and again (from the cache); the ids the
    index ranks top-10 in the query's partitions; what each query accepts."""
    cold, warm, top, accepted = [], [], [], []
    for q in queries:
        t0 = time.perf_counter()
        found = memory.retrieve(q, include_rejected=True)
        cold.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        memory.retrieve(q, include_rejected=True)
        warm.append(time.perf_counter() - t0)
        accepted.append(tuple(r.record.id for r in found if r.accepted))
        vector = memory.embedder.encode([q.text()])[0]
        top.append([i for i, _ in memory.index.search(vector, 10, query_partitions(q, memory.index.partitions()))])
    return {"cold": cold, "warm": warm, "top": top, "accepted": accepted}


OTHER_PROCESS = """
import json, sys, time
from planners.corrections.memory.record import CorrectionRecord
from planners.corrections.memory.store import CorrectionStore
store = CorrectionStore(sys.argv[1])
for line in sys.stdin:
    op, _, arg = line.partition(" ")
    if op == "add":
        record_id = store.add(CorrectionRecord.from_dict(json.loads(arg))).id
    else:
        record_id = int(arg) if store.delete(int(arg)) else -1
    print(record_id, time.monotonic(), flush=True)  # the clock read right after the commit returned
"""


class OtherProcess:
    """Another process writing to the same SQLite file (as the fleet sync or the CLI would); it answers each
    write with the record id and the monotonic clock (one clock for every process on Linux) at its commit."""

    def __init__(self, store_path: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", OTHER_PROCESS, str(store_path)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def write(self, command: str) -> tuple[int, float]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        record_id, committed = self.proc.stdout.readline().split()
        return int(record_id), float(committed)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def new_record_delay(memory: CorrectionMemory, other: OtherProcess, template: CorrectionRecord, through: str
                     ) -> tuple[float, float, int, bool]:
    """Seconds from a new record's commit to the return of the first retrieve() after it (by which the index
    must hold it), the CPU seconds this thread spent in between (the work, without the waits for a CPU on a
    loaded machine), its id, and whether that retrieve returned it (False: held, but HNSW did not rank it in
    the query's top k). Through "memory": timed from before CorrectionMemory.add, which includes the commit and
    the embedding; through "process": the other process's commit, then one retrieve here (the change feed).
    The record's task is the template's with a mark of its own, so that its query ranks it first among the
    near-duplicate stored contexts; that query is asked once before the write (a context asked before: the
    delay is not the query's embedding, which is measured on its own)."""
    uid = uuid.uuid4().hex
    record = CorrectionRecord(**{**template.__dict__, "uid": uid, "task": f"{template.task} ({through} {uid[:6]})"})
    memory.retrieve(as_query(record), include_rejected=True)
    if through == "memory":
        t0, cpu = time.monotonic(), time.thread_time()
        record_id = memory.add(record).id or 0
    else:
        record_id, t0 = other.write("add " + json.dumps(record.to_dict()))
        cpu = time.thread_time()
    found = memory.retrieve(as_query(record), include_rejected=True)
    delay, cpu = time.monotonic() - t0, time.thread_time() - cpu
    assert record_id in memory.index, "the index did not take the new record"
    return delay, cpu, record_id, record_id in {r.record.id for r in found}


def deleted_record_delay(memory: CorrectionMemory, other: OtherProcess, record_id: int) -> float:
    """Seconds from the other process's deletion to the return of a retrieve() without the record."""
    query = as_query(memory.store.get(record_id))  # type: ignore[arg-type]
    memory.retrieve(query, include_rejected=True)
    deleted, t0 = other.write(f"delete {record_id}")
    found = memory.retrieve(query, include_rejected=True)
    delay = time.monotonic() - t0
    assert deleted == record_id and record_id not in {r.record.id for r in found} and record_id not in memory.index, \
        "a deleted record was retrieved"
    return delay


def id_list_reads(store: CorrectionStore) -> float:
    """Seconds the replaced path spent before embedding anything: the index's and the record cache's id lists
    (store.ids() twice) and their difference with what they held. A lower bound of its delay."""
    t0 = time.monotonic()
    have = np.asarray(store.ids(), dtype=np.int64)
    np.setdiff1d(np.asarray(store.ids(), dtype=np.int64), have, assume_unique=True)
    np.setdiff1d(np.asarray(store.ids(enabled_only=True), dtype=np.int64), have, assume_unique=True)
    return time.monotonic() - t0


def run_feed(embedder: Embedder, sizes: list[int], n_real: int, n_queries: int, trials: int) -> None:
    """A record written by another process -> retrievable here, at each size (HNSW index only: no reference
    index is built), `trials` times; beside the id-list reads the change feed replaced."""
    records = contexts(n_real + n_queries, seed=19)
    held_out, records = records[:n_queries], records[n_queries:]
    vectors = _vectors(embedder, records, n_real, n_queries)
    print("\n| stored | another process's new record -> retrieved here, ms p50 / p90 / max (CPU of this thread p50 / max) "
          "| its deletion -> gone, ms p50 / max | through this memory, ms p50 / max (CPU p50) "
          "| replaced path: id-list reads alone, ms p50 (lower bound) |")
    print("|---|---|---|---|---|")
    collections: list[float] = []  # full (generation 2) garbage collections during the trials, their seconds

    def timed_collections(phase: str, info: dict) -> None:
        if info["generation"] == 2:
            collections.append(time.monotonic() if phase == "start" else time.monotonic() - collections.pop())
    rng = np.random.default_rng(0)
    for n in sizes:
        recs, vecs = tiled(records, vectors, n, rng)
        double = PrecomputedEmbedder(embedder, {r.context_text(): v for r, v in zip(recs, vecs)})
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "corrections.db"
            store, t_store = filled_store(path, recs)
            del recs
            memory = CorrectionMemory(store, embedder=double)  # type: ignore[arg-type]
            t0 = time.monotonic()
            memory.retrieve(as_query(held_out[0]), include_rejected=True)
            t_first = time.monotonic() - t0
            memory.index.flush()  # steady state: no background save of the build during the timings
            other = OtherProcess(path)
            added, added_cpu, deleted, through_memory, memory_cpu = [], [], [], [], []
            ranked_out = 0  # held by the index, not in that first retrieve's top k
            collections.clear()
            gc.callbacks.append(timed_collections)
            for i in range(trials):
                template = held_out[i % len(held_out)]
                delay, cpu, record_id, returned = new_record_delay(memory, other, template, "process")
                added.append(delay)
                added_cpu.append(cpu)
                ranked_out += not returned
                deleted.append(deleted_record_delay(memory, other, record_id))
                delay, cpu, _, returned = new_record_delay(memory, other, template, "memory")
                through_memory.append(delay)
                memory_cpu.append(cpu)
                ranked_out += not returned
                time.sleep(0.05)  # the background log append of each write lands before the next
            gc.callbacks.remove(timed_collections)
            other.close()
            reads = [id_list_reads(store) for _ in range(3)]
            print(f"| {n:,} | {pct(added, 50):.1f} / {pct(added, 90):.1f} / {max(added) * 1e3:.1f} "
                  f"({pct(added_cpu, 50):.1f} / {max(added_cpu) * 1e3:.1f}) | {pct(deleted, 50):.1f} / "
                  f"{max(deleted) * 1e3:.1f} | {pct(through_memory, 50):.1f} / {max(through_memory) * 1e3:.1f} "
                  f"({pct(memory_cpu, 50):.1f}) | {pct(reads, 50):.0f} |", flush=True)
            print(f"(store filled in {t_store:.0f} s; records + index built at the first retrieve: {t_first:.0f} s; "
                  f"{trials} trials of each; another process's record, every trial in ms: "
                  f"{' '.join(f'{d * 1e3:.0f}' for d in sorted(added))}; full garbage collections during the "
                  f"trials: {len(collections)}, longest {max(collections, default=0) * 1e3:.0f} ms; new records held "
                  f"by the index but not returned by that retrieve (HNSW): {ranked_out} of {2 * trials})", flush=True)
            store.close()


def _vectors(embedder: Embedder, records: list[CorrectionRecord], n_real: int, n_queries: int) -> np.ndarray:
    """Real MiniLM vectors of the record texts, kept in the temp dir for the next run with the same arguments."""
    cache = Path(tempfile.gettempdir()) / f"skill_stack_bench_contexts_{n_real}_{n_queries}.npy"
    t0 = time.monotonic()
    if cache.is_file():  # made by an earlier run of this script with the same arguments
        vectors = np.load(cache)
        how = f"read from {cache} (real MiniLM vectors of these texts, saved by an earlier run)"
    else:
        vectors = embedder.encode([r.context_text() for r in records])  # bulk: not through the query cache
        np.save(cache, vectors)
        how = f"embedded with MiniLM ({embedder.backend}) in {time.monotonic() - t0:.0f} s"
    print(f"{len(records)} distinct record contexts {how}; {n_queries} held-out contexts as queries", flush=True)
    return vectors


def run(embedder: Embedder, sizes: list[int], n_real: int, n_queries: int) -> None:
    records = contexts(n_real + n_queries, seed=19)
    held_out, records = records[:n_queries], records[n_queries:]
    vectors = _vectors(embedder, records, n_real, n_queries)
    print("\n| stored | retrieve p50 / p99 ms, cold (query embedded) | again, cached | exact-scan index: cold p50 / p99 "
          "| recall@10 vs exact | same decision (best record or abstain) / same accepted set | first retrieve: records + exact index / HNSW index | new record -> retrieved "
          "(through memory / other process) |")
    print("|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for n in sizes:
        recs, vecs = tiled(records, vectors, n, rng)
        table = {r.context_text(): v for r, v in zip(recs, vecs)}
        double = PrecomputedEmbedder(embedder, table)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "corrections.db"
            store, t_store = filled_store(path, recs)
            del recs  # the store and the table hold what the run needs
            results = {}
            memory = CorrectionMemory(store, embedder=double)  # type: ignore[arg-type]
            indexes = {}
            # the reference first and dropped before the real index is built: one index in memory at a time
            for name, hnsw_from in (("exact", 1 << 62), ("index", index_module.HNSW_FROM)):
                saved = index_module.HNSW_FROM
                index_module.HNSW_FROM = hnsw_from  # read when vectors are added: the build below
                try:
                    (Path(tmp) / name).mkdir()
                    memory.index = indexes[name] = index_module.CorrectionIndex(
                        store, embedder=double, index_dir=Path(tmp) / name,  # type: ignore[arg-type]
                        partition=gate_partition)
                    t0 = time.perf_counter()
                    memory.retrieve(as_query(held_out[0]))
                    first = time.perf_counter() - t0
                finally:
                    index_module.HNSW_FROM = saved
                memory.index.flush()  # steady state: no background save during the timings
                embedder.clear_cache()  # cold means cold
                results[name] = {**measure(memory, [as_query(r) for r in held_out]), "first": first}
                indexes.clear()
            other = OtherProcess(path)
            results["index"]["new"] = [new_record_delay(memory, other, held_out[i], how)[0]
                                       for i in range(5) for how in ("memory", "process")]
            other.close()
            got, ref = results["index"], results["exact"]
            recall = np.mean([len(set(a) & set(b)) / max(1, len(b)) for a, b in zip(got["top"], ref["top"])])
            same = sum(a == b for a, b in zip(got["accepted"], ref["accepted"]))
            # what a skill gets first, or an abstention: the tiled copies make near-ties where sets may differ
            decision = sum(a[:1] == b[:1] for a, b in zip(got["accepted"], ref["accepted"]))
            new = got["new"]
            print(f"| {n:,} | {pct(got['cold'], 50):.2f} / {pct(got['cold'], 99):.2f} | "
                  f"{pct(got['warm'], 50):.2f} / {pct(got['warm'], 99):.2f} | "
                  f"{pct(ref['cold'], 50):.2f} / {pct(ref['cold'], 99):.2f} | {recall:.3f} | "
                  f"{decision} / {same} of {len(held_out)} | {ref['first']:.1f} / {got['first']:.1f} s (store filled in {t_store:.0f} s) | "
                  f"{np.median(new[0::2]) * 1e3:.1f} / {np.median(new[1::2]) * 1e3:.0f} ms |", flush=True)
            store.close()
    print(f"\n(top-{TOP_K} of the query's partitions are scored; retrieve() is called with include_rejected=True, as "
          "the scheduler does, so every call also searches all records for the near misses it logs)")
