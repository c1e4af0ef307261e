"""Colour names from pixels: hue decides among the scene vocabulary's chromatic colours (hardware.scene
COLORS_RGBA: red, green, blue, ...); pixels with too little saturation or light have no reliable hue and are
achromatic (white or black by brightness), because shading and texture change lightness far more than hue."""
from __future__ import annotations

import cv2
import numpy as np

from hardware.perception.config import PerceptionConfig
from hardware.scene import COLORS_RGBA

#: colours told apart by lightness only; a camera sees a white tray in shade as grey or black
ACHROMATIC = frozenset({"white", "black"})
ACHROMATIC_LABEL = 0  # per-pixel label of achromatic pixels; chromatic colours are 1.. in CHROMATIC order


def _hue(rgba: tuple[float, ...]) -> int:
    rgb = np.array([[[round(255 * c) for c in rgba[:3]]]], np.uint8)
    return int(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[0, 0, 0])


#: chromatic vocabulary colours and their OpenCV hue (0..179), from the scene's own palette
CHROMATIC: tuple[tuple[str, int], ...] = tuple((name, _hue(rgba)) for name, rgba in COLORS_RGBA.items()
                                               if name not in ACHROMATIC)


def _hue_lut() -> np.ndarray:
    """hue (0..179) -> 1-based index into CHROMATIC of the nearest hue, on the hue circle."""
    hues = np.arange(180)[:, None]
    refs = np.array([h for _, h in CHROMATIC])[None, :]
    diff = np.abs(hues - refs)
    return (np.argmin(np.minimum(diff, 180 - diff), axis=1) + 1).astype(np.int32)


_LUT = _hue_lut()


def pixel_labels(rgb: np.ndarray, config: PerceptionConfig = PerceptionConfig()) -> np.ndarray:
    """Per-pixel colour label (H x W int32): ACHROMATIC_LABEL, or 1 + index into CHROMATIC."""
    hsv = cv2.cvtColor(np.ascontiguousarray(rgb, np.uint8), cv2.COLOR_RGB2HSV)
    labels = _LUT[hsv[..., 0]]
    labels[(hsv[..., 1] < config.min_saturation) | (hsv[..., 2] < config.min_value)] = ACHROMATIC_LABEL
    return labels


def name_colour(pixels: np.ndarray, config: PerceptionConfig = PerceptionConfig()) -> str:
    """The vocabulary colour of an object's pixels (N x 3 RGB uint8): the most common label; achromatic
    pixels are named white or black by their median brightness."""
    px = np.ascontiguousarray(np.asarray(pixels, np.uint8).reshape(1, -1, 3))
    labels = pixel_labels(px, config)[0]
    counts = np.bincount(labels, minlength=len(CHROMATIC) + 1)
    label = int(np.argmax(counts))
    if label != ACHROMATIC_LABEL:
        return CHROMATIC[label - 1][0]
    value = float(np.median(cv2.cvtColor(px, cv2.COLOR_RGB2HSV)[0, :, 2]))
    return "white" if value >= 128 else "black"


def colours_compatible(measured: str, described: str | None) -> bool:
    """Whether an object described as `described` may look `measured`: hues must agree; white and black
    differ in lightness only, which lighting and texture change, so they are one class here."""
    if described is None:
        return True
    if described in ACHROMATIC:
        return measured in ACHROMATIC
    return measured == described
