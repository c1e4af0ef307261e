"""Tabletop perception (hardware.perception, issue #16) against the simulator's truth, over seeds, in the
cases of bench/perception_cases.py: the default scene as set, cubes sliding, clutter and occlusion (cubes touching,
in the tray, stacked, the arm hovering, a cube in the hand) and the drawer scene, with the drawer pulled open.

Per case: the objects in view (each case says what that means) over all seeds and frames; the position error
of the state perception gives each (its box's centre against PyBullet's); the size class of cubes whose footprint
is whole (nearest of 3 and 5 cm); colour; missed (in view, not named on its pixels); phantom (a name given to
pixels that are mostly another object's or nobody's); identity switches (the name on an object's pixels
changing between frames). Depth noise (DepthNoise, 2 mm at 1 m, 1 % dropped) on, except where the case says.

    python bench/perception.py [--seeds 20] [--cases "stack,drawer pulled open"] [--image seg.png] [--notes]
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import cv2
import numpy as np
from perception_cases import CASES, HEIGHT, WIDTH, Tally

from hardware.camera import DepthNoise, RGBDFrame
from hardware.perception import Perception, PerceptionResult
from hardware.pybullet import PyBulletArm, PyBulletConfig


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


def row(name: str, t: Tally) -> str:
    e = np.array(t.errors) * 1000
    figures = f"{e.mean():.1f} | {np.percentile(e, 95):.1f} | {e.max():.1f}" if len(e) else "- | - | -"
    size = f"{t.size_ok / t.size_n:.0%} ({t.size_n})" if t.size_n else "-"
    colour = f"{t.colour_ok / t.colour_n:.0%}" if t.colour_n else "-"
    return f"| {name} | {t.in_view} | {figures} | {size} | {colour} | {t.missed} | {t.phantom} | {t.switch} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--cases", help="comma-separated case names (default: all): " + ", ".join(CASES))
    parser.add_argument("--image", help="write the segmentation of seed 0 overlaid on the camera image here (PNG)")
    parser.add_argument("--notes", action="store_true", help="list every miss, phantom and switch")
    args = parser.parse_args()
    chosen = [c.strip() for c in args.cases.split(",")] if args.cases else list(CASES)
    unknown = [c for c in chosen if c not in CASES]
    if unknown:
        parser.error(f"unknown cases {unknown}; known: {', '.join(CASES)}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}, seeds 0..{args.seeds - 1}, camera "
          f"{WIDTH}x{HEIGHT}")
    t0 = time.perf_counter()
    tallies: dict[str, Tally] = {}
    for name in chosen:
        start, tallies[name] = time.perf_counter(), Tally()
        for seed in range(args.seeds):
            CASES[name][1](seed, tallies[name])
        print(f"  {name}: {time.perf_counter() - start:.0f} s", flush=True)
    print("\n| case | objects in view | mean mm | p95 mm | max mm | size class | colour | missed | phantom | "
          "identity switches |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, t in tallies.items():
        if t.in_view:  # the drawer's pull has figures of its own (below)
            print(row(name, t))
    print()
    for name, t in tallies.items():
        print(f"{name}: {CASES[name][0]}")
        for key, values in t.extra.items():
            v = np.array(values)
            print(f"    {key}: n {len(v)}, mean {v.mean():.3f}, p95 {np.percentile(v, 95):.3f}, max {v.max():.3f}")
        notes = t.notes if args.notes else t.notes[:5]
        for note in notes:
            print(f"    {note}")
        if len(t.notes) > len(notes):
            print(f"    ... {len(t.notes) - len(notes)} more (--notes)")
    if args.image:
        with PyBulletArm(PyBulletConfig(seed=0)) as arm:
            frame = arm.rgbd(WIDTH, HEIGHT, noise=DepthNoise(seed=0))
            cv2.imwrite(args.image, overlay(frame, Perception(arm.scene).update(frame)))
        print(f"segmentation overlay (seed 0, depth noise): {args.image}")
    times = _frame_times()
    print(f"perception per frame ({WIDTH}x{HEIGHT}, default scene, arm at home): mean {1000 * np.mean(times):.0f} ms, "
          f"max {1000 * np.max(times):.0f} ms")
    print(f"wall time {time.perf_counter() - t0:.0f} s")


def _frame_times(frames: int = 20) -> list[float]:
    times = []
    with PyBulletArm(PyBulletConfig(seed=0)) as arm:
        perception = Perception(arm.scene)
        for i in range(frames):
            frame = arm.rgbd(WIDTH, HEIGHT, noise=DepthNoise(seed=0), frame_index=i)
            t0 = time.perf_counter()
            perception.update(frame)
            times.append(time.perf_counter() - t0)
    return times


if __name__ == "__main__":
    main()
