"""A seeded random schedule of what robots do to their memories (add, disable, enable, delete, narrow, keep to
themselves) while syncing at random moments, the server crashing twice when a cluster is given; afterwards every robot and the
server must hold the same fleet records, each once. Used by tests (development seeds) and by
bench/fleet_sync.py --soak (held-out seeds, not looked at while developing)."""
from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import psycopg

from planners.corrections.memory import CorrectionRecord, ObjectContext
from planners.corrections.memory.sqlite import payload
from planners.corrections.memory.sync import FleetStore, SyncConfig, SyncOutcome

SIZES, COLOURS = ("small", "large"), ("red", "blue", "green")


def _record(rng: random.Random, robot: str) -> CorrectionRecord:
    size, colour = rng.choice(SIZES), rng.choice(COLOURS)
    value = rng.choice((-0.02, -0.01, 0.01, 0.02))
    return CorrectionRecord(text=f"{robot}: grasp {value:+.2f} on the {size} {colour} cube", kind="skill",
                            skill="pick", parameter="grasp_offset", value=value,
                            scope=rng.choice(("category", "category", "object")), robot=robot,
                            share="robot" if rng.random() < 0.1 else "fleet",
                            object=ObjectContext(f"{colour}_cube", "cube", colour, size))


def _fleet_view(records: list[CorrectionRecord]) -> dict[str, tuple]:
    return {r.uid: (payload(r), r.disabled) for r in records if r.share == "fleet"}


def run_soak(url: str, work: Path, seed: int, *, steps: int = 120, robots: int = 3, cluster=None) -> dict:
    """Run one schedule; returns what was checked. Raises AssertionError on a divergence."""
    rng = random.Random(seed)
    config = SyncConfig(connect_timeout_s=1.0)
    stores = [FleetStore(url, local=work / f"soak{seed}_{i}.db", config=config, start=False) for i in range(robots)]
    deleted: set[str] = set()
    outages = 0
    try:
        for step in range(steps):
            if cluster is not None and step in (steps // 3, 2 * steps // 3):
                outages += 1
                cluster.stop("immediate")  # a crash; the robots keep working offline
                for other in stores:
                    other.add(_record(rng, other.path.stem))
                    assert other.sync.sync_once().outcome is SyncOutcome.OFFLINE
                cluster.start()
            store = rng.choice(stores)
            name = store.path.stem
            live = store.all()
            action = rng.random()
            if action < 0.4 or not live:
                store.add(_record(rng, name))
            elif action < 0.5:
                store.set_disabled(rng.choice(live).id, rng.random() < 0.7)  # type: ignore[arg-type]
            elif action < 0.58:
                gone = rng.choice(live)
                store.delete(gone.id)  # type: ignore[arg-type]
                deleted.add(gone.uid)
            elif action < 0.68:  # narrowed on this robot: the same uid, changed, in one transaction
                old = rng.choice(live)
                if old.object is not None and old.scope == "category":
                    store.add_many([replace(old, id=None, scope="category+size", note="narrowed here")],
                                   replacing=[old.id])  # type: ignore[list-item]
            else:
                store.sync.sync_once()
        for _ in range(2):  # everything pushed, then everything pulled
            for store in stores:
                assert store.sync.sync_once().outcome is SyncOutcome.SYNCED
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT uid FROM corrections WHERE NOT deleted").fetchall()
        server = [row[0] for row in rows]
        assert len(server) == len(set(server))
        views = [_fleet_view(store.all()) for store in stores]
        for i, view in enumerate(views):
            assert view == views[0], f"robot {i} differs from robot 0 (seed {seed})"
            assert set(view) == set(server), f"robot {i} differs from the server (seed {seed})"
            assert not deleted & set(view), f"a deleted record came back on robot {i} (seed {seed})"
            uids = [r.uid for r in stores[i].all()]
            assert len(uids) == len(set(uids))
        return {"seed": seed, "fleet_records": len(server), "deleted": len(deleted), "outages": outages}
    finally:
        for store in stores:
            store.close()
