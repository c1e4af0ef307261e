"""Perception's thresholds, in one place: each with the reason for its value."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PerceptionConfig:
    """Thresholds of the tabletop pipeline (metres, pixels, OpenCV HSV units: H 0..179, S and V 0..255)."""

    # -- table plane --
    #: RANSAC hypotheses: the table fills most of the view, so a few dozen draws find it with near certainty
    ransac_iterations: int = 60
    #: a point within this of a plane hypothesis supports it: a depth sensor's noise at 1.5 m is a few mm
    ransac_inlier: float = 0.006
    #: the table's normal is within this of the base frame's z: rejects walls and the arm's flat faces
    max_plane_tilt_deg: float = 20.0
    #: every n-th pixel in each direction feeds the fit: a few thousand points pin a plane down
    plane_stride: int = 4

    # -- segmentation --
    #: a pixel belongs to an object above this height over the plane, or 3 sigma of the plane's residuals if
    #: more: a few mm keeps depth noise on the table out and still cuts a cube's side faces only at the bottom
    min_height: float = 0.005
    #: nothing on the table is taller than this: the arm (seen from the camera) is not a tabletop object
    max_height: float = 0.30
    #: neighbours whose depths differ by more than this (plus 2 % of the depth) lie on different surfaces:
    #: the far one is cut away from the near one, which separates an object from what it stands in front of
    depth_jump: float = 0.012
    #: below this saturation (or value) a pixel has no reliable hue: white, grey, black, shadowed texture
    min_saturation: int = 70
    min_value: int = 40
    #: a part smaller than this many pixels is speckle (noise, a colour fringe at an edge), not an object
    min_pixels: int = 20
    #: an object is at least this across and this tall: smaller blobs are depth noise or a piece of an edge
    min_extent: float = 0.012

    # -- measuring --
    #: the top face: points within this of the object's highest (robust) height; depth noise is ~2-3 mm
    top_band: float = 0.008
    #: support under an object (a tray's floor): the ring around it, when clearly above the table
    support_ring_px: int = 3

    # -- matching and tracking --
    #: a box's measured edge (height, footprint) may differ from its description's by this: 3 cm and 5 cm
    #: cubes are 2 cm apart, so 9 mm tells them apart while allowing for a pixel of blur at each side
    edge_tolerance: float = 0.009
    #: footprints wider than this are containers' (a tray); everything graspable is narrower
    container_min_extent: float = 0.12
    #: cost per metre between a detection and the object's last seen position: keeps names with identical
    #: descriptions stable; the scene's nominal position counts with `nominal_weight` until first seen
    track_weight: float = 10.0
    nominal_weight: float = 1.0
    #: an object not seen keeps its last state for this many frames (the arm passing over it), then is dropped
    hold_frames: int = 90
