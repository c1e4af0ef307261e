"""The correction benchmark's scripted operator: hidden ground truth, the checks it runs in PyBullet after
each task, and the seeded paraphrase templates (with optional word noise) it corrects the robot with.

The robot never sees anything in this module except the correction text. Ground truth is expressed only
through existing skill parameters and plan rules:
- large cubes go in the tray 5 cm left of its centre (place.offset_y = +0.05), small cubes 5 cm right of it
  (-0.05), within 2 cm: a preference that depends on an attribute inside a category, so a correction
  taught on one size transfers wrongly to the other unless the memory learns that size matters;
- Lego bricks go in the bin (plan rule "destination"); the task text always says "tray";
- cartons (4 x 4 x 12 cm, tall) are grasped 3 cm above their centre (pick.grasp_offset = +0.03): the
  default centre grasp puts the palm on the carton's top and tips it over (measured: 1-2/8 seeds upright
  at offset 0, 8/8 at +0.02 and +0.03), so "lifted and upright" fails without the correction;
- drawers (config/objects/drawer.urdf, 18 cm of travel) are open when at least 85 % out: the pull
  skill's default 10 cm leaves them at 56 %, so "open the drawer" fails without a longer pull;
- balls and dice (out-of-category distractors) go in the tray anywhere: the default is right for them.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import pybullet as pb

from hardware.pybullet import PyBulletArm
from hardware.scene import COLORS_RGBA, SceneSpec, load_scene
from planners.executor import TaskReport
from skill_lib import predicates as P

PLACE_TOLERANCE_M = 0.02
#: what the operator says, at most, per task (every utterance counts, understood or not)
CORRECTION_BUDGET = 3


@dataclass(frozen=True)
class GroundTruth:
    task: str  # "put" (put X in the tray), "pick" (pick up X) or "open" (open the drawer)
    container: str | None = None
    place_offset: tuple[float, float] | None = None  # (x, y) from the container's centre, metres
    grasp_offset: float | None = None
    opening: float | None = None  # fraction of the drawer's travel that counts as open


DRAWER_TRAVEL = 0.18  # config/objects/drawer.urdf


#: by category, or (category, size) where the size decides
GROUND_TRUTH: dict[str | tuple[str, str], GroundTruth] = {
    "cube": GroundTruth("put", container="tray", place_offset=(0.0, 0.05)),
    ("cube", "small"): GroundTruth("put", container="tray", place_offset=(0.0, -0.05)),
    "lego": GroundTruth("put", container="bin"),
    "carton": GroundTruth("pick", grasp_offset=0.03),
    "drawer": GroundTruth("open", opening=0.85),
    "ball": GroundTruth("put", container="tray"),
    "die": GroundTruth("put", container="tray"),
}


def truth_for(category: str | None, size: str | None = None) -> GroundTruth | None:
    return GROUND_TRUTH.get((category or "", size or "")) or GROUND_TRUTH.get(category or "")


#: the robot's defaults for the same knobs (skill_lib.skills): what "no knowledge" means
DEFAULT_GRASP_OFFSET = 0.0

PUT_TASKS = ("put the {x} in the tray", "place the {x} in the tray", "put the {x} into the tray",
             "drop the {x} into the tray")
PICK_TASKS = ("pick up the {x}", "grab the {x}", "lift the {x}", "pick the {x} up")
OPEN_TASKS = ("open the {x}", "pull the {x} open", "pull out the {x}", "pull open the {x}")
TASKS = {"put": PUT_TASKS, "pick": PICK_TASKS, "open": OPEN_TASKS}


@dataclass(frozen=True)
class TaskSpec:
    round: int
    group: str  # "seen", "novel" or "other" (out-of-category distractor)
    scene: str
    obj: str
    category: str
    seed: int
    text: str
    noun: str  # how the operator names the object ("small blue cube")


def load_bench_scene(name: str) -> SceneSpec:
    return load_scene(name)  # the loader makes the project's own URDF paths absolute


def paint_urdf_objects(arm: PyBulletArm) -> None:
    """URDF objects carry their own colour; paint them the scene's colour so the camera sees what the
    scene says (a blue carton is blue). Containers keep their texture."""
    client = arm.physics_client
    for spec in arm.scene.objects:
        if spec.urdf is None or spec.container or spec.color is None:
            continue
        body = arm.body_id(spec.name)
        for link in range(-1, pb.getNumJoints(body, physicsClientId=client)):
            pb.changeVisualShape(body, link, rgbaColor=COLORS_RGBA[spec.color], textureUniqueId=-1,
                                 physicsClientId=client)


# ----- the hidden predicate -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    ok: bool
    #: what the operator would correct: "grasp", "destination", "placement", "pull", or None (nothing sayable)
    fault: str | None = None
    #: for grasp and pull: metres still needed; for placement: (dx, dy) still needed; for destination: the
    #: container
    amount: object = None


def _used(report: TaskReport, skill: str, param: str, default: object) -> object:
    """What the robot actually used (the operator sees where it grasped / which container it went to)."""
    for outcome in report.outcomes:
        if outcome.skill == skill:
            return outcome.params.get(param, default)
    return default


def judge(task: TaskSpec, arm: PyBulletArm, report: TaskReport) -> Verdict:
    obj = arm.objects()[task.obj]
    truth = truth_for(task.category, obj.size)
    if truth.task == "open":
        if obj.opening >= truth.opening:
            return Verdict(True)
        # the operator wants it well open (95 %), seeing how far it is now
        return Verdict(False, "pull", (0.95 - obj.opening) * DRAWER_TRAVEL)
    if truth.task == "pick":
        upright = obj.half_extents[2] > 1.5 * max(obj.half_extents[:2])
        if P.is_held(arm, task.obj) and P.is_lifted(arm, task.obj) and upright:
            return Verdict(True)
        needed = truth.grasp_offset - float(_used(report, "pick", "grasp_offset", DEFAULT_GRASP_OFFSET))
        return Verdict(False, "grasp", needed) if abs(needed) >= 0.005 else Verdict(False)
    target = _used(report, "place", "target", None)
    inside = P.is_in(arm, task.obj, truth.container) and not arm.contacts("gripper", task.obj)
    if not inside:
        if target is not None and target != truth.container:
            return Verdict(False, "destination", truth.container)
        return Verdict(False)  # the pick or the place failed in physics: nothing to correct
    if truth.place_offset is None:
        return Verdict(True)
    spot = arm.objects()[truth.container].position[:2] + np.asarray(truth.place_offset)
    error = spot - obj.position[:2]
    if float(np.linalg.norm(error)) <= PLACE_TOLERANCE_M:
        return Verdict(True)
    return Verdict(False, "placement", (float(error[0]), float(error[1])))


# ----- what the operator says ---------------------------------------------------------------------------
DESTINATION = ("that goes in the {c}", "no, that goes in the {c}", "it belongs in the {c}",
               "this belongs in the {c}", "put that in the {c}", "that should go in the {c}",
               "the {x} goes in the {c}", "no, the {x} belongs in the {c}")
GRASP = ("grasp it {d} higher", "grab it {d} higher", "pick it up {d} higher", "no, grasp it {d} higher",
         "you should grasp it {d} higher", "grasp it {d} higher next time")
GRASP_VAGUE = ("grasp it higher", "grasp it a bit higher", "grab it a bit higher", "pick it up higher")
PULL = ("pull it {d} further", "open it {d} more", "pull it {d} more", "{d} further", "pull it out {d} more",
        "no, pull it {d} further")
PULL_VAGUE = ("pull it further", "open it further", "pull it a bit further")
SIDEWAYS = ("{d} to the {side}", "{d} more to the {side}", "move it {d} to the {side}", "no, {d} to the {side}",
            "put it {d} to the {side}", "place it {d} further to the {side}")
SIDEWAYS_VAGUE = ("a bit to the {side}", "a bit more to the {side}", "more to the {side}")
AXIS_WORDS = {("y", 1): ("left",), ("y", -1): ("right",), ("x", 1): ("forward", "further away"),
              ("x", -1): ("backward", "closer")}
NUMBER_WORDS = "one two three four five six seven eight nine ten".split()


class Operator:
    """Picks a phrasing for a fault from the templates (seeded) and adds word noise with probability p."""

    def __init__(self, seed: int, noise: float = 0.0) -> None:
        self.rng = random.Random(seed)
        self.noise = noise

    def _distance(self, metres: float) -> str:
        cm = max(1, round(abs(metres) * 100))
        forms = [f"{cm} cm", f"{cm} centimeters", f"{cm} centimetres"]
        if cm <= 10:
            forms.append(f"{NUMBER_WORDS[cm - 1]} centimeters")
        if cm <= 5:
            forms.append(f"{cm * 10} mm")
        return self.rng.choice(forms)

    def _axis(self, axis: str, metres: float) -> str:
        cm = round(abs(metres) * 100)
        words = AXIS_WORDS[(axis, 1 if metres > 0 else -1)]
        side = self.rng.choice(words)
        if cm <= 1:
            template = self.rng.choice(SIDEWAYS_VAGUE)
        else:
            template = self.rng.choice(SIDEWAYS)
        if side not in ("left", "right"):  # "5 cm further away", not "5 cm to the further away"
            template = self.rng.choice(("{d} {side}", "move it {d} {side}", "no, {d} {side}"))
        return template.format(d=self._distance(metres), side=side)

    def phrase(self, verdict: Verdict, noun: str) -> str:
        if verdict.fault == "destination":
            text = self.rng.choice(DESTINATION).format(c=verdict.amount, x=noun)
        elif verdict.fault == "pull":
            needed = float(verdict.amount)
            text = (self.rng.choice(PULL_VAGUE) if needed < 0.015 else
                    self.rng.choice(PULL).format(d=self._distance(needed)))
        elif verdict.fault == "grasp":
            needed = float(verdict.amount)
            if needed < 0:
                text = f"grasp it {self._distance(needed)} lower"
            elif needed < 0.015:
                text = self.rng.choice(GRASP_VAGUE)
            else:
                text = self.rng.choice(GRASP).format(d=self._distance(needed))
        else:
            dx, dy = verdict.amount
            parts = [self._axis(a, v) for a, v in (("y", dy), ("x", dx)) if abs(v) > 0.015]
            parts = parts or [self._axis("y" if abs(dy) >= abs(dx) else "x", dy if abs(dy) >= abs(dx) else dx)]
            text = " and ".join(parts)
        return self.add_noise(text)

    def add_noise(self, text: str) -> str:
        """Speech-like errors: each word is dropped, said twice, or swapped with the next, with
        probability `noise` in all (a third each)."""
        if self.noise <= 0:
            return text
        words, out, i = text.split(), [], 0
        while i < len(words):
            roll = self.rng.random()
            if roll < self.noise / 3:
                pass  # dropped
            elif roll < 2 * self.noise / 3:
                out += [words[i], words[i]]
            elif roll < self.noise and i + 1 < len(words):
                out += [words[i + 1], words[i]]
                i += 1
            else:
                out.append(words[i])
            i += 1
        return " ".join(out) or text


def build_tasks(rounds: int, per_round: int, seed: int) -> list[TaskSpec]:
    """R0: the seen instances (each category in turn). R1..: seen instances in new poses, novel instances
    (that round's scenes) and distractors, in the ratio 2:2:1, shuffled with the seed. Drawers have scenes
    of their own (corrections_drawer_*), so the pools hold (scene, object) pairs."""
    rng = random.Random(seed)
    taught = ("cube", "lego", "carton", "drawer")

    def pool(*names: str, keep=lambda category: True) -> list[tuple[str, object]]:
        return [(name, o) for name in names for o in load_scene(name).objects
                if not o.container and keep(o.category)]

    seen = pool("corrections_seen", "corrections_drawer_seen")
    tasks: list[TaskSpec] = []

    def make(rnd: int, group: str, scene: str, spec, task_seed: int) -> TaskSpec:
        words = [w for w in (spec.size, spec.color, spec.category) if w]
        noun = " ".join(words)
        return TaskSpec(rnd, group, scene, spec.name, spec.category, task_seed,
                        rng.choice(TASKS[truth_for(spec.category).task]).format(x=noun), noun)

    for i in range(per_round):
        tasks.append(make(0, "seen", *seen[i % len(seen)], seed * 1000 + i))
    for rnd in range(1, rounds + 1):
        names = (f"corrections_r{min(rnd, 3)}", f"corrections_drawer_r{min(rnd, 3)}")
        pools = {"seen": seen, "novel": pool(*names, keep=lambda c: c in taught),
                 "other": pool(*names, keep=lambda c: c not in taught)}
        batch, turn = [], {"seen": rnd, "novel": rnd, "other": rnd}  # rotate through each pool
        for i in range(per_round):
            group = ("seen", "novel", "seen", "novel", "other")[i % 5]
            scene, spec = pools[group][turn[group] % len(pools[group])]
            turn[group] += 1
            batch.append(make(rnd, group, scene, spec, seed * 1000 + rnd * 100 + i))
        rng.shuffle(batch)
        tasks += batch
    return tasks
