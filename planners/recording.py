"""Writes the scene camera to an MP4 video while a task runs."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from hardware.arm import ArmInterface


class VideoRecorder:
    """Grabs a frame every `every` control steps; frames go straight to disk, not memory."""

    def __init__(self, path: str | Path, arm: ArmInterface, every: int = 3, fps: float | None = None) -> None:
        self.path = Path(path)
        if self.path.suffix.lower() != ".mp4":
            raise ValueError(f"video path must end in .mp4, got {str(path)!r}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.arm, self.every = arm, max(1, every)
        first = arm.camera_rgb()
        height, width = first.shape[:2]
        # Real time: one frame per `every` control periods.
        fps = fps or 1.0 / (self.every * arm.control_dt)
        fourcc = cv2.VideoWriter_fourcc(*"mp4v")  # type: ignore[attr-defined]  # not in OpenCV's stubs
        self._writer = cv2.VideoWriter(str(self.path), fourcc, fps, (width, height))
        if not self._writer.isOpened():
            raise OSError(f"cannot open a video writer for {self.path}")
        self._steps = 0
        self.frames = 0
        self._write(first)

    def _write(self, rgb: np.ndarray) -> None:
        self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def on_step(self) -> None:
        self._steps += 1
        if self._steps % self.every == 0:
            self._write(self.arm.camera_rgb())

    def close(self) -> None:
        self._write(self.arm.camera_rgb())
        self._writer.release()
