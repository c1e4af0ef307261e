"""Which scene object each detection is: the scene's descriptions (ObjectSpec: colour, size, category,
container) gate the pairs, and among the pairs that pass, the one nearest the object's last known position
wins. A detection no description fits is left unmatched: perception never invents an object."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from hardware.perception.colors import colours_compatible
from hardware.perception.config import PerceptionConfig
from hardware.perception.measure import Detection
from hardware.perception.models import ObjectModel
from hardware.scene import ObjectSpec


def fits(detection: Detection, spec: ObjectSpec, config: PerceptionConfig = PerceptionConfig(),
         model: ObjectModel | None = None) -> float:
    """How badly `detection` fits the description `spec` (0: perfectly), or inf if it cannot be that object.

    Colour must agree (colors.colours_compatible); a container is hollow and wide, anything else is neither;
    a box of known edge (the scene's cubes) must measure that edge in height and footprint. An object from a
    URDF (`model`: its collision shapes' box) must measure its height, and a footprint no larger than its box's
    (a mug's round body and handle fill less of it; the handle may be hidden). Without a model, only colour
    and the container cue tell it: it would take any detection of its colour (a yellow lego, a yellow cube)."""
    if not colours_compatible(detection.colour, spec.color):
        return math.inf
    along, across, height = (float(v) for v in detection.extents)
    if spec.container != (detection.hollow and across >= config.container_min_extent):
        return math.inf
    if not spec.container and along >= config.container_min_extent:
        return math.inf
    tol = config.edge_tolerance
    if spec.edge is None:
        if model is None:
            return 0.0
        long_side, short_side = model.footprint
        errors = [height - model.height, max(0.0, along - long_side), max(0.0, across - short_side)]
        if detection.truncated or detection.occluded:  # a part, at some yaw within the box's footprint
            errors = [height - model.height, max(0.0, detection.square - long_side)]
        if max(abs(e) for e in errors) > tol:
            return math.inf
        return float(np.mean(np.abs(errors))) / tol
    errors = [height - spec.edge]
    if detection.truncated or detection.occluded:  # partly out of view: its footprint is a part's, not larger
        errors += [max(0.0, detection.square - spec.edge)]  # at some yaw, it fits in the box's square
    else:
        errors += [along - spec.edge, across - spec.edge]
    if max(abs(e) for e in errors) > tol:
        return math.inf
    return float(np.mean(np.abs(errors))) / tol


def match(detections: Sequence[Detection], specs: Sequence[ObjectSpec], priors: Mapping[str, tuple[np.ndarray, float]],
          config: PerceptionConfig = PerceptionConfig(), models: Mapping[str, ObjectModel] | None = None
          ) -> tuple[dict[str, Detection], list[Detection]]:
    """Name -> detection for the detections some description fits, and the ones none does.

    `models`: name -> the object's model (models.object_model), for objects from a URDF. `priors`: name ->
    (where the object was last, cost per metre away from it). Greedy on increasing cost: the gates leave few
    candidates per detection (colour and size differ across a scene's objects), so the cheapest-first choice is
    what an optimal assignment gives here, and the priors settle look-alikes."""
    pairs = []
    for i, det in enumerate(detections):
        for spec in specs:
            cost = fits(det, spec, config, (models or {}).get(spec.name))
            if math.isinf(cost):
                continue
            if spec.name in priors:
                where, weight = priors[spec.name]
                cost += weight * float(np.linalg.norm(det.position[:2] - where[:2]))
            pairs.append((cost, i, spec.name))
    named: dict[str, Detection] = {}
    used: set[int] = set()
    for _, i, name in sorted(pairs, key=lambda p: p[0]):
        if i not in used and name not in named:
            named[name] = detections[i]
            used.add(i)
    return named, [d for i, d in enumerate(detections) if i not in used]
