"""Perception over a stream of RGB-D frames: plane, segments, detections, names, with each name's last state
kept while the object is out of sight (the arm passing in front of it)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hardware.camera import RGBDFrame
from hardware.perception.config import PerceptionConfig
from hardware.perception.matching import match
from hardware.perception.measure import Detection, measure
from hardware.perception.plane import TablePlane, fit_table_plane
from hardware.perception.segment import points_image, segment
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


@dataclass
class _Track:
    state: ObjectState
    last_frame: int


@dataclass
class Perception:
    """Tabletop perception for one scene. `update(frame)` per RGB-D frame; the result's `objects` are
    ObjectStates as PyBulletArm.objects() gives them.

    Measured from the frame: `position` (the bounding box's centre), `orientation` (yaw about z only; a cube's
    is modulo 90 degrees), `half_extents` (the axis-aligned box of the measured footprint and height), and the
    colour, size and container cues that choose the name. Filled from the scene's description of the matched
    object: `name`, `category`, `color` (the described word; the measured colour agreed with it), `size`,
    `is_container`, `synonyms`. Not given: `opening` (articulated objects) and `grasp_points`."""

    scene: SceneSpec | str | Path = "default"
    config: PerceptionConfig = field(default_factory=PerceptionConfig)

    def __post_init__(self) -> None:
        self._scene = self.scene if isinstance(self.scene, SceneSpec) else load_scene(self.scene)
        self._specs: dict[str, ObjectSpec] = {s.name: s for s in self._scene.objects}
        self._tracks: dict[str, _Track] = {}
        self._frame = 0
        self._rng = np.random.default_rng(0)

    def detect(self, frame: RGBDFrame) -> tuple[list[Detection], TablePlane]:
        """The detections of one frame, unnamed, and the table plane they stand on."""
        points = points_image(frame)
        stride = self.config.plane_stride
        sample = points[::stride, ::stride].reshape(-1, 3)
        plane = fit_table_plane(sample[np.isfinite(sample).all(axis=1)], self.config, self._rng)
        heights = plane.height(points)
        detections = []
        for seg in segment(frame, heights, plane, self.config):
            det = measure(seg.mask, points, heights, frame.rgb, plane, self.config)
            if det is not None:
                detections.append(det)
        return detections, plane

    def update(self, frame: RGBDFrame) -> PerceptionResult:
        self._frame += 1
        detections, plane = self.detect(frame)
        cfg = self.config
        priors = {name: (t.state.position, cfg.track_weight) for name, t in self._tracks.items()}
        for name, spec in self._specs.items():
            priors.setdefault(name, (np.array([*spec.position, 0.0]), cfg.nominal_weight))
        named, unmatched = match(detections, list(self._specs.values()), priors, cfg)
        for name, det in named.items():
            self._tracks[name] = _Track(self._state(self._specs[name], det), self._frame)
        for name in [n for n, t in self._tracks.items() if self._frame - t.last_frame > cfg.hold_frames]:
            del self._tracks[name]
        held = {n: self._frame - t.last_frame for n, t in self._tracks.items() if n not in named}
        return PerceptionResult(objects={n: t.state for n, t in self._tracks.items()}, detections=named,
                                held=held, unmatched=tuple(unmatched), plane=plane)

    def reset(self) -> None:
        """Forget every track (a new scene, or objects moved while the camera was off)."""
        self._tracks.clear()

    @staticmethod
    def _state(spec: ObjectSpec, det: Detection) -> ObjectState:
        return ObjectState(name=spec.name, category=spec.category, position=det.position,
                           orientation=det.orientation, half_extents=det.half_extents_aabb, color=spec.color,
                           size=spec.size, is_container=spec.container, synonyms=spec.synonyms)
