"""The scenes bench/perception.py measures perception in: seeded, generated set-ups of the default scene (the
seed's jitter, then objects moved by a generator seeded by the seed and the case), and the drawer scene.

Each case sets up one arm per seed, runs one Perception over a short sequence of frames (depth noise on, the
robot's body posed from its joints as PerceivedWorld does) and scores each frame with `Tally.frame`, saying which
objects count as in view. Truth: arm.objects() (bounding-box centres) and arm.segmentation() (visible pixels)."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from hardware.camera import DepthNoise
from hardware.perception import Perception, PerceptionResult
from hardware.perception.colors import ACHROMATIC
from hardware.perception.robot_filter import RobotBody, robot_model
from hardware.perception.world import PerceivedWorld
from hardware.pybullet import PyBulletArm, PyBulletConfig

WIDTH, HEIGHT = 320, 240
CUBE_EDGES = {"large": 0.05, "small": 0.03}
CUBES = ("red_cube", "green_cube", "blue_cube", "yellow_cube", "small_red_cube", "small_blue_cube")
#: objects of one colour in the default scene: a large and a small red, a large and a small blue, the yellow
#: cube and the (yellow) lego brick
SAME_COLOUR = (("red_cube", "small_red_cube"), ("blue_cube", "small_blue_cube"), ("yellow_cube", "lego_brick"))
#: where generated set-ups put objects: the middle of the table, in reach and in view
AREA = ((0.36, 0.62), (-0.22, 0.22))


def in_view(mask: np.ndarray) -> bool:
    """At least 30 visible pixels, none on the image's border (not cut by it)."""
    return mask.sum() >= 30 and not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def owner(mask: np.ndarray, truth_masks: dict[str, np.ndarray]) -> str | None:
    """The object most of `mask`'s pixels belong to, or None (table, robot, nothing)."""
    best = max(truth_masks, key=lambda n: int((mask & truth_masks[n]).sum()))
    return best if (mask & truth_masks[best]).sum() > 0.5 * mask.sum() else None


@dataclass
class Tally:
    """One case's figures over all its seeds and frames."""

    in_view: int = 0
    errors: list[float] = field(default_factory=list)
    size_ok: int = 0
    size_n: int = 0
    colour_ok: int = 0
    colour_n: int = 0
    missed: int = 0
    phantom: int = 0
    switch: int = 0
    #: what went wrong, one line each (seed, frame, object): the phantoms, misses and switches
    notes: list[str] = field(default_factory=list)
    #: case-specific figures: name -> values (the held cube's error, the drawer's opening error)
    extra: dict[str, list[float]] = field(default_factory=dict)


class Sequence:
    """Frames of one Perception over one seed's set-up: identity switches are counted across them."""

    def __init__(self, tally: Tally, seed: int) -> None:
        self.tally, self.seed, self.index = tally, seed, 0
        self._name_on: dict[str, str] = {}  # object -> the name perception last gave its pixels

    def frame(self, result: PerceptionResult, arm: PyBulletArm, judged: Iterable[str],
              colour_judged: Callable[[str], bool] = lambda name: True) -> None:
        """Score one frame. `judged`: the objects in view (position, size and colour scored, a miss counted);
        every named detection is checked for a phantom (its pixels mostly another object's, or nobody's)."""
        t, truth, masks = self.tally, arm.objects(), arm.segmentation(WIDTH, HEIGHT)
        where = f"seed {self.seed} frame {self.index}"
        self.index += 1
        for name, det in result.detections.items():
            who = owner(det.mask, masks)
            if who != name:
                t.phantom += 1
                t.notes.append(f"{where}: phantom {name} on {who or 'nothing'}")
            if who is not None:
                if self._name_on.get(who, name) != name:
                    t.switch += 1
                    t.notes.append(f"{where}: switch on {who}: {self._name_on[who]} -> {name}")
                self._name_on[who] = name
        for name in judged:
            t.in_view += 1
            found = result.detections.get(name)
            if found is None or owner(found.mask, masks) != name:
                t.missed += 1
                t.notes.append(f"{where}: missed {name}")
                continue
            obj = truth[name]  # the state perception gives (a part's detection is placed as the whole box)
            t.errors.append(float(np.linalg.norm(result.objects[name].position - obj.position)))
            if colour_judged(name):
                t.colour_n += 1
                t.colour_ok += found.colour == obj.color or (found.colour in ACHROMATIC and obj.color in ACHROMATIC)
            if obj.category == "cube" and obj.size in CUBE_EDGES and not found.occluded:  # a part: no size
                edge = float(np.mean(found.extents))
                t.size_n += 1
                t.size_ok += min(CUBE_EDGES, key=lambda s: abs(CUBE_EDGES[s] - edge)) == obj.size


def visible(arm: PyBulletArm, exclude: Iterable[str] = ()) -> list[str]:
    """The default rule for in view: not cut by the image's border, at least 30 pixels visible."""
    out = set(exclude)
    return [n for n, m in arm.segmentation(WIDTH, HEIGHT).items() if n not in out and in_view(m)]


def body(arm: PyBulletArm) -> RobotBody:
    return robot_model(arm.robot_config).body(arm.joint_state().positions, arm.gripper_width())


def look(perception: Perception, arm: PyBulletArm, seed: int, index: int) -> PerceptionResult:
    return perception.update(arm.rgbd(WIDTH, HEIGHT, noise=DepthNoise(seed=seed), frame_index=index), body(arm))


def settle(arm: PyBulletArm, steps: int = 100) -> None:
    for _ in range(steps):
        arm.step()


def edge_of(arm: PyBulletArm, name: str) -> float:
    return CUBE_EDGES[arm.object(name).size or "large"]


def _clear(arm: PyBulletArm, xy: np.ndarray, radius: float, ignore: Iterable[str]) -> bool:
    """Nothing but `ignore` within `radius` of xy (plus each object's footprint), and inside AREA."""
    (x0, x1), (y0, y1) = AREA
    if not (x0 <= xy[0] <= x1 and y0 <= xy[1] <= y1):
        return False
    skip = set(ignore)
    return all(np.linalg.norm(o.position[:2] - xy) > radius + np.linalg.norm(o.half_extents[:2]) + 0.01
               for n, o in arm.objects().items() if n not in skip)


def _touching_pair(arm: PyBulletArm, a: str, b: str, rng: np.random.Generator) -> bool:
    """Put b against one face of a (turned by a common yaw, slid along the face), both somewhere clear."""
    (ea, ha), (eb, hb) = (2.0 * arm.object(n).half_extents[[0, 2]] for n in (a, b))  # at rest, unturned
    for _ in range(200):
        centre = np.array([rng.uniform(*AREA[0]), rng.uniform(*AREA[1])])
        yaw = rng.uniform(-math.pi / 4, math.pi / 4)
        side = rng.integers(4) * math.pi / 2 + yaw
        normal, along = np.array([math.cos(side), math.sin(side)]), np.array([-math.sin(side), math.cos(side)])
        other = centre + normal * ((ea + eb) / 2 + 0.001) + along * rng.uniform(-0.4, 0.4) * min(ea, eb)
        if _clear(arm, centre, ea, (a, b)) and _clear(arm, other, eb, (a, b)):
            arm.set_object_pose(a, (*centre, ha / 2 + 0.001), yaw=yaw)
            arm.set_object_pose(b, (*other, hb / 2 + 0.001), yaw=yaw)
            return True
    return False


def touching(same_colour: bool) -> Callable[[int, Tally], None]:
    def case(seed: int, tally: Tally) -> None:
        rng = np.random.default_rng([seed, 1 if same_colour else 2])
        with PyBulletArm(PyBulletConfig(seed=seed)) as arm:
            perception, seq = Perception(arm.scene), Sequence(tally, seed)
            seq.frame(look(perception, arm, seed, 0), arm, visible(arm))
            if same_colour:
                a, b = SAME_COLOUR[rng.integers(len(SAME_COLOUR))]
            else:
                a, b = rng.choice([(a, b) for a in CUBES for b in CUBES
                                   if arm.object(a).color != arm.object(b).color])
            if not _touching_pair(arm, str(a), str(b), rng):
                tally.notes.append(f"seed {seed}: no clear place for {a} and {b}")
                return
            settle(arm)
            for i in (1, 2):
                seq.frame(look(perception, arm, seed, i), arm, visible(arm))
    return case


def in_tray(seed: int, tally: Tally) -> None:
    """One to three cubes (large and small) dropped into the tray at seeded spots and yaws."""
    rng = np.random.default_rng([seed, 3])
    with PyBulletArm(PyBulletConfig(seed=seed)) as arm:
        perception, seq = Perception(arm.scene), Sequence(tally, seed)
        seq.frame(look(perception, arm, seed, 0), arm, visible(arm))
        tray = arm.object("tray").position
        chosen = [str(n) for n in rng.choice(CUBES, rng.integers(1, 4), replace=False)]
        placed: list[tuple[np.ndarray, float]] = []
        for name in chosen:
            edge = edge_of(arm, name)
            for _ in range(200):
                xy = tray[:2] + rng.uniform(-0.07 + edge / 2, 0.07 - edge / 2, 2)
                if all(np.linalg.norm(xy - p) > 0.75 * (edge + e) + 0.005 for p, e in placed):
                    break
            placed.append((xy, edge))
            arm.set_object_pose(name, (*xy, 0.02 + edge / 2), yaw=rng.uniform(-math.pi / 4, math.pi / 4))
        settle(arm, 150)
        for i in (1, 2):
            seq.frame(look(perception, arm, seed, i), arm, visible(arm))


def stack(seed: int, tally: Tally) -> None:
    """A cube on a large cube of another colour, turned and off centre by seeded amounts."""
    rng = np.random.default_rng([seed, 4])
    with PyBulletArm(PyBulletConfig(seed=seed)) as arm:
        perception, seq = Perception(arm.scene), Sequence(tally, seed)
        seq.frame(look(perception, arm, seed, 0), arm, visible(arm))
        bottom = str(rng.choice([c for c in CUBES if arm.object(c).size == "large"]))
        top = str(rng.choice([c for c in CUBES if arm.object(c).color != arm.object(bottom).color]))
        base = arm.object(bottom).position
        xy = base[:2] + rng.uniform(-0.008, 0.008, 2)
        arm.set_object_pose(top, (*xy, 0.05 + edge_of(arm, top) / 2 + 0.002), yaw=rng.uniform(-0.6, 0.6))
        settle(arm, 150)
        if arm.object(top).position[2] < 0.05:
            tally.notes.append(f"seed {seed}: {top} fell off {bottom}")
        for i in (1, 2):
            seq.frame(look(perception, arm, seed, i), arm, visible(arm))


def hover(seed: int, tally: Tally) -> None:
    """The hand held 3-12 cm over a seeded cube (fingers open or closed): the arm hides parts of objects.
    In view: not cut by the border and at least half its pixels visible (against the arm at home)."""
    rng = np.random.default_rng([seed, 5])
    with PyBulletArm(PyBulletConfig(seed=seed)) as arm:
        perception, seq = Perception(arm.scene), Sequence(tally, seed)
        home = {n: int(m.sum()) for n, m in arm.segmentation(WIDTH, HEIGHT).items()}
        seq.frame(look(perception, arm, seed, 0), arm, visible(arm))
        cube = arm.object(str(rng.choice(CUBES)))
        target = (*(cube.position[:2] + rng.uniform(-0.03, 0.03, 2)), cube.top_z + rng.uniform(0.03, 0.12))
        arm.command_gripper(0.0 if rng.random() < 0.5 else arm.gripper_max_width)
        for _ in range(300):
            arm.command_ee(target)
            arm.step()
        masks = arm.segmentation(WIDTH, HEIGHT)
        judged = [n for n in visible(arm) if masks[n].sum() >= 0.5 * home[n]]
        tally.extra.setdefault("objects half hidden or more (not judged)", []).append(
            sum(1 for n, m in masks.items() if m.sum() < 0.5 * home[n] and home[n] >= 30))
        seq.frame(look(perception, arm, seed, 1), arm, judged)


def in_hand(seed: int, tally: Tally) -> None:
    """A seeded cube picked up by the pick skill on perceived states (PerceivedWorld). The cube in the hand is
    not judged with the rest (the fingers hide much of it): the world's held state (the hand's) is scored
    against truth as `held cube, world's error mm`, and perception's own detection of it apart."""
    from skill_lib.runner import run_skill
    from skill_lib.skills import default_skills

    rng = np.random.default_rng([seed, 6])
    pick = next(s for s in default_skills() if s.name == "pick")
    with PyBulletArm(PyBulletConfig(seed=seed)) as arm:
        world = PerceivedWorld(arm, arm, Perception(arm.scene), noise=DepthNoise(seed=seed))
        seq = Sequence(tally, seed)
        cube = str(rng.choice(CUBES))
        outcome = run_skill(pick, {"object": cube}, arm, world)
        if not outcome.success or not arm.is_grasped(cube):
            tally.notes.append(f"seed {seed}: pick {cube}: {outcome.message}")
            return
        world.objects()
        tally.extra.setdefault("held cube, world's error mm", []).append(
            1000 * float(np.linalg.norm(world.object(cube).position - arm.object(cube).position)))
        result = look(world.perception, arm, seed, 1000)
        seq.frame(result, arm, visible(arm, exclude=[cube]))
        det = result.detections.get(cube)
        named = det is not None and owner(det.mask, arm.segmentation(WIDTH, HEIGHT)) == cube
        tally.extra.setdefault("held cube named by perception on its pixels (1 yes, 0 no)", []).append(float(named))
        if named:
            tally.extra.setdefault("held cube, perception's error mm (when named)", []).append(
                1000 * float(np.linalg.norm(result.objects[cube].position - arm.object(cube).position)))


def default_scene(noise: bool) -> Callable[[int, Tally], None]:
    """The seed's scene as it stands, one frame (with or without depth noise)."""
    def case(seed: int, tally: Tally) -> None:
        with PyBulletArm(PyBulletConfig(seed=seed)) as arm:
            frame = arm.rgbd(WIDTH, HEIGHT, noise=DepthNoise(seed=seed) if noise else None)
            Sequence(tally, seed).frame(Perception(arm.scene).update(frame, body(arm)), arm, visible(arm))
    return case


def sliding(seed: int, tally: Tally) -> None:
    """Two seeded cubes slide 1.5-3 cm a frame in seeded directions: 6 frames, the first as set."""
    rng = np.random.default_rng(seed)
    with PyBulletArm(PyBulletConfig(seed=seed)) as arm:
        perception, seq, start = Perception(arm.scene), Sequence(tally, seed), arm.objects()
        movers = [str(n) for n in rng.choice(["red_cube", "green_cube", "blue_cube", "yellow_cube"], 2, replace=False)]
        steps = {}
        for n in movers:
            direction = rng.normal(size=2)
            steps[n] = rng.uniform(0.015, 0.03) * np.array([*direction / np.linalg.norm(direction), 0.0])
        for i in range(6):
            for n in movers:
                arm.set_object_pose(n, (start[n].position + i * steps[n]).tolist())
            seq.frame(look(perception, arm, seed, i), arm, visible(arm))


def drawer_scene(seed: int, tally: Tally) -> None:
    """The drawer scene: a cabinet with a drawer, a mug, the tray and two cubes. The drawer's colour is not
    judged: its URDF renders it wood-brown, while the scene describes it as white."""
    with PyBulletArm(PyBulletConfig(seed=seed, scene="drawer")) as arm:
        perception, seq = Perception(arm.scene), Sequence(tally, seed)
        seq.frame(look(perception, arm, seed, 0), arm, visible(arm), colour_judged=lambda n: n != "drawer")


def drawer_pulled(seed: int, tally: Tally) -> None:
    """The pull skill run twice on the drawer (10 cm, then to its end) on perceived states (PerceivedWorld): at
    every frame the world takes, its drawer's opening and position against truth."""
    from skill_lib.runner import run_skill
    from skill_lib.skills import default_skills

    pull = next(s for s in default_skills() if s.name == "pull")
    with PyBulletArm(PyBulletConfig(seed=seed, scene="drawer")) as arm:
        world = PerceivedWorld(arm, arm, Perception(arm.scene), noise=DepthNoise(seed=seed))

        def compare(step: int, t: float) -> None:
            before = world.frames
            seen = world.objects()["drawer"]
            if world.frames != before:  # a frame was taken now: compare with the simulator now
                truth = arm.object("drawer")
                error = abs(float(seen.opening or 0.0) - float(truth.opening or 0.0))
                tally.extra.setdefault("opening error (0..1), per frame", []).append(error)
                tally.extra.setdefault("frames with the opening within 0.03 (5 mm)", []).append(float(error <= 0.03))
                tally.extra.setdefault("drawer position error mm, per frame", []).append(
                    1000 * float(np.linalg.norm(seen.position - truth.position)))

        for i in range(2):
            outcome = run_skill(pull, {"object": "drawer"}, arm, world, on_step=compare)
            tally.extra.setdefault("pulls that succeeded", []).append(float(outcome.success))
            if not outcome.success:
                truth, seen = arm.object("drawer").opening, world.object("drawer").opening
                tally.notes.append(f"seed {seed}: pull {i + 1}: {outcome.message} (opening: truth {truth:.3f}, "
                                   f"perceived {seen:.3f})")
        tally.extra.setdefault("opening at the end: truth", []).append(float(arm.object("drawer").opening or 0.0))


#: name -> (what it is, the case)
CASES: dict[str, tuple[str, Callable[[int, Tally], None]]] = {
    "scene as set (no noise)": ("the seed's default scene, one frame, no depth noise", default_scene(False)),
    "scene as set": ("the seed's default scene, one frame", default_scene(True)),
    "two cubes sliding": ("two cubes slide 1.5-3 cm a frame for 6 frames", sliding),
    "touching: two colours": ("two cubes of different colours pushed face to face", touching(False)),
    "touching: one colour": ("a large and a small red or blue cube, or the yellow cube and the lego, face to face",
                             touching(True)),
    "cubes in the tray": ("1-3 cubes (large and small) dropped into the tray", in_tray),
    "stack": ("a cube on a large cube of another colour", stack),
    "arm hovering": ("the hand 3-12 cm over a cube; judged: half its pixels or more visible", hover),
    "cube in the hand": ("a cube picked up by the pick skill; judged: all but the held cube", in_hand),
    "drawer scene": ("cabinet with drawer, mug, tray, two cubes; the drawer's colour not judged", drawer_scene),
    "drawer pulled open": ("the pull skill twice on perceived states: the drawer's opening per frame",
                           drawer_pulled),
}
