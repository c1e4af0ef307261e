"""Training runs side by side on Ray: several skills, seeds or curriculum tasks at once, on this machine or a
cluster. Each job is one `train()` call in a Ray task; Ray schedules them (a job takes as many CPUs as its
config's torch threads) and nothing here does.

Determinism: a job's files depend on its config alone, not on how many workers ran or which jobs ran before
it. Each job gets a fresh worker process (`max_calls=1`: no torch random state, PyBullet client or torch
thread setting is inherited from an earlier job), `train()` pins torch to the config's threads (Ray also sets
OMP_NUM_THREADS to the task's CPUs), and a job whose worker dies is reported, not retried: the same command
again resumes each run from its last checkpoint, as an uninterrupted run would have gone on (README, "Learned
skills").

Ray is imported here only, and only when jobs run, so everything else works without it (the `ray` extra).
On this machine Ray stays on loopback: its processes listen on 127.0.0.1 only, no dashboard, no usage
statistics, its log lines kept in its session directory (/tmp/ray) instead of the terminal.
"""
from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skill_lib.learning.mcsac import TrainConfig

#: what to install when Ray is missing
RAY_MISSING = "Ray is not installed: pip install -e '.[ray]' (make test installs it)"


@dataclass(frozen=True)
class TrainJob:
    """One training run: what `skillstack train SKILL --seed N ...` does in-process."""

    config: TrainConfig
    run_dir: Path
    resume: bool = True

    @property
    def name(self) -> str:
        kind = "multi" if self.config.multi_critic else "single"
        return f"{self.config.skill} ({kind}-critic, seed {self.config.seed})"


@dataclass(frozen=True)
class JobResult:
    """A job's summary (train()'s return value), or why it failed: one of the two is None."""

    job: TrainJob
    summary: dict | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


#: called as each job finishes: (jobs finished so far, jobs in all, the result)
Report = Callable[[int, int, JobResult], None]


def print_progress(done: int, total: int, result: JobResult) -> None:
    """One line on stderr per finished job (the default report)."""
    if result.summary is not None:
        s = result.summary
        text = (f"success rate {s['success_rate']:.2f} after {s['steps']} steps (best {s['best_success_rate']:.2f}), "
                f"{s['minutes']:.1f} min")
    else:
        text = f"failed: {result.error}"
    print(f"[{done}/{total}] {result.job.name}: {text}", file=sys.stderr, flush=True)


def _import_ray(local: bool) -> Any:
    if local:
        # Set before Ray is first imported (it reads them then) and inherited by the processes it starts:
        # with "cluster" support off, Ray binds every server to 127.0.0.1 instead of the machine's address
        # (the variable's name says Windows/macOS, where that is the default; it works the same on Linux).
        # Token auth on explicitly: the same as Ray's default for a local instance, without its warning.
        for name, value in (("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0"), ("RAY_USAGE_STATS_ENABLED", "0"),
                            ("RAY_AUTH_MODE", "token")):
            os.environ.setdefault(name, value)
    try:
        import ray
    except ImportError as err:
        raise ImportError(RAY_MISSING) from err
    return ray


#: seconds to wait for a cluster's address to accept a connection before Ray is asked to join it
CONNECT_TIMEOUT = 5.0


def check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Raise ConnectionError unless something accepts a TCP connection at a cluster address "host:port" or
    "ray://host:port" within `timeout` s: Ray itself retries an unreachable one for minutes. "auto" (and any
    address without a port) is left to Ray, which answers at once when no cluster is found."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        raise ConnectionError(f"nothing answered at {host}:{port} within {timeout:g} s ({err}); "
                              "is the cluster's head node running there?") from None


@contextmanager
def ray_session(workers: int | None = None, address: str | None = None) -> Iterator[None]:
    """Ray for this process: an instance started on this machine with `workers` CPUs (None: all its cores),
    or, with `address` ("auto", "host:6379", "ray://host:10001"), a running cluster, whose own CPUs then
    decide how many jobs run at once. Shut down (or disconnected) on exit.

    Raises ImportError without Ray, ValueError for workers < 1 or workers with an address, ConnectionError for an
    address where nothing answers (check_reachable), RuntimeError when this process is already connected to Ray
    (the caller's session would be shut down under it)."""
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if workers is not None and address is not None:
        raise ValueError("workers sizes a Ray instance on this machine; on a cluster (address) its own CPUs "
                         "decide how many jobs run at once")
    ray = _import_ray(local=address is None)
    if ray.is_initialized():
        raise RuntimeError("this process is already connected to Ray")
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address is None:  # "local": a new instance even when RAY_ADDRESS names a cluster (that is --address)
        ray.init(address="local", num_cpus=workers, num_gpus=0, include_dashboard=False, **quiet)
    else:
        check_reachable(address)
        ray.init(address=address, **quiet)
    try:
        yield
    finally:
        ray.shutdown()


def _train_job(job: TrainJob) -> dict:
    """The task: the same train() as in-process (quiet: its progress bars would interleave)."""
    from skill_lib.learning.train import train
    return train(job.config, job.run_dir, resume=job.resume, quiet=True)


def _check_run_dirs(jobs: Sequence[TrainJob]) -> None:
    if len({job.run_dir.resolve() for job in jobs}) < len(jobs):
        raise ValueError("two jobs share a run directory (they would overwrite each other's checkpoints)")


def submit(jobs: Sequence[TrainJob], report: Report | None = print_progress) -> list[JobResult]:
    """Run the jobs in this process's Ray session (see ray_session); results in job order. A job that
    raises, or whose worker dies, comes back with its error; the others run on. Raises ValueError when two
    jobs share a run directory, RuntimeError outside a session."""
    _check_run_dirs(jobs)
    ray = _import_ray(local=False)  # already imported by ray_session
    if not ray.is_initialized():  # ray.remote would start a default instance, on the network
        raise RuntimeError("no Ray session: run the jobs inside ray_session(), or with run_jobs()")
    task = ray.remote(max_calls=1, max_retries=0)(_train_job)
    # Absolute: a worker's working directory need not be this process's (on a cluster it is another machine's,
    # which must then share the file system at the same path).
    pending = {task.options(num_cpus=job.config.torch_threads, name=f"train {job.name}").remote(
        TrainJob(job.config, job.run_dir.absolute(), job.resume)): i for i, job in enumerate(jobs)}
    results: list[JobResult | None] = [None] * len(jobs)
    while pending:
        [ready], _ = ray.wait(list(pending), num_returns=1)
        i = pending.pop(ready)
        try:
            result = JobResult(jobs[i], ray.get(ready))
        except ray.exceptions.RayTaskError as err:  # the job raised: its own exception, not Ray's wrapper
            result = JobResult(jobs[i], None, f"{type(err.cause).__name__}: {err.cause}")
        except ray.exceptions.RayError as err:  # the worker died, the node went away, ...
            result = JobResult(jobs[i], None, f"{type(err).__name__}: {' '.join(str(err).split())}")
        results[i] = result
        if report is not None:
            report(len(jobs) - len(pending), len(jobs), result)
    return [r for r in results if r is not None]


def run_jobs(jobs: Sequence[TrainJob], workers: int | None = None, address: str | None = None,
             report: Report | None = print_progress) -> list[JobResult]:
    """Start Ray (ray_session), run the jobs (submit), shut Ray down; results in job order."""
    _check_run_dirs(jobs)  # before Ray takes seconds to start
    with ray_session(workers, address):
        return submit(jobs, report)

