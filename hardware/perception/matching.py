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
from hardware.scene import ObjectSpec


def fits(detection: Detection, spec: ObjectSpec, config: PerceptionConfig = PerceptionConfig()) -> float:
    """How badly `detection` fits the description `spec` (0: perfectly), or inf if it cannot be that object.

    Colour must agree (colors.colours_compatible); a container is hollow and wide, anything else is neither;
    a box of known edge (the scene's cubes) must measure that edge in height and footprint. Objects from a URDF
    carry no size in their description, so only colour and the container cue tell them."""
    if not colours_compatible(detection.colour, spec.color):
        return math.inf
    along, across, height = (float(v) for v in detection.extents)
    if spec.container != (detection.hollow and across >= config.container_min_extent):
        return math.inf
    if not spec.container and along >= config.container_min_extent:
        return math.inf
    if spec.edge is None:
        return 0.0
    tol = config.edge_tolerance
    errors = [height - spec.edge]
    if detection.truncated or detection.occluded:  # partly out of view: its footprint is a part's, not larger
        errors += [max(0.0, along - spec.edge), max(0.0, across - spec.edge)]
    else:
        errors += [along - spec.edge, across - spec.edge]
    if max(abs(e) for e in errors) > tol:
        return math.inf
    return float(np.mean(np.abs(errors))) / tol


def match(detections: Sequence[Detection], specs: Sequence[ObjectSpec], priors: Mapping[str, tuple[np.ndarray, float]],
          config: PerceptionConfig = PerceptionConfig()) -> tuple[dict[str, Detection], list[Detection]]:
    """Name -> detection for the detections some description fits, and the ones none does.

    `priors`: name -> (where the object was last, cost per metre away from it). Greedy on increasing cost:
    the gates leave few candidates per detection (colour and size differ across a scene's objects), so the
    cheapest-first choice is what an optimal assignment gives here, and the priors settle look-alikes."""
    pairs = []
    for i, det in enumerate(detections):
        for spec in specs:
            cost = fits(det, spec, config)
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
