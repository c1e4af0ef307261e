"""Fleet memory sync: throughput (records/s) and the delay from one robot's correction to another robot's
retrieval, against a real PostgreSQL server (#19).

    python bench/fleet_sync.py [--records 10000] [--delays 30] [--url postgresql://user@host:port/db]
    python bench/fleet_sync.py --soak 100-119     # held-out random schedules: do the robots converge?

Without --url it starts a throwaway cluster (tests/postgres_cluster.py: Debian's server binaries, a temporary
directory, a free loopback port). Figures, each beside its reference from the same run:
- push: robot A's N records (in its file) to the server by `sync_once`, against the same N written to the
  server directly in one transaction (PostgresStore.add_many: what the sync's bookkeeping costs on top);
- pull: robot B, empty, takes those 2N by `sync_once`, against A's local writes of N (SqliteStore.add_many);
- delay: robot A (this process) stores a correction; robot B (a second process, its background sync on,
  real MiniLM + FAISS, its index following its file) retrieves it for its next task's context, retrying
  every 5 ms; reported with NOTIFY (the default) and with polling alone (poll_s 1.0) as the reference.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from planners.corrections.memory import CorrectionRecord, ObjectContext, RetrievalQuery
from planners.corrections.memory.postgres import PostgresStore
from planners.corrections.memory.sqlite import SqliteStore
from planners.corrections.memory.sync import FleetStore, SyncConfig

REPO = Path(__file__).resolve().parents[1]


def correction(number: int, robot: str, tag: str) -> CorrectionRecord:
    """A skill correction about an object kind of its own (so that exactly this one is retrieved)."""
    category = f"{tag}widget{number}"
    return CorrectionRecord(text=f"grasp the {category} 1 cm lower", kind="skill", skill="pick",
                            parameter="grasp_offset", value=-0.01, scope="object", robot=robot,
                            object=ObjectContext(f"red_{category}", category, "red", "small"),
                            task=f"pick up the red {category}")


def query(number: int, tag: str) -> RetrievalQuery:
    category = f"{tag}widget{number}"
    return RetrievalQuery(task=f"grab the small red {category}", skill="pick",
                          object=ObjectContext(f"red_{category}", category, "red", "small"))


def throughput(url: str, work: Path, count: int) -> dict[str, float]:
    records = [correction(i, "a", "t") for i in range(count)]
    with SqliteStore(work / "a.db") as a_file:
        start = time.perf_counter()
        a_file.add_many(records)
        local = count / (time.perf_counter() - start)
    with PostgresStore(url) as direct:
        start = time.perf_counter()
        direct.add_many([correction(i, "d", "d") for i in range(count)])
        direct_rate = count / (time.perf_counter() - start)
    with FleetStore(url, local=work / "a.db", start=False) as a, FleetStore(url, local=work / "b.db", start=False) as b:
        start = time.perf_counter()
        report = a.sync.sync_once()
        push = report.pushed / (time.perf_counter() - start)
        start = time.perf_counter()
        pulled = b.sync.sync_once()
        pull = pulled.applied / (time.perf_counter() - start)
        assert report.pushed == count and pulled.applied == 2 * count and len(b) == 2 * count, (report, pulled)
    return {f"local write ({count})": local, f"direct to server ({count})": direct_rate, f"push ({count})": push,
            f"pull ({2 * count})": pull}


def learner(url: str, db: str, listen: bool, tag: str) -> None:
    """Robot B: for each number read on stdin, retrieve until its correction comes; print the time."""
    from planners.corrections.memory import CorrectionMemory
    from skill_lib.embedding import get_embedder

    memory = CorrectionMemory(FleetStore(url, local=db, config=SyncConfig(poll_s=1.0, listen=listen)),
                              embedder=get_embedder())
    assert isinstance(memory.store, FleetStore)
    memory.store.sync.on_change.append(memory.index.ensure_current)
    memory.embedder.encode(["warm up"])  # the model and index loaded before the first measurement
    memory.index.ensure_current()
    print("ready", flush=True)
    for line in sys.stdin:
        number = int(line)
        while not memory.retrieve(query(number, tag)):
            time.sleep(0.005)
        print(f"{time.time():.6f}", flush=True)
    memory.close()


def delays(url: str, work: Path, count: int, listen: bool) -> list[float]:
    tag = "n" if listen else "p"
    child = subprocess.Popen([sys.executable, __file__, "--learner", url, str(work / f"b_{tag}.db"), str(int(listen)),
                              tag], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdin is not None and child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    found, gaps = [], random.Random(7)
    with FleetStore(url, local=work / f"a_{tag}.db", config=SyncConfig(poll_s=1.0, listen=listen)) as teacher:
        for number in range(count):
            child.stdin.write(f"{number}\n")
            child.stdin.flush()
            # the learner is asking already (waiting for its next task's correction); a random gap, so that
            # the polling reference's phase is not locked to the corrections'
            time.sleep(gaps.uniform(0.2, 1.2))
            start = time.time()
            teacher.add(correction(number, "a", tag))
            found.append(float(child.stdout.readline()) - start)
    child.stdin.close()
    child.wait(30)
    return found


def soak(seeds: str) -> None:
    """Held-out convergence runs on a throwaway cluster: one fresh database per seed."""
    sys.path += [str(REPO / "tests"), str(REPO / "tests" / "planners" / "corrections")]
    from fleet_soak import run_soak
    from postgres_cluster import PostgresCluster

    first, _, last = seeds.partition("-")
    cluster = PostgresCluster()
    cluster.start()
    passed, failed = 0, []
    try:
        for seed in range(int(first), int(last or first) + 1):
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    result = run_soak(cluster.new_database(), Path(tmp), seed, cluster=cluster)
                    passed += 1
                    print(f"seed {seed}: converged ({result['fleet_records']} fleet records, {result['deleted']} "
                          f"deleted, {result['outages']} server crashes)")
                except AssertionError as err:
                    failed.append(seed)
                    print(f"seed {seed}: DIVERGED: {err}")
    finally:
        cluster.remove()
    print(f"soak: {passed} converged, {len(failed)} diverged {failed if failed else ''}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=10000)
    parser.add_argument("--delays", type=int, default=30)
    parser.add_argument("--url", help="a PostgreSQL database to use (default: a throwaway local cluster)")
    parser.add_argument("--soak", help="instead: random schedules (tests/planners/corrections/fleet_soak.py) "
                        "for these seeds, e.g. 100-119 (held out: the tests use 0-2), each with two server crashes")
    args = parser.parse_args()
    if args.soak:
        soak(args.soak)
        return
    cluster = None
    if args.url is None:
        sys.path.append(str(REPO / "tests"))
        from postgres_cluster import PostgresCluster
        cluster = PostgresCluster()
        cluster.start()
    try:
        base = args.url or cluster.url()  # type: ignore[union-attr]
        if cluster is not None:
            import psycopg
            with psycopg.connect(cluster.url(), autocommit=True) as conn:
                for name in ("bench", "bench_delay"):
                    conn.execute(f"CREATE DATABASE {name}")
            base = cluster.url("bench")
        print(f"# fleet sync, {datetime.date.today()}, {platform.node()}, {os.cpu_count()} CPUs, "
              f"{'throwaway local cluster' if cluster else 'given server'}")
        with tempfile.TemporaryDirectory() as tmp:
            rates = throughput(base, Path(tmp), args.records)
            print(f"throughput (records/s; in brackets: records moved):")
            for name, rate in rates.items():
                print(f"  {name:<24} {rate:10.0f}")
            delay_url = cluster.url("bench_delay") if cluster else base
            for listen in (True, False):
                found = delays(delay_url, Path(tmp), args.delays, listen)
                print(f"correction on robot A -> retrieved by robot B ({'NOTIFY' if listen else 'polling 1 s'}, "
                      f"{len(found)} corrections): p50 {1000 * statistics.median(found):.0f} ms, "
                      f"p95 {1000 * percentile(found, 0.95):.0f} ms, max {1000 * max(found):.0f} ms")
    finally:
        if cluster is not None:
            cluster.remove()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--learner":
        learner(sys.argv[2], sys.argv[3], sys.argv[4] == "1", sys.argv[5])
    else:
        main()
