"""Control-loop rate of the PyBullet Panda in the default scene, headless (DIRECT).

Measures, over the same number of control steps (one step = physics_hz / control_hz physics substeps):
  * raw physics: stepSimulation calls per second, and control steps per second with no commands;
  * joint commands through the safety filter (limits, velocity bound, workspace check by FK) + physics;
  * the Cartesian controller: safety (workspace, step limit) + IK + joint safety + physics,
    plus the time of each part alone (IK, joint filter);
  * side by side with panda-gym (if installed: pip install -e '.[bench]'): our policy step (a random
    [dx, dy, dz, gripper] action through apply_action, then physics; each part timed) and panda-gym's
    PandaPickAndPlace-v3 env.step, interleaved in blocks so that load from other processes hits both
    alike; it prints both rates and the ratios, which are what to compare across runs (rates are noisy);
    then the same with the scene cut to its first cube, the size of panda-gym's;
  * camera frame time at 320x240 (TinyRenderer, CPU).
The real-time factor is control steps per second divided by the control rate (20 Hz by default).

    python bench/control_rate.py [--steps 2000] [--frames 60] [--seed 0]
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from dataclasses import replace

import numpy as np
import pybullet as pb

from hardware.kinematics import IK_MAX_ITERATIONS
from hardware.pybullet import PyBulletArm, PyBulletConfig

# A loop of tool-centre-point goals over the table (metres, base frame); the controller moves
# toward each for a while, so the safety step limit and the IK are exercised as in a skill.
CIRCUIT = [(0.45, 0.0, 0.30), (0.55, -0.25, 0.10), (0.40, -0.20, 0.05), (0.35, 0.25, 0.20),
           (0.65, 0.20, 0.15), (0.50, 0.0, 0.50)]
STEPS_PER_GOAL = 40


def rate_line(name: str, count: int, seconds: float, unit: str, control_hz: float | None = None) -> str:
    per_s = count / seconds
    line = f"  {name:<46} {per_s:10.0f} {unit}/s   {1e3 * seconds / count:8.3f} ms each"
    if control_hz:
        line += f"   {per_s / control_hz:6.1f}x real time"
    return line


def bench_physics(arm: PyBulletArm, steps: int) -> tuple[float, float]:
    client = arm._client  # raw stepping on purpose: what one physics step costs with nothing else
    n = steps * arm._substeps
    start = time.perf_counter()
    for _ in range(n):
        pb.stepSimulation(physicsClientId=client)
    raw = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        arm.step()
    stepped = time.perf_counter() - start
    return raw, stepped


def bench_joint_commands(arm: PyBulletArm, steps: int, rng: np.random.Generator) -> tuple[float, float]:
    """Safety-filtered joint commands (random targets near home, so the arm really moves) + physics."""
    home = np.array(arm.robot_config.home)
    targets = home + rng.uniform(-0.6, 0.6, size=(steps, len(home)))
    filter_only = 0.0
    start = time.perf_counter()
    for i in range(steps):
        t0 = time.perf_counter()
        arm.command_joints(targets[i])
        filter_only += time.perf_counter() - t0
        arm.step()
    return time.perf_counter() - start, filter_only


def bench_cartesian(arm: PyBulletArm, steps: int) -> tuple[float, float, float]:
    """The Cartesian controller: proportional steps toward circuit goals via command_ee + physics."""
    command = 0.0
    start = time.perf_counter()
    for i in range(steps):
        goal = np.asarray(CIRCUIT[(i // STEPS_PER_GOAL) % len(CIRCUIT)])
        tcp = arm.ee_pose().position
        t0 = time.perf_counter()
        arm.command_ee(tcp + np.clip(goal - tcp, -0.03, 0.03))
        command += time.perf_counter() - t0
        arm.step()
    total = time.perf_counter() - start
    # IK alone, as command_ee calls it, from the arm's current state
    orn = arm.tool_down()
    q = arm.joint_state().positions
    n_ik = min(steps, 1000)
    start = time.perf_counter()
    for i in range(n_ik):
        arm.kinematics.ik(CIRCUIT[i % len(CIRCUIT)], orn, q)
    ik = (time.perf_counter() - start) / n_ik * steps
    return total, command, ik


def bench_camera(arm: PyBulletArm, frames: int) -> list[float]:
    arm.camera_rgb()  # first frame builds the renderer's caches
    times = []
    for _ in range(frames):
        start = time.perf_counter()
        img = arm.camera_rgb(320, 240)
        times.append(time.perf_counter() - start)
        arm.step()
    assert img.shape == (240, 320, 3)
    return times


#: control steps per block of the side-by-side comparison; each side runs one block in turn
SIDE_BY_SIDE_BLOCK = 100


def ours_per_step(arm: PyBulletArm) -> str:
    """What one of our policy steps does, for the printout (the figures come from the arm)."""
    return (f"apply_action: command_ee (safety: NaN, e-stop, workspace box, {arm.safety.config.max_ee_step * 100:.0f}"
            f" cm step limit; IK: a null-space step toward the home posture, then damped least squares, up to "
            f"{IK_MAX_ITERATIONS} iterations; joint safety: limits, "
            f"velocity bound, workspace check by FK) + command_gripper (safety), then {arm._substeps} physics "
            f"substeps at {arm.config.physics_hz} Hz ({1e3 * arm.control_dt:.0f} ms simulated); "
            f"{arm.robot_config.name} + table + {len(arm.scene.objects)} objects (at rest they sleep)")


def bench_side_by_side(arm: PyBulletArm, steps: int, seed: int,
                       rng: np.random.Generator) -> tuple[float, float, float, str] | None:
    """Seconds for `steps` of: our policy step's command (apply_action), its physics (arm.step), and
    panda-gym's PandaPickAndPlace-v3 env.step with random actions (same PyBullet, same Panda, end-effector
    deltas + gripper: the same kind of control step). Interleaved in blocks, so the ratios are measured
    under the same load. Only env.step is timed (not the resets at panda-gym's 50-step time limit)."""
    try:
        import gymnasium as gym
        import panda_gym  # noqa: F401  (registers the environments)
    except ImportError:
        return None
    from skill_lib.runner import apply_action
    env = gym.make("PandaPickAndPlace-v3")
    env.reset(seed=seed)
    env.action_space.seed(seed)
    command = physics = reference = 0.0
    done = 0
    while done < steps:
        n = min(SIDE_BY_SIDE_BLOCK, steps - done)
        for _ in range(n):
            action = rng.uniform(-1, 1, size=4)
            start = time.perf_counter()
            apply_action(arm, action)
            mid = time.perf_counter()
            arm.step()  # physics of a moving arm: dearer than the no-command row's arm at rest
            physics += time.perf_counter() - mid
            command += mid - start
        for _ in range(n):
            action = env.action_space.sample()
            start = time.perf_counter()
            _, _, terminated, truncated, _ = env.step(action)
            reference += time.perf_counter() - start
            if terminated or truncated:
                env.reset()
        done += n
    sim = env.unwrapped.sim
    bodies = sim.physics_client.getNumBodies()
    info = (f"clip action, IK (PyBullet defaults: up to 20 iterations, stops at 1e-4 m, no joint limits), "
            f"motor targets, then {sim.n_substeps} physics substeps at {1 / sim.timestep:.0f} Hz "
            f"({1e3 * sim.n_substeps * sim.timestep:.0f} ms simulated); Panda + {bodies - 1} bodies (plane, table, "
            f"cube, target ghost); observation, reward; no safety filter")
    env.close()
    return command, physics, reference, info


def print_side_by_side(arm: PyBulletArm, steps: int, seed: int, rng: np.random.Generator) -> None:
    hz = arm.config.control_hz
    print(f"  ours, per step: {ours_per_step(arm)}")
    side = bench_side_by_side(arm, steps, seed, rng)
    if side is None:
        print("  reference panda-gym not installed (pip install -e '.[bench]')")
        return
    command, physics, reference, info = side
    ours = command + physics
    print(f"  panda-gym PandaPickAndPlace-v3, per env.step: {info}")
    print(rate_line("ours: policy step (safety + IK + physics)", steps, ours, "steps", hz))
    print(rate_line("  of which apply_action (safety + IK)", steps, command, "calls"))
    print(rate_line("  of which physics (arm.step)", steps, physics, "calls"))
    print(rate_line("panda-gym env.step", steps, reference, "steps", 25))
    print(f"  {'ratio ours / panda-gym (steps/s)':<46} {reference / ours:10.2f}x")
    print(f"  {'  with a free command (physics alone)':<46} {reference / physics:10.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000, help="control steps per measurement")
    parser.add_argument("--frames", type=int, default=60, help="camera frames")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, python {platform.python_version()}, pybullet API {pb.getAPIVersion()}")
    print(f"date: {datetime.datetime.now().isoformat(timespec='seconds')}, "
          f"load average {os.getloadavg()[0]:.2f} (other processes share the CPUs: compare ratios, not rates)")
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    arm = PyBulletArm(PyBulletConfig(seed=args.seed))
    setup = time.perf_counter() - start
    try:
        hz = arm.config.control_hz
        print(f"robot: {arm.robot_config.name}, scene: {arm.scene.name} ({len(arm.scene.objects)} objects), "
              f"physics {arm.config.physics_hz} Hz, control {hz} Hz ({arm._substeps} substeps/step), "
              f"{args.steps} control steps per row; world set-up {setup:.2f} s\n")

        raw, stepped = bench_physics(arm, args.steps)
        print("physics only")
        print(rate_line("stepSimulation", args.steps * arm._substeps, raw, "steps"))
        print(rate_line("control step, no command", args.steps, stepped, "steps", hz))

        total, filt = bench_joint_commands(arm, args.steps, rng)
        print("joint commands (safety filter) + physics")
        print(rate_line("control step", args.steps, total, "steps", hz))
        print(rate_line("  of which command_joints (filter + FK)", args.steps, filt, "calls"))

        arm.command_joints(arm.robot_config.home)
        for _ in range(40):
            arm.command_joints(arm.robot_config.home)
            arm.step()
        stats_before = arm.safety.stats.clamped
        total, command, ik = bench_cartesian(arm, args.steps)
        print("Cartesian controller (safety + IK + joint safety) + physics")
        print(rate_line("control step", args.steps, total, "steps", hz))
        print(rate_line("  of which command_ee (safety + IK + filter)", args.steps, command, "calls"))
        print(rate_line("  IK alone (Kinematics.ik)", args.steps, ik, "calls"))
        print(f"  {'steps clamped by the safety filter':<46} {arm.safety.stats.clamped - stats_before:10d}")

        print("side by side, interleaved in blocks of "
              f"{SIDE_BY_SIDE_BLOCK} steps: random policy actions [dx, dy, dz, gripper]")
        print_side_by_side(arm, args.steps, args.seed, rng)
        one_cube = replace(arm.scene, objects=arm.scene.objects[:1])
        with PyBulletArm(PyBulletConfig(seed=args.seed), scene=one_cube) as small:
            print(f"the same with panda-gym's scene size: Panda + table + {one_cube.objects[0].name} alone")
            print_side_by_side(small, args.steps, args.seed, rng)
        print(f"load average at the end {os.getloadavg()[0]:.2f}")

        times = bench_camera(arm, args.frames)
        ms = sorted(1e3 * t for t in times)
        print(f"camera 320x240 (TinyRenderer), {args.frames} frames")
        print(f"  {'frame time':<46} {statistics.mean(ms):10.1f} ms mean   {statistics.median(ms):6.1f} median"
              f"   {ms[int(0.95 * (len(ms) - 1))]:6.1f} p95   ({1e3 / statistics.mean(ms):.1f} frames/s)")
    finally:
        arm.close()


if __name__ == "__main__":
    main()
