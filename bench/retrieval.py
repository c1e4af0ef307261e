"""Retrieval benchmark: skills (model load, index build, query latency), flat vs HNSW FAISS at scale, and
CorrectionMemory.retrieve at 10k / 100k / 1M stored corrections beside an exact-scan index (bench/_correction_scale.py).

    python bench/retrieval.py [--queries N]                       # skills + FAISS, about a minute
    python bench/retrieval.py --only memory --memory 10000,100000 # correction retrieval (1000000: ~30 min, 12 GB)
    python bench/retrieval.py --only feed --memory 1000000        # another process's write -> retrievable (~15 min)

Uses `skill_lib.skills.default_skills()` when it exists, else a few example skills defined here.
Nothing is downloaded: MiniLM comes from its pip package. Runs in about a minute on a 2-core CPU.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from skill_lib.embedding import Embedder
from skill_lib.library import SkillLibrary
from skill_lib.spec import SkillSpec

# queries that are not phrasings of any skill, labelled with the skill they ask for
LABELLED = {
    "grasp the red block": "pick", "take the green cube": "pick", "lift the blue cube": "pick",
    "get hold of the brick": "pick", "pick the mug up": "pick",
    "put the block in the bowl": "place", "place the cube on the plate": "place",
    "set the object down": "place", "lay it on the shelf": "place", "put the cube into the box": "place",
    "nudge the cube sideways": "push", "slide the block to the right": "push", "push the box forward": "push",
    "shove the cube to the right": "push", "push the red cube 5 cm left": "push",
    "hover above the tray": "move_to", "move the arm over the bin": "move_to", "go to the box": "move_to",
    "move over the green cube": "move_to", "position yourself above the bowl": "move_to",
    "let go of it": "open_gripper", "release your grip": "open_gripper", "open the fingers": "open_gripper",
    "drop whatever you hold": "open_gripper",
    "close the fingers": "close_gripper", "grip it tightly": "close_gripper", "clamp the fingers": "close_gripper",
}
UNRELATED = ["what is the weather in Paris", "play some music", "turn on the lights in the kitchen",
             "how old are you", "book a flight to Rome", "write a poem about the sea"]


def _no_policy():
    raise RuntimeError("the retrieval benchmark never runs a policy")


def _example_skills() -> list[SkillSpec]:
    def skill(name: str, description: str, *phrasings: str) -> SkillSpec:
        return SkillSpec(name, description, phrasings, (), (), (), 10.0, _no_policy)

    return [
        skill("pick", "pick up an object with the gripper", "pick up the cube", "grab the block",
              "lift the object"),
        skill("place", "place the held object on a surface or into a container", "put it in the tray",
              "set it down on the box"),
        skill("push", "push an object along the table in a direction", "push the cube to the left",
              "shove the block forward"),
        skill("move_to", "move the gripper to a position above a target without touching it", "go to the tray",
              "move above the red cube", "hover over the box"),
        skill("open_gripper", "open the gripper fingers to release whatever they hold", "open the gripper",
              "let go", "release it"),
        skill("close_gripper", "close the gripper fingers to grasp what is between them", "close the gripper",
              "squeeze the fingers shut", "close your hand"),
    ]


def load_skills() -> tuple[list[SkillSpec], str]:
    try:
        from skill_lib.skills import default_skills
    except ImportError:
        return _example_skills(), "example skills from bench/retrieval.py (no default_skills())"
    return default_skills(), "skill_lib.skills.default_skills()"


def synthetic_sentences(n: int, seed: int) -> list[str]:
    """Task, skill and correction sentences of the kind the library and correction store hold."""
    rng = random.Random(seed)
    colours = ["red", "green", "blue", "yellow", "black", "white", "orange", "purple", "grey", "pink"]
    objects = ["cube", "block", "mug", "cup", "bottle", "can", "sponge", "ball", "box", "tray", "bowl",
               "drawer", "plate", "banana", "apple", "marker", "screwdriver", "lid", "bin", "brick"]
    verbs = ["pick up", "grasp", "grab", "lift", "put down", "place", "push", "slide", "nudge", "move to",
             "hover over", "open", "close", "pull", "rotate", "stack", "drop", "hand over", "wipe", "pour"]
    places = ["on the table", "into the tray", "on the shelf", "next to the bowl", "in the drawer",
              "onto the plate", "to the left", "to the right", "behind the box", "in front of the robot"]
    corrections = ["grasp it {d} cm lower", "move {d} cm to the {side}", "go slower near the {o}",
                   "you need to open the drawer first", "the {c} {o} is slippery, squeeze harder",
                   "approach the {o} from the side", "that was too fast", "lift it {d} cm higher",
                   "no, the other {o}", "push it {d} cm further", "rotate the gripper before grasping the {o}"]
    out: set[str] = set()
    while len(out) < n:
        c, o, o2 = rng.choice(colours), rng.choice(objects), rng.choice(objects)
        kind = rng.random()
        if kind < 0.45:
            s = f"{rng.choice(verbs)} the {c} {o}"
        elif kind < 0.75:
            s = f"{rng.choice(verbs)} the {c} {o} {rng.choice(places)}"
        elif kind < 0.9:
            s = rng.choice(corrections).format(d=rng.randint(1, 15), side=rng.choice(["left", "right"]), o=o, c=c)
        else:
            s = f"{rng.choice(verbs)} the {o} and then {rng.choice(verbs)} the {c} {o2}"
        out.add(s)
    return sorted(out)


def timed(fn, *args):
    t0 = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - t0


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.2f} ms"


def bench_library(embedder: Embedder, skills: list[SkillSpec], n_queries: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lib, t_build = timed(SkillLibrary, skills, Path(tmp), embedder)
        rows = sum(1 + len(s.phrasings) for s in skills)
        print(f"index build ({len(skills)} skills, {rows} texts embedded): {ms(t_build)}")
        reloaded, t_load = timed(SkillLibrary, skills, Path(tmp), embedder)
        assert reloaded.loaded_from_disk
        print(f"index reload from disk (no embedding):        {ms(t_load)}")

    queries = synthetic_sentences(max(n_queries, 1), seed=7)
    lib.search(queries[0])  # warm up torch's first-call overheads
    embed_t, faiss_t, total_t = [], [], []
    for q in queries:
        t0 = time.perf_counter()
        vec = embedder.encode([q])[0]
        t1 = time.perf_counter()
        lib.search_vector(vec, k=5)
        t2 = time.perf_counter()
        lib.search(q, k=5)
        t3 = time.perf_counter()
        embed_t.append(t1 - t0), faiss_t.append(t2 - t1), total_t.append(t3 - t2)
    print(f"per-query latency over {len(queries)} queries (median / p95):")
    for name, vals in [("SkillLibrary.search", total_t), ("  embedding (MiniLM)", embed_t),
                       ("  FAISS + per-skill max", faiss_t)]:
        print(f"  {name:24s} {ms(statistics.median(vals))} / {ms(pct(vals, 95))}")

    print("top-1 on labelled paraphrases, and abstention (match threshold 0.45) on unrelated queries:")
    known = [(q, n) for q, n in LABELLED.items() if n in lib]
    for weight in (0.0, 0.5):
        with tempfile.TemporaryDirectory() as tmp:
            wlib = SkillLibrary(skills, Path(tmp), embedder, text_weight=weight)
        top1 = sum(wlib.search(q, 1)[0].skill.name == n for q, n in known)
        accepted_right = sum((m := wlib.match(q)) is not None and m.skill.name == n for q, n in known)
        accepted_wrong = sum((m := wlib.match(q)) is not None and m.skill.name != n for q, n in known)
        leaked = sum(wlib.match(q) is not None for q in UNRELATED)
        worst_unrelated = max(wlib.search(q, 1)[0].score for q in UNRELATED)
        label = "max over rows" if weight == 0 else f"text_weight={weight}"
        print(f"  {label:18s} top-1 {top1}/{len(known)}; match: {accepted_right} right, {accepted_wrong} wrong, "
              f"{len(known) - accepted_right - accepted_wrong} abstained; unrelated accepted "
              f"{leaked}/{len(UNRELATED)} (best unrelated score {worst_unrelated:.3f})")


def bench_ann(embedder: Embedder, n_base_sentences: int) -> None:
    sentences = synthetic_sentences(n_base_sentences + 300, seed=1)
    rng = np.random.default_rng(0)
    rng.shuffle(sentences)
    base_texts, query_texts = sentences[:n_base_sentences], sentences[n_base_sentences:]
    base, t_embed = timed(embedder.encode, base_texts)
    queries = embedder.encode(query_texts)
    print(f"embedded {len(base_texts)} generated skill/correction sentences in {t_embed:.1f} s "
          f"({len(base_texts) / t_embed:.0f}/s); {len(query_texts)} held-out sentences as queries")
    noise = 0.02
    print(f"sets larger than {len(base)} = those vectors tiled with Gaussian noise (sigma {noise}/dim, cosine "
          f"to the source ~0.93) and renormalised: synthetic near-duplicate clusters, not distinct sentences")
    print(f"{'vectors':>8s} {'flat ms/q (p50/p95)':>22s} {'HNSW ms/q (p50/p95)':>22s} {'HNSW build':>11s} "
          f"{'recall@10':>10s}")
    for n in sorted({len(base), 10_000, 100_000}):
        reps = int(np.ceil(n / len(base)))
        tiled = np.concatenate([base] + [base + rng.normal(0, noise, base.shape).astype(np.float32)
                                         for _ in range(reps - 1)])[:n]
        tiled /= np.linalg.norm(tiled, axis=1, keepdims=True)
        flat = faiss.IndexFlatIP(tiled.shape[1])
        flat.add(tiled)
        hnsw = faiss.IndexHNSWFlat(tiled.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        _, t_build = timed(hnsw.add, tiled)
        hnsw.hnsw.efSearch = 64
        lat = {"flat": [], "hnsw": []}
        found = {"flat": [], "hnsw": []}
        for q in queries:  # one query at a time, as the planner asks
            for name, index in (("flat", flat), ("hnsw", hnsw)):
                t0 = time.perf_counter()
                _, ids = index.search(q.reshape(1, -1), 10)
                lat[name].append(time.perf_counter() - t0)
                found[name].append(ids[0])
        recall = np.mean([len(set(h) & set(f)) / 10 for h, f in zip(found["hnsw"], found["flat"])])
        f, h = lat["flat"], lat["hnsw"]
        print(f"{n:>8d} {statistics.median(f) * 1e3:>12.3f} / {pct(f, 95) * 1e3:<7.3f} "
              f"{statistics.median(h) * 1e3:>12.3f} / {pct(h, 95) * 1e3:<7.3f} {t_build:>9.1f} s {recall:>10.3f}")
        # what more recall costs: larger beams on the same graph
        for ef in (128, 256):
            hnsw.hnsw.efSearch = ef
            t0 = time.perf_counter()
            ids = [hnsw.search(q.reshape(1, -1), 10)[1][0] for q in queries]
            per_q = (time.perf_counter() - t0) / len(queries)
            r = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, found["flat"])])
            print(f"{'':>8s}   same graph, efSearch {ef}: {per_q * 1e3:.3f} ms/q mean, recall@10 {r:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=200, help="queries for the latency figures")
    parser.add_argument("--base-sentences", type=int, default=10_000,
                        help="distinct sentences embedded for the flat-vs-HNSW comparison")
    parser.add_argument("--only", choices=["skills", "ann", "memory", "feed"], action="append",
                        help="run only these parts (repeatable; default: all)")
    parser.add_argument("--memory", default="10000,100000",
                        help="stored corrections for the CorrectionMemory.retrieve part, comma-separated")
    parser.add_argument("--real", type=int, default=100_000,
                        help="distinct record contexts embedded with MiniLM; larger stores tile them with noise")
    parser.add_argument("--memory-queries", type=int, default=200, help="held-out query contexts")
    parser.add_argument("--trials", type=int, default=20, help="writes by another process timed (--only feed)")
    args = parser.parse_args()
    parts = set(args.only or ["skills", "ann", "memory"])  # feed: only when asked
    sizes = sorted(int(n) for n in args.memory.split(","))

    print(f"skill retrieval benchmark, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs; Python {platform.python_version()}; faiss {faiss.__version__} "
          f"({faiss.omp_get_max_threads()} threads)")
    # timings on a shared machine are only comparable at similar load
    print(f"load average before the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    embedder, t_load = timed(Embedder)
    print(f"model cold load ({embedder.model_id}, {embedder.backend}): {t_load:.2f} s")
    if "skills" in parts:
        skills, source = load_skills()
        print(f"skills: {len(skills)} from {source}")
        bench_library(embedder, skills, args.queries)
    if "ann" in parts:
        bench_ann(embedder, args.base_sentences)
    if "memory" in parts:
        from _correction_scale import run  # bench/ is on the path of a script run from it

        run(embedder, sizes, min(args.real, max(sizes)), args.memory_queries)
    if "feed" in parts:
        from _correction_scale import run_feed

        run_feed(embedder, sizes, min(args.real, max(sizes)), args.memory_queries, args.trials)


if __name__ == "__main__":
    sys.exit(main())
