"""CorrectionMemory.retrieve at 10k / 100k / 1M stored corrections (bench/retrieval.py --memory).

Records are generated contexts (skill, object, target, task, correction) in a real SQLite store. Their vectors
are real MiniLM embeddings of `--real` distinct record texts (ONNX, batch); larger stores tile those vectors
with Gaussian noise (sigma 0.02/dim, renormalised: near-duplicate clusters, harder for HNSW than distinct
sentences), served to the index by PrecomputedEmbedder, a test double. Queries are held-out contexts, embedded
by the real model on every call unless said otherwise (cold), beside the same query again (from the cache).
The reference in the same run is the same memory with every partition an exact scan (HNSW_FROM = infinity).
"""
from __future__ import annotations

import random
import uuid
import tempfile
import time
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


def new_record_delay(memory: CorrectionMemory, store_path: Path, template: CorrectionRecord, through: str) -> float:
    """Seconds until the first retrieve() that returns a new record (see the two cases below)."""
    record = CorrectionRecord(**{**template.__dict__, "uid": uuid.uuid4().hex,
                                 "text": f"grasp it 3 mm lower ({through})"})
    if through == "memory":  # timed from before the write: it includes the store's commit and the embedding
        t0 = time.perf_counter()
        stored = memory.add(record)
    else:  # another process's handle on the same database: found by difference, timed once it is stored
        with CorrectionStore(store_path) as other:
            stored = other.add(record)
        t0 = time.perf_counter()
    found = memory.retrieve(as_query(template), include_rejected=True)
    delay = time.perf_counter() - t0
    assert stored.id in {r.record.id for r in found}, "the new record was not retrieved"
    return delay


def run(embedder: Embedder, sizes: list[int], n_real: int, n_queries: int) -> None:
    records = contexts(n_real + n_queries, seed=19)
    held_out, records = records[:n_queries], records[n_queries:]
    cache = Path(tempfile.gettempdir()) / f"skill_stack_bench_contexts_{n_real}_{n_queries}.npy"
    t0 = time.perf_counter()
    if cache.is_file():  # made by an earlier run of this script with the same arguments
        vectors = np.load(cache)
        how = f"read from {cache} (real MiniLM vectors of these texts, saved by an earlier run)"
    else:
        vectors = embedder.encode([r.context_text() for r in records])  # bulk: not through the query cache
        np.save(cache, vectors)
        how = f"embedded with MiniLM ({embedder.backend}) in {time.perf_counter() - t0:.0f} s"
    print(f"{len(records)} distinct record contexts {how}; {len(held_out)} held-out contexts as queries",
          flush=True)
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
            store = CorrectionStore(path)
            t0 = time.perf_counter()
            for start in range(0, n, 20_000):
                store.add_many(recs[start:start + 20_000])
            t_store = time.perf_counter() - t0
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
            results["index"]["new"] = [new_record_delay(memory, path, held_out[i], how)
                                       for i in range(5) for how in ("memory", "store")]
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
