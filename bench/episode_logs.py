"""Episode logs for the experimenter (`skillstack experiment`): runs a small, seeded set of tasks in-process with
the learned skills and writes one run directory per task, `OUT/<nnn>-<kind>/episode.jsonl`, exactly as
`skillstack run` writes it (planners/episode_log.py).

The tasks are the task suite's (bench/task_suite.py, a few per category of one split) plus tasks the suite does
not ask for but operators do: the drawer scene (pull, the mug, containers), the lego brick and pushes over the
whole 2-25 cm range. Operator corrections come from a correction memory of the set's own, taught a few
skill-level corrections before the tasks run (the way an operator's earlier corrections are stored).

    python bench/episode_logs.py OUT [--split dev|heldout-b] [--per-category 3]

The committed sets (tests/fixtures/experimenter/) are `--split dev` (developed on) and `--split heldout-b`
(kept for the held-out test, not looked at while developing the analyser).
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/task_suite.py, beside this file

from task_suite import SPLIT_SEEDS, TEMPLATES, Person, generate  # noqa: E402

#: operator corrections taught before the tasks run: (text, task it was given in)
CORRECTIONS = (("grasp it lower", "pick up the lego brick"), ("grasp it by the handle", "pick up the mug"),
               ("hover 5 cm higher", "move to the blue cube"))
#: tasks beyond the suite: (scene, template); {a}: a cube of the scene, {d}: cm (2-25), {dir}: a direction
EXTRA = (("drawer", "open the drawer"), ("drawer", "pull the drawer {d} cm"), ("drawer", "pick up the mug"),
         ("drawer", "put the mug in the tray"), ("drawer", "put the {a} in the tray"),
         ("default", "pick up the lego brick"), ("default", "put the lego in the tray"),
         ("default", "push the {a} {d} cm {dir}"), ("default", "push the {a} {d} cm {dir}"),
         ("default", "push the {a} {d} cm {dir}"), ("default", "push the {a} {d} cm {dir}"),
         ("default", "move to the {a}"))
DRAWER_CUBES = ("red cube", "blue cube")
DEFAULT_CUBES = ("red cube", "green cube", "blue cube", "yellow cube")
DIRECTIONS = ("to the left", "to the right", "forward", "backward")


def extra_tasks(split: str) -> list[tuple[str, str, int]]:
    """(scene, task text, scene seed) of the tasks beyond the suite, drawn from the split's random stream."""
    rng = random.Random(100 + SPLIT_SEEDS[split])
    out = []
    for i, (scene, template) in enumerate(EXTRA):
        words = dict(a=rng.choice(DRAWER_CUBES if scene == "drawer" else DEFAULT_CUBES), d=rng.randrange(2, 26),
                     dir=rng.choice(DIRECTIONS))
        if "drawer" in template:
            words["d"] = rng.randrange(5, 16)
        out.append((scene, template.format(**words), 5000 + 100 * SPLIT_SEEDS[split] + i))
    return out


def _jsonable(value):
    """Workaround, named as one: planners.episode_log.jsonable refuses numpy booleans, which a mug task's goal
    check returns (`skillstack run "pick up the mug" --scene drawer` fails the same way at task_end)."""
    import numpy as np

    from planners import episode_log
    return bool(value) if isinstance(value, np.bool_) else episode_log.numpy_jsonable(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--split", choices=tuple(SPLIT_SEEDS), default="dev")
    parser.add_argument("--per-category", type=int, default=3)
    args = parser.parse_args()

    from hardware.pybullet import PyBulletArm, PyBulletConfig
    from hardware.scene import load_scene, nominal_objects
    from planners.corrections import CorrectionContext, CorrectionError
    from planners.corrections.memory import CorrectionMemory
    from planners.corrections.runtime import record_correction
    from planners.episode_log import EpisodeLog
    from planners.plan import TaskError
    from planners.scheduler import Scheduler

    from planners import episode_log
    if not hasattr(episode_log, "numpy_jsonable"):
        episode_log.numpy_jsonable = episode_log.jsonable  # type: ignore[attr-defined]
        episode_log.jsonable = _jsonable
    scheduler = Scheduler(learned=True)
    data = Path(tempfile.mkdtemp(prefix="episode_logs_"))
    memory = CorrectionMemory.open(data / "corrections.db", embedder=scheduler.library.embedder)
    for text, task in CORRECTIONS:
        scene = "drawer" if "mug" in task else "default"
        try:
            record_correction(text, CorrectionContext(task=task, objects=nominal_objects(scene), source="cli"), memory)
        except CorrectionError as err:
            print(f"correction {text!r} not stored: {err}")
    suite = [t for t in generate(args.per_category, args.split, list(TEMPLATES)) if t.category != "refusals"]
    jobs = [("default", t.text, t.seed, t.category, t) for t in suite]
    jobs += [(scene, text, seed, "extra", None) for scene, text, seed in extra_tasks(args.split)]
    started = time.perf_counter()
    for i, (scene, text, seed, kind, task) in enumerate(jobs):
        taught = task is not None and task.teach is not None
        scheduler.corrections = CorrectionMemory.open(data / f"{i}.db", embedder=scheduler.library.embedder) \
            if taught else memory
        with PyBulletArm(PyBulletConfig(seed=seed), scene=load_scene(scene)) as arm:
            if taught:
                record_correction(task.teach, CorrectionContext(objects=arm.objects(), source="cli"),
                                  scheduler.corrections)
            try:
                plan = scheduler.plan(text, arm)
            except TaskError as err:
                print(f"[{i:>3}] refused {text!r}: {err}")
                continue
            person = Person(arm, task.disturb, seed) if task is not None and task.disturb else None
            with EpisodeLog(args.out / f"{i:03d}-{kind.replace(' ', '_')}" / "episode.jsonl") as log:
                log.write("run", task=text, scene=scene, seed=seed, robot="panda")
                report = scheduler.execute(plan, arm, arm, log=log, observer=person)
            ran = ", ".join(f"{o.skill} {o.policy}" for o in report.outcomes)
            print(f"[{i:>3}] {'ok  ' if report.success else 'FAIL'} {text!r} ({scene}, seed {seed}): {ran}", flush=True)
    print(f"{len(jobs)} tasks in {time.perf_counter() - started:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
