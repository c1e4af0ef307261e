"""Tabletop perception (hardware.perception, issue #16) against the simulator's truth, over scene seeds, with
and without depth noise: position error of the objects fully in view, size and colour accuracy, missed and
phantom objects, and identity switches while two cubes slide a few cm a frame.

Truth: arm.objects() (bounding-box centres) and arm.segmentation() (each object's pixels). A named detection
is correct when most of its pixels are that object's; a phantom when most are no object's; a switch when
most are another object's.

    python bench/perception.py [--seeds 20] [--frames 6] [--width 320 --height 240] [--image seg.png]
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from collections import defaultdict

import cv2
import numpy as np

from hardware.camera import DepthNoise, RGBDFrame
from hardware.perception import Perception, PerceptionResult
from hardware.perception.colors import ACHROMATIC
from hardware.pybullet import PyBulletArm, PyBulletConfig

CUBE_EDGES = {"large": 0.05, "small": 0.03}


def in_view(mask: np.ndarray) -> bool:
    return mask.sum() >= 30 and not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())


def owner(mask: np.ndarray, truth_masks: dict[str, np.ndarray]) -> str | None:
    """The object most of `mask`'s pixels belong to, or None (table, robot, nothing)."""
    best = max(truth_masks, key=lambda n: int((mask & truth_masks[n]).sum()))
    return best if (mask & truth_masks[best]).sum() > 0.5 * mask.sum() else None


def score(result: PerceptionResult, arm: PyBulletArm, masks: dict[str, np.ndarray], stats: dict) -> None:
    truth = arm.objects()
    for name, det in result.detections.items():
        who = owner(det.mask, masks)
        if who is None:
            stats["phantom"] += 1
        elif who != name:
            stats["switch"] += 1
    for name, mask in masks.items():
        if not in_view(mask):
            continue
        stats["in_view"] += 1
        det = result.detections.get(name)
        if det is None or owner(det.mask, masks) != name:
            stats["missed"] += 1
            continue
        obj = truth[name]
        stats["errors"].append(float(np.linalg.norm(det.position - obj.position)))
        stats["colour_ok"] += det.colour == obj.color or (det.colour in ACHROMATIC and obj.color in ACHROMATIC)
        stats["colour_n"] += 1
        if obj.size in CUBE_EDGES and obj.category == "cube":
            edge = float(np.mean(det.extents))
            size = min(CUBE_EDGES, key=lambda s: abs(CUBE_EDGES[s] - edge))
            stats["size_ok"] += size == obj.size
            stats["size_n"] += 1


def overlay(frame: RGBDFrame, result: PerceptionResult, scale: int = 2) -> np.ndarray:
    """The camera image with each named object's pixels tinted and labelled, unmatched ones outlined grey."""
    bgr = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR)
    out = bgr.copy()
    rng = np.random.default_rng(0)
    for name, det in result.detections.items():
        out[det.mask] = (0.45 * out[det.mask] + 0.55 * rng.integers(60, 255, 3)).astype(np.uint8)
    out = cv2.resize(out, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    for det in result.unmatched:
        m = cv2.resize(det.mask.astype(np.uint8), None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (128, 128, 128), 2)
    for name, det in result.detections.items():
        v, u = np.nonzero(det.mask)
        org = (int(u.min()) * scale, max(12, int(v.min()) * scale - 4))
        label = f"{name} {det.colour} {1000 * float(np.mean(det.extents)):.0f}mm"
        cv2.putText(out, label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 2, cv2.LINE_AA)
        cv2.putText(out, label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def run(seeds: int, frames: int, width: int, height: int, image: str | None) -> None:
    stats: dict[str, dict] = {k: defaultdict(int) | {"errors": []} for k in ("no noise", "depth noise")}
    seq: dict[str, dict] = {k: defaultdict(int) | {"errors": []} for k in stats}
    times: list[float] = []
    for seed in range(seeds):
        with PyBulletArm(PyBulletConfig(seed=seed)) as arm:
            start = arm.objects()
            for key, noise in (("no noise", None), ("depth noise", DepthNoise(seed=seed))):
                perception = Perception()
                masks = arm.segmentation(width, height)
                frame = arm.rgbd(width, height, noise=noise)
                t0 = time.perf_counter()
                result = perception.update(frame)
                times.append(time.perf_counter() - t0)
                score(result, arm, masks, stats[key])
                if image and seed == 0 and noise is not None:
                    cv2.imwrite(image, overlay(frame, result))
                # a short sequence: two cubes slide 1.5-3 cm a frame in seeded directions
                rng = np.random.default_rng(seed)
                movers = rng.choice(["red_cube", "green_cube", "blue_cube", "yellow_cube"], 2, replace=False)
                steps = {}
                for n in movers:
                    direction = rng.normal(size=2)
                    steps[n] = rng.uniform(0.015, 0.03) * np.array([*direction / np.linalg.norm(direction), 0.0])
                for i in range(1, frames):
                    for n in movers:
                        arm.set_object_pose(n, start[n].position + i * steps[n])
                    result = perception.update(arm.rgbd(width, height, noise=noise, frame_index=i))
                    score(result, arm, arm.segmentation(width, height), seq[key])
                for n in movers:  # back where the seed put them, for the next noise setting
                    arm.set_object_pose(n, start[n].position)
    for title, table in (("single frames", stats), (f"sequences of {frames} frames (2 cubes moving)", seq)):
        print(f"\n{title}:")
        print(f"{'':12s} {'objects':>7s} {'mean mm':>8s} {'p95 mm':>7s} {'max mm':>7s} {'size':>7s} {'colour':>7s} "
              f"{'missed':>6s} {'phantom':>7s} {'switch':>6s}")
        for key, s in table.items():
            e = np.array(s["errors"]) * 1000
            print(f"{key:12s} {s['in_view']:7d} {e.mean():8.1f} {np.percentile(e, 95):7.1f} {e.max():7.1f} "
                  f"{s['size_ok'] / max(1, s['size_n']):7.1%} {s['colour_ok'] / max(1, s['colour_n']):7.1%} "
                  f"{s['missed']:6d} {s['phantom']:7d} {s['switch']:6d}")
    print(f"\nperception per frame ({width}x{height}): mean {1000 * np.mean(times):.0f} ms, "
          f"max {1000 * np.max(times):.0f} ms")
    if image:
        print(f"segmentation overlay (seed 0, depth noise): {image}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--frames", type=int, default=6, help="frames per tracking sequence")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--image", help="write the segmentation overlaid on the camera image here (PNG)")
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}, {args.seeds} seeds of the default "
          f"scene, camera {args.width}x{args.height}, depth noise: DepthNoise() (2 mm at 1 m, 1 % dropped)")
    t0 = time.perf_counter()
    run(args.seeds, args.frames, args.width, args.height, args.image)
    print(f"wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
