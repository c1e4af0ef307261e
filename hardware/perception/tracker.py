"""Perception over a stream of RGB-D frames: plane, segments, detections, names, with each name's last state
kept while the object is out of sight (the arm passing in front of it)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from hardware.camera import RGBDFrame
from hardware.perception.colors import colours_compatible
from hardware.perception.config import PerceptionConfig
from hardware.perception.drawer import see_drawer
from hardware.perception.matching import fits, match
from hardware.perception.measure import Detection, measure
from hardware.perception.models import ObjectModel, object_model
from hardware.perception.plane import TablePlane, fit_table_plane
from hardware.perception.robot_filter import RobotBody, hidden_behind
from hardware.perception.segment import points_image, segment
from hardware.perception.split import split_merged
from hardware.scene import ObjectSpec, SceneSpec, load_scene
from hardware.types import ObjectState


@dataclass(frozen=True)
class PerceptionResult:
    """What one frame gave.

    `objects` has every object seen now and every one held (not seen for at most `hold_frames` frames, with
    its last seen state); `held` says how many frames ago each held one was seen. `unmatched` are detections
    no description fits (the arm, merged look-alikes, things not in the scene): reported, never named."""

    objects: dict[str, ObjectState]
    detections: dict[str, Detection]
    held: dict[str, int]
    unmatched: tuple[Detection, ...]
    plane: TablePlane

    @property
    def seen(self) -> frozenset[str]:
        return frozenset(self.detections)


@dataclass(frozen=True)
class _Frame:
    """One frame as measured: per pixel base-frame points and heights above the plane (NaN: no reading, or the
    robot's), the plane, and the detections."""

    frame: RGBDFrame
    points: np.ndarray
    heights: np.ndarray
    plane: TablePlane
    detections: list[Detection]


@dataclass
class _Track:
    state: ObjectState
    last_frame: int


@dataclass
class Perception:
    """Tabletop perception for one scene. `update(frame)` per RGB-D frame; the result's `objects` are
    ObjectStates as PyBulletArm.objects() gives them.

    Measured from the frame: `position` (the bounding box's centre), `orientation` (yaw about z only; a cube's
    is modulo 90 degrees), `half_extents` (the axis-aligned box of the measured footprint and height; of an
    object that is no box, its points' axis-aligned box), and the colour, size and container cues that choose
    the name (models: a box's edge, a URDF's collision shapes). Filled from the scene's description of the
    matched object: `name`, `category`, `color` (the described word; the measured colour agreed with it), `size`,
    `is_container`, `synonyms`. A drawer (an articulated object) is placed by its cabinet's calibrated pose and
    model, and its `opening` measured (drawer.see_drawer). Not given: `grasp_points`.

    Given where the robot's body is (`update(frame, robot)`, robot_filter), its points are left out. A detection
    partly hidden (`Detection.occluded`: by the robot, by an object standing on it or in front of it) is taken as
    a part: a cube's state is the nearest place to its last that holds the part; an object of no described edge
    is taken only whole (or on its first sighting), else keeps its last state. Objects of one colour that touch
    are split at the tallest box's top face (split)."""

    scene: SceneSpec | str | Path = "default"
    config: PerceptionConfig = field(default_factory=PerceptionConfig)

    def __post_init__(self) -> None:
        self._scene = self.scene if isinstance(self.scene, SceneSpec) else load_scene(self.scene)
        self._specs: dict[str, ObjectSpec] = {s.name: s for s in self._scene.objects}
        #: each object's shape: a box's edge, a URDF's collision shapes (models)
        self._models: dict[str, ObjectModel] = {s.name: object_model(s) for s in self._scene.objects}
        self._tracks: dict[str, _Track] = {}
        self._frame = 0
        self._rng = np.random.default_rng(0)

    def detect(self, frame: RGBDFrame, robot: RobotBody | None = None) -> tuple[list[Detection], TablePlane]:
        """The detections of one frame, unnamed, and the table plane they stand on. `robot`: where the robot's
        body is (robot_filter); its points are left out, as if the depth had no reading there."""
        seen = self._see(frame, robot)
        return seen.detections, seen.plane

    def _see(self, frame: RGBDFrame, robot: RobotBody | None) -> _Frame:
        points = points_image(frame)
        stride = self.config.plane_stride
        sample = points[::stride, ::stride].reshape(-1, 3)
        plane = fit_table_plane(sample[np.isfinite(sample).all(axis=1)], self.config, self._rng)
        heights = plane.height(points)
        own = np.zeros(heights.shape, bool)
        if robot is not None:  # the robot stands above the table: only those points can be its
            with np.errstate(invalid="ignore"):
                above = heights > 0.0
            own[above] = robot.contains(points[above])
            points[own], heights[own] = np.nan, np.nan
        detections = []
        for seg in segment(frame, heights, plane, self.config):
            det = measure(seg.mask, points, heights, frame.rgb, plane, self.config, frame.depth)
            if det is None:
                continue
            # no description fits it: perhaps objects of one colour that touch (split)
            parts = None if self._fits_any(det) else \
                split_merged(det, self._edges(det.colour), points, heights, frame.rgb, frame.depth, plane, self.config)
            for part in parts or [det]:
                occluded = robot is not None and hidden_behind(part.mask, own, frame.depth)
                detections.append(replace(part, occluded=occluded) if occluded else part)
        return _Frame(frame, points, heights, plane, _covered(detections, self.config))

    def _fits_any(self, det: Detection) -> bool:
        return any(math.isfinite(fits(det, spec, self.config, self._models.get(name)))
                   for name, spec in self._specs.items() if not spec.articulated)

    def _edges(self, colour: str) -> list[float]:
        """The described box edges of the objects that may look `colour`."""
        return sorted({s.edge for s in self._specs.values()
                       if s.edge is not None and colours_compatible(colour, s.color)})

    def update(self, frame: RGBDFrame, robot: RobotBody | None = None) -> PerceptionResult:
        self._frame += 1
        seen = self._see(frame, robot)
        cfg = self.config
        priors = {name: (t.state.position, cfg.track_weight) for name, t in self._tracks.items()}
        for name, spec in self._specs.items():
            priors.setdefault(name, (np.array([*spec.position, 0.0]), cfg.nominal_weight))
        loose = [s for s in self._specs.values() if not s.articulated]
        named, unmatched = match(seen.detections, loose, priors, cfg, self._models)
        partial = [n for n, d in named.items() if d.occluded and not self._partial_names(n, d)]
        unmatched += [named.pop(n) for n in partial]
        for name, det in named.items():
            state = self._state(self._specs[name], det)
            if det.occluded and name in self._tracks:
                state = _partly_seen(state, det, self._specs[name], self._tracks[name].state.position)
            self._tracks[name] = _Track(state, self._frame)
        unmatched = self._see_drawers(seen, named, unmatched)
        for name in [n for n, t in self._tracks.items() if self._frame - t.last_frame > cfg.hold_frames]:
            del self._tracks[name]
        held = {n: self._frame - t.last_frame for n, t in self._tracks.items() if n not in named}
        return PerceptionResult(objects={n: t.state for n, t in self._tracks.items()}, detections=named,
                                held=held, unmatched=tuple(unmatched), plane=seen.plane)

    def _see_drawers(self, seen: _Frame, named: dict[str, Detection], unmatched: list[Detection]
                     ) -> list[Detection]:
        """Each articulated object in view, named and tracked (added to `named`), with the unmatched detections
        that are its parts taken out; returns the rest."""
        free = np.ones(seen.heights.shape, bool)
        for det in named.values():
            free &= ~det.mask
        for name, spec in self._specs.items():
            drawer = self._models[name].drawer
            if not spec.articulated or drawer is None:
                continue
            track = self._tracks.get(name)
            sighting = see_drawer(spec, drawer, seen.frame.camera, seen.points, seen.heights, seen.frame.rgb,
                                  seen.plane, free, unmatched, None if track is None else track.state.opening,
                                  self.config)
            if sighting is None:
                continue
            det, parts = sighting
            named[name] = det
            self._tracks[name] = _Track(self._state(spec, det), self._frame)
            unmatched = [d for d in unmatched if not any(d is p for p in parts)]
        return unmatched

    def _partial_names(self, name: str, det: Detection) -> bool:
        """Whether a detection partly hidden (by the robot, by what stands on it) may stand for `name`. A part of
        a box fits smaller boxes too (a large cube's part, a small one's size): it is taken as the box moving on
        from where it just was (within an edge; placed by _partly_seen), or when its footprint is whole after
        all. A part of an object from a URDF (a tray) says little of where it is (its part's rectangle turns
        with what is hidden): taken on a first sighting, or when its footprint is its model's whole."""
        spec, track, model = self._specs[name], self._tracks.get(name), self._models[name]
        if spec.edge is None:
            whole = all(abs(m - d) <= self.config.edge_tolerance for m, d in zip(model.footprint, det.extents[:2]))
            return track is None or whole
        if track is not None and np.linalg.norm(det.position[:2] - track.state.position[:2]) <= spec.edge:
            return True
        return math.isfinite(fits(replace(det, occluded=False), spec, self.config))

    def reset(self) -> None:
        """Forget every track (a new scene, or objects moved while the camera was off)."""
        self._tracks.clear()

    @staticmethod
    def _state(spec: ObjectSpec, det: Detection) -> ObjectState:
        """The object's state from its detection: a box (of described edge, or a drawer) is its rectangle's,
        anything else (a mug, a tray) its points' axis-aligned box, as the world reports an object's box."""
        position, half = det.position, det.half_extents_aabb
        if spec.edge is None and not spec.articulated and det.aligned is not None:
            position, half = det.aligned
        return ObjectState(name=spec.name, category=spec.category, position=position,
                           orientation=det.orientation, half_extents=half, color=spec.color,
                           size=spec.size, is_container=spec.container, synonyms=spec.synonyms,
                           opening=det.opening)


def _covered(detections: list[Detection], config: PerceptionConfig) -> list[Detection]:
    """The detections with something standing on them (a cube on a cube) flagged occluded: their top face is
    partly hidden, so their footprint is a part's. Something stands on a detection when its support is the
    detection's top and their footprints overlap."""
    out = []
    for det in detections:
        on_it = any(other is not det and other.support > config.min_extent
                    and abs(other.support - det.top) <= config.top_band
                    and np.linalg.norm(other.position[:2] - det.position[:2])
                    <= (max(det.extents[:2]) + max(other.extents[:2])) / 2
                    for other in detections)
        out.append(replace(det, occluded=True) if on_it and not det.occluded else det)
    return out


def _partly_seen(state: ObjectState, det: Detection, spec: ObjectSpec, last: np.ndarray) -> ObjectState:
    """A box of described edge partly hidden (a cube the hand pushes, a cube with another on it): the seen
    part's centre is not the box's, but the box holds the seen part. Of the places where it does, the one
    nearest where the box was last (the least motion that explains the frame: the hand pushing a cube hides its
    back, the front leads). An object of no described edge is taken only whole (_partial_names): as it is."""
    if spec.edge is None:
        return state
    c, s = np.cos(det.yaw), np.sin(det.yaw)
    axes = np.array([[c, s], [-s, c]])  # rows: the seen footprint's sides (along, across)
    slack = np.maximum(0.0, spec.edge - det.extents[:2]) / 2.0
    offset = np.clip(axes @ (last[:2] - det.position[:2]), -slack, slack)
    xy = det.position[:2] + axes.T @ offset
    return replace(state, position=np.array([*xy, det.position[2]]), half_extents=np.full(3, spec.edge / 2.0))
