"""Correction latency: retrieval from the correction memory at 10k / 100k / 1M stored corrections (flat vs
HNSW, recall@10), and correction-to-effect latency (LiveCorrections.submit() -> the changed parameter in
effect in the running control loop, in PyBullet).

    python bench/correction_latency.py [--sizes 10000,100000,1000000] [--base 10000] [--queries 100]
                                       [--memory-sizes 10000,100000] [--effect-trials 20]

Embedding a million sentences on 2 cores takes hours: `--base` distinct correction-context texts (as
CorrectionRecord.context_text() writes them) are embedded, and larger sets tile those vectors with small
Gaussian noise, as bench/retrieval.py does. The script says so in its output.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from hardware.pybullet import PyBulletArm, PyBulletConfig
from planners.corrections.live import LiveCorrections
from planners.executor import ExecutionObserver, Executor
from planners.scheduler import Scheduler
from planners.corrections.memory import (CorrectionMemory, CorrectionRecord, CorrectionStore, ObjectContext,
                                        RetrievalQuery)
from skill_lib.embedding import Embedder, get_embedder

COLOURS = ["red", "green", "blue", "yellow", "orange", "purple", "white", "black"]
CATEGORIES = ["cube", "lego", "carton", "ball", "die", "mug", "bottle", "can", "bowl", "sponge", "box", "plate"]
SKILLS = {"pick": ("grasp_offset", ["grasp it {d} cm lower", "grasp it {d} cm higher", "grab it a bit lower"]),
          "place": ("offset_y", ["{d} cm to the left", "move it {d} cm to the right", "a bit more to the left"]),
          "push": ("distance", ["push it {d} cm further", "push it a bit less far"]),
          "move_to": ("height", ["hover {d} cm higher", "hover lower"])}
TARGETS = ["tray", "bin", "box", "plate"]


def context_texts(n: int, seed: int) -> list[tuple[str, str, ObjectContext, str]]:
    """(skill, correction text, object, task) for n distinct record contexts."""
    rng, out, seen = random.Random(seed), [], set()
    while len(out) < n:
        skill = rng.choice(list(SKILLS))
        obj = ObjectContext(category=rng.choice(CATEGORIES), color=rng.choice(COLOURS),
                            size=rng.choice(["small", "large", None]))
        task = (f"put the {obj.describe()} in the {rng.choice(TARGETS)}" if skill == "place"
                else f"{rng.choice(['pick up', 'push', 'move to', 'grab'])} the {obj.describe()}")
        text = rng.choice(SKILLS[skill][1]).format(d=rng.randint(1, 9))
        if (skill, text, obj.describe(), task) not in seen:
            seen.add((skill, text, obj.describe(), task))
            out.append((skill, text, obj, task))
    return out


def make_record(skill: str, text: str, obj: ObjectContext, task: str) -> CorrectionRecord:
    return CorrectionRecord(text=text, kind="skill", skill=skill, parameter=SKILLS[skill][0], mode="delta",
                            value=0.01, object=obj, task=task)


class CachedEmbedder:
    """The real MiniLM for anything new, a dict for texts already embedded (the tiled copies)."""

    def __init__(self, embedder: Embedder, known: dict[str, np.ndarray]) -> None:
        self.inner, self.known = embedder, known
        self.dim, self.model_id = embedder.dim, embedder.model_id

    def encode(self, texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        fresh = dict(zip(missing, self.inner.encode(missing))) if missing else {}  # queries: not cached
        return np.stack([self.known.get(t, fresh.get(t)) for t in texts]).astype(np.float32)


def p50_p95(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e3:.2f} / {float(np.percentile(values, 95)) * 1e3:.2f}"


def bench_ann(base: np.ndarray, queries: np.ndarray, sizes: list[int]) -> None:
    rng = np.random.default_rng(0)
    print("\n| stored corrections | flat ms/query (p50 / p95) | HNSW ms/query (p50 / p95) | HNSW build | recall@10 |")
    print("|---|---|---|---|---|")
    for n in sizes:
        reps = int(np.ceil(n / len(base)))
        tiled = np.concatenate([base] + [base + rng.normal(0, 0.02, base.shape).astype(np.float32)
                                         for _ in range(reps - 1)])[:n]
        tiled /= np.linalg.norm(tiled, axis=1, keepdims=True)
        flat = faiss.IndexFlatIP(tiled.shape[1])
        flat.add(tiled)
        hnsw = faiss.IndexHNSWFlat(tiled.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        t0 = time.perf_counter()
        hnsw.add(tiled)
        build = time.perf_counter() - t0
        hnsw.hnsw.efSearch = 64
        lat, found = {"flat": [], "hnsw": []}, {"flat": [], "hnsw": []}
        for q in queries:  # one at a time, as the scheduler asks before each skill
            for name, index in (("flat", flat), ("hnsw", hnsw)):
                t0 = time.perf_counter()
                _, ids = index.search(q.reshape(1, -1), 10)
                lat[name].append(time.perf_counter() - t0)
                found[name].append(set(ids[0]))
        recall = np.mean([len(h & f) / 10 for h, f in zip(found["hnsw"], found["flat"])])
        kind = "real texts" if n <= len(base) else "tiled + noise"
        print(f"| {n:,} ({kind}) | {p50_p95(lat['flat'])} | {p50_p95(lat['hnsw'])} | {build:.1f} s | {recall:.3f} |",
              flush=True)
        del flat, hnsw, tiled


def bench_memory(contexts, vectors: np.ndarray, query_texts: list[str], sizes: list[int]) -> None:
    """End to end: CorrectionMemory.retrieve (query embedding, the gates' pre-filter, FAISS top-k among
    what passes it, scoring in Python of those), the path the scheduler takes before each skill; and the
    first retrieve after one more correction is stored (the index and records catch up by difference)."""
    known = {make_record(*c).context_text(): v for c, v in zip(contexts, vectors)}
    embedder = CachedEmbedder(get_embedder(), known)
    print("\n| stored corrections | CorrectionMemory.retrieve ms (p50 / p95) | first retrieve (load + index) "
          "| retrieve after one more correction |")
    print("|---|---|---|---|")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            store = CorrectionStore(Path(tmp) / "corrections.db")
            for start in range(0, n, 10_000):
                store.add_many(make_record(*contexts[i % len(contexts)]) for i in range(start, min(n, start + 10_000)))
            memory = CorrectionMemory(store, embedder=embedder)
            queries = [RetrievalQuery(task=t, skill="place", object=ObjectContext(category="cube", color="red",
                                                                                 size="large"),
                                      target=ObjectContext(category="tray")) for t in query_texts]
            t0 = time.perf_counter()
            memory.retrieve(queries[0])
            first = time.perf_counter() - t0
            lat = []
            for q in queries[1:]:
                t0 = time.perf_counter()
                memory.retrieve(q)
                lat.append(time.perf_counter() - t0)
            store.add(make_record(*contexts[n % len(contexts)]))
            t0 = time.perf_counter()
            memory.retrieve(queries[0])
            after_add = time.perf_counter() - t0
            print(f"| {n:,} | {p50_p95(lat)} | {first:.1f} s | {after_add * 1000:.0f} ms |", flush=True)
            memory.close()


class SubmitAt(ExecutionObserver):
    """Submits a correction at control step `step` of skill `skill` and notes when and where."""

    def __init__(self, live: LiveCorrections, skill_index: int, step: int, text: str) -> None:
        self.live, self.skill_index, self.step, self.text = live, skill_index, step, text
        self.steps = 0
        self.submitted: tuple[int, float] | None = None

    def skill_progress(self, index: int, fraction: float) -> None:
        self.steps += 1
        if index == self.skill_index and self.submitted is None:
            self.step -= 1
            if self.step <= 0:
                self.submitted = (self.steps, time.perf_counter())
                self.live.submit(self.text)


def bench_effect(trials: int) -> None:
    """submit() -> the parameter in the running skill's ctx.params (updates_for returns it to run_skill)."""
    scheduler = Scheduler()
    cases = [("put the red cube in the tray", 1, "2 cm to the left", "offset_y"),
             ("put the red cube in the tray", 1, "slower", "speed"),
             ("pick up the red cube", 0, "grasp it 1 cm lower", "grasp_offset"),
             ("push the yellow cube 10 cm to the left", 0, "push it 2 cm further", "distance")]
    rows: dict[tuple[str, bool], list[tuple[int, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        memory = CorrectionMemory.open(Path(tmp) / "corrections.db")
        for trial in range(trials):
            task, index, text, param = cases[trial % len(cases)]
            for stored in (True, False):
                with PyBulletArm(PyBulletConfig(seed=trial)) as arm:
                    live = LiveCorrections(task, arm, memory if stored else None, notify=lambda _: None)
                    applied: list[tuple[int, float]] = []
                    observer = SubmitAt(live, index, 3 + trial % 5, text)
                    inner = live.updates_for

                    def updates_for(call, current, inner=inner, applied=applied, observer=observer):
                        updates = inner(call, current)
                        if updates:
                            applied.append((observer.steps, time.perf_counter()))
                        return updates
                    live.updates_for = updates_for
                    plan = scheduler.plan(task, arm)
                    Executor(arm, arm, scheduler.skills, observer=observer, live=live).run(plan)
                    if observer.submitted and applied:
                        steps = applied[0][0] - observer.submitted[0]
                        rows.setdefault((f"{text} ({param})", stored), []).append(
                            (steps, applied[0][1] - observer.submitted[1]))
        memory.close()
    print("\n| correction (parameter) | stored in SQLite | control steps lost (0 = the next command uses it) "
          "| wall ms submit -> in effect (p50 / max) | n |")
    print("|---|---|---|---|---|")
    for (label, stored), vals in rows.items():
        steps = sorted({s for s, _ in vals})
        wall = [w for _, w in vals]
        print(f"| {label} | {'yes' if stored else 'no (memory off)'} | {', '.join(map(str, steps))} | "
              f"{statistics.median(wall) * 1e3:.1f} / {max(wall) * 1e3:.1f} | {len(vals)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--memory-sizes", default="10000,100000", help="end-to-end CorrectionMemory sizes")
    parser.add_argument("--base", type=int, default=10_000, help="distinct texts embedded")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--effect-trials", type=int, default=20)
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}, "
          f"faiss {faiss.__version__}; date {datetime.date.today()}; load {os.getloadavg()[0]:.2f}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    bench_effect(args.effect_trials)
    contexts = context_texts(args.base + args.queries, seed=1)
    base_ctx, query_ctx = contexts[:args.base], contexts[args.base:]
    embedder = get_embedder()
    t0 = time.perf_counter()
    base = embedder.encode([make_record(*c).context_text() for c in base_ctx])
    print(f"\nembedded {len(base_ctx)} distinct correction contexts in {time.perf_counter() - t0:.0f} s; sets larger "
          f"than that tile these vectors with Gaussian noise (sigma 0.02/dim), renormalised: near-duplicate "
          f"clusters, not distinct sentences. Queries: {len(query_ctx)} held-out contexts (RetrievalQuery text).")
    query_texts = [c[3] for c in query_ctx]
    queries = embedder.encode([RetrievalQuery(task=c[3], skill=c[0], object=c[2]).text() for c in query_ctx])
    bench_ann(base, queries, [int(s) for s in args.sizes.split(",") if s])
    bench_memory(base_ctx, base, query_texts[:20], [int(s) for s in args.memory_sizes.split(",") if s])


if __name__ == "__main__":
    main()
