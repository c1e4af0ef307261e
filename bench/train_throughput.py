"""Training throughput on Ray: the same training jobs with 1 worker and with 2 (or --workers ...), side by side
(#18, item 4).

    python bench/train_throughput.py [--skill push] [--seeds 0 1 2 3] [--demos 20] [--bc-steps 1000] [--steps 0]
                                     [--eval-episodes 20] [--workers 1 2] [--out runs/bench_train_throughput]

One job per seed, each the skill's recipe with the sizes given (small by default: ~20 s a job on this 2-core
machine). Each worker count trains every job from scratch in a fresh local Ray instance (skill_lib/learning/
distributed.py). Figures per worker count: wall time from starting Ray to shutting it down, and of the jobs alone
(first submission to last result: each job's fresh worker process is in it, Ray's start is not); jobs per minute
and training environment steps per second (the demonstrations' and RL episodes' steps, read from each run's
replay; evaluation episodes are not counted) over the jobs' time; the speed-up over the first worker count; the
mean minutes a job took inside its worker. Last, whether every job wrote the same policy.pt bytes with every
worker count (the determinism the module promises). The load average before each count is printed: other work
on the machine takes cores from the workers.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from skill_lib.learning.distributed import JobResult, TrainJob, ray_session, submit
from skill_lib.learning.recipes import recipe


def training_steps(run_dir: Path) -> int:
    """Environment steps of the episodes a run trained on (demonstrations and RL), from its replay."""
    with np.load(run_dir / "replay.npz") as replay:
        return sum(len(replay[key]) for key in replay.files if key.endswith("_actions"))


def measure(jobs: list[TrainJob], workers: int) -> dict:
    """Train the jobs on a fresh local Ray instance with `workers` CPUs; its times and results."""
    for job in jobs:
        shutil.rmtree(job.run_dir, ignore_errors=True)  # from scratch: no resume
    load = os.getloadavg()[0]
    started = time.perf_counter()
    with ray_session(workers=workers):
        submitted = time.perf_counter()
        results = submit(jobs)
        finished = time.perf_counter()
    return {"workers": workers, "load": load, "total_s": time.perf_counter() - started,
            "jobs_s": finished - submitted, "results": results,
            "policies": [(job.run_dir / "policy.pt").read_bytes() if r.ok else None for job, r in zip(jobs, results)]}


def row(run: dict, jobs: list[TrainJob], baseline: dict) -> str:
    results: list[JobResult] = run["results"]
    done = [r for r in results if r.summary is not None]
    steps = sum(training_steps(r.job.run_dir) for r in done)
    minutes = np.mean([r.summary["minutes"] for r in done if r.summary is not None]) if done else float("nan")
    return (f"| {run['workers']} | {run['load']:.2f} | {len(done)}/{len(jobs)} | {run['total_s']:.1f} | "
            f"{run['jobs_s']:.1f} | {60 * len(done) / run['jobs_s']:.2f} | {steps / run['jobs_s']:.0f} | "
            f"{baseline['jobs_s'] / run['jobs_s']:.2f}x | {minutes:.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skill", default="push")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3], help="one job per seed")
    parser.add_argument("--demos", type=int, default=20, help="demonstrations per job")
    parser.add_argument("--bc-steps", type=int, default=1_000, help="behaviour-cloning updates per job")
    parser.add_argument("--steps", type=int, default=0, help="RL environment steps per job")
    parser.add_argument("--eval-episodes", type=int, default=20, help="episodes per evaluation")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to compare")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_train_throughput"))
    args = parser.parse_args()
    print(f"# training throughput on Ray, {datetime.date.today()}, {platform.node()}, {platform.platform()}, "
          f"{os.cpu_count()} CPUs, python {platform.python_version()}")
    print(f"jobs: {args.skill}, seeds {args.seeds}: {args.demos} demonstrations, {args.bc_steps} behaviour-cloning "
          f"updates, {args.steps} RL steps, evaluations of {args.eval_episodes} episodes; 1 torch thread each")
    runs = []
    for workers in args.workers:
        jobs = [TrainJob(recipe(args.skill, seed=seed, demo_episodes=args.demos, bc_pretrain_steps=args.bc_steps,
                                total_steps=args.steps, eval_episodes=args.eval_episodes),
                         args.out / f"workers{workers}" / f"{args.skill}-seed{seed}") for seed in args.seeds]
        print(f"{workers} worker(s) ...", file=sys.stderr, flush=True)
        runs.append((measure(jobs, workers), jobs))
    print("\n| workers | load avg before | jobs done | wall incl. Ray start (s) | jobs (s) | jobs/min | "
          "training env steps/s | speed-up | mean min per job |")
    print("|---|---|---|---|---|---|---|---|---|")
    for run, jobs in runs:
        print(row(run, jobs, runs[0][0]))
    policies = [run["policies"] for run, _ in runs]
    same = all(p == policies[0] and None not in p for p in policies)
    print(f"\nsame policy.pt bytes for every job with every worker count: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
