"""Training runs on Ray (skill_lib/learning/distributed.py, `skillstack train --seeds ... --workers N`): the same
files as one run after another in this process, with 1 worker or 2; results in job order; a failed job does not
take the others with it; Ray stays on loopback; the command's errors. Each Ray run starts its own local
instance (a few seconds; its worker count is its CPU count), so there are two: 1 worker through the command, 2
through the library. Every job is a tiny recipe (3 demonstrations, 30 cloning updates, 100 RL steps)."""
from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import pytest

from skill_lib.learning import recipes
from skill_lib.learning.distributed import JobResult, TrainJob, ray_session, run_jobs, submit
from skill_stack_apps.cli import main

pytestmark = pytest.mark.slow

SEEDS = (0, 1)
#: the command's flags for a tiny run ...
FLAGS = ["--demos", "3", "--bc-steps", "30", "--steps", "100", "--eval-every", "100"]
#: ... the same as TrainConfig fields
FIELDS = {"demo_episodes": 3, "bc_pretrain_steps": 30, "total_steps": 100, "eval_every": 100}
#: what no flag sets, added to the recipe: a small network, short evaluations, updates from the 20th step
TINY = {"eval_episodes": 2, "learning_starts": 20, "batch_size": 32, "critic_warmup_updates": 10, "hidden": 64}
#: the files a run writes that must not depend on where it ran
FILES = ("policy.pt", "last_policy.pt", "warm_start_policy.pt", "curve.csv")


_RECIPE = recipes.recipe


def tiny_recipe(skill: str, **overrides):
    return _RECIPE(skill, **{**TINY, **overrides})


def run_dir(out: Path, seed: int) -> Path:
    return out / f"move_to-multi-seed{seed}"


@contextlib.contextmanager
def tiny_command_without_ray():
    """The command builds its configs from tiny_recipe, and `import ray` fails (as when it is not installed)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recipes, "recipe", tiny_recipe)
        patch.setitem(sys.modules, "ray", None)
        yield patch


def command(*argv: str) -> tuple[int, str, str]:
    """`skillstack ...` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def one_by_one(tmp_path_factory) -> Path:
    """The reference: `skillstack train move_to --seed N` for each seed, in this process, without Ray."""
    out = tmp_path_factory.mktemp("one_by_one")
    with tiny_command_without_ray():
        for seed in SEEDS:
            code, stdout, stderr = command("train", "move_to", "--seed", str(seed), *FLAGS, "--out", str(out))
            assert code == 0, stderr
            assert "run(s) on Ray" not in stdout
    return out


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory) -> tuple[Path, str, str]:
    """`skillstack train move_to --seeds 0 2 1 --workers 1 --json`, where seed 2's run directory holds a broken
    checkpoint (its resume fails): its run directories, stdout and stderr."""
    out = tmp_path_factory.mktemp("one_worker")
    run_dir(out, 2).mkdir()
    (run_dir(out, 2) / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recipes, "recipe", tiny_recipe)
        code, stdout, stderr = command("train", "move_to", "--seeds", "0", "2", "1", "--workers", "1", *FLAGS,
                                       "--out", str(out), "--json")
    assert code == 1, stderr  # one run failed
    return out, stdout, stderr


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory) -> tuple[Path, list[JobResult], list[tuple[int, int, str]], str]:
    """The library on 2 workers: both seeds and a job that fails (an actor update train() refuses). Returns the
    directory, the results, the reports as jobs finished (done, total, job name) and Ray's GCS address."""
    import ray

    out = tmp_path_factory.mktemp("two_workers")
    jobs = [TrainJob(tiny_recipe("move_to", seed=seed, **FIELDS), run_dir(out, seed)) for seed in SEEDS]
    jobs.insert(1, TrainJob(tiny_recipe("move_to", seed=7, **{**FIELDS, "actor_update": "ppo"}), out / "bad"))
    reports: list[tuple[int, int, str]] = []
    with ray_session(workers=2):
        gcs = ray.get_runtime_context().gcs_address
        assert ray.cluster_resources()["CPU"] == 2
        results = submit(jobs, lambda done, total, result: reports.append((done, total, result.job.name)))
    assert not ray.is_initialized()
    return out, results, reports, gcs


def _without_timing(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("minutes", "run_dir")}


def test_one_worker_and_two_write_the_files_of_runs_one_by_one(one_by_one, one_worker, two_workers):
    (one, stdout, _), (two, results, _, _) = one_worker, two_workers
    for seed in SEEDS:
        for name in FILES:
            reference = (run_dir(one_by_one, seed) / name).read_bytes()
            assert (run_dir(one, seed) / name).read_bytes() == reference, f"1 worker, seed {seed}: {name} differs"
            assert (run_dir(two, seed) / name).read_bytes() == reference, f"2 workers, seed {seed}: {name} differs"
    # the seeds matter (the comparison above could not pass with files that ignore them)
    assert (run_dir(one_by_one, 0) / "policy.pt").read_bytes() != (run_dir(one_by_one, 1) / "policy.pt").read_bytes()
    summaries = json.loads(stdout.strip().splitlines()[-1])
    assert [_without_timing(summaries[i]) for i in (0, 2)] == [_without_timing(results[i].summary or {})
                                                              for i in (0, 2)]
    assert all(summaries[i]["steps"] >= 100 for i in (0, 2))  # RL ran: updates, replay sampling, evaluations


def test_results_come_back_in_job_order_and_a_failed_job_spares_the_others(two_workers):
    out, results, reports, _ = two_workers
    assert [r.job.config.seed for r in results] == [0, 7, 1]
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].summary is None and results[1].error == "ValueError: actor_update must be 'sac' or 'awac', " \
                                                              "not 'ppo'"
    assert [r.summary["run_dir"] for r in results if r.summary] == [str(run_dir(out, s).absolute()) for s in SEEDS]
    # one report per job as it finished, counting up
    assert [(done, total) for done, total, _ in reports] == [(1, 3), (2, 3), (3, 3)]
    assert sorted(name for *_, name in reports) == sorted(r.job.name for r in results)


def test_ray_on_this_machine_listens_on_loopback_only(two_workers):
    assert two_workers[3].startswith("127.0.0.1:")


def test_the_command_reports_each_run_as_it_finishes_then_all_in_order(one_worker):
    out, stdout, stderr = one_worker
    assert "3 run(s) on Ray on this machine, 1 at once" in stdout
    progress = [line for line in stderr.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in progress] == ["[1/3", "[2/3", "[3/3"]
    assert sum("move_to (multi-critic, seed 2): failed: " in line for line in progress) == 1
    lines = stdout.strip().splitlines()
    outcomes = [line.split(": ", 1) for line in lines[-5:-2]]
    assert [name for name, _ in outcomes] == [f"move_to (multi-critic, seed {s})" for s in (0, 2, 1)]
    assert [text.split(" ")[0] for _, text in outcomes] == ["success", "failed:", "success"]
    assert lines[-2] == "1 of 3 runs failed"
    summaries = json.loads(lines[-1])  # one per run, in the order given
    assert [s["run_dir"] for s in summaries] == [str(run_dir(out, s)) for s in (0, 2, 1)]
    assert summaries[1]["seed"] == 2 and "error" in summaries[1] and "success_rate" not in summaries[1]


def test_two_jobs_in_one_run_directory_are_refused_before_ray_starts(tmp_path):
    job = TrainJob(tiny_recipe("move_to", **FIELDS), tmp_path / "same")
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(sys.modules, "ray", None)  # starting Ray would fail with another error
        with pytest.raises(ValueError, match="share a run directory"):
            run_jobs([job, TrainJob(tiny_recipe("move_to", seed=1, **FIELDS), tmp_path / "x" / ".." / "same")])
    with pytest.raises(ValueError, match="at least 1"), ray_session(workers=0):
        pass


@pytest.mark.parametrize("argv, message", [
    (["fly"], "learnable"),
    (["move_to", "--seeds", "0", "1", "--workers", "0"], "--workers must be positive"),
    (["move_to", "--seeds", "0", "1", "--workers", "2", "--address", "auto"], "--workers is for this machine"),
    (["move_to", "--seeds", "0", "1", "0"], "seed 0 given twice"),
    (["move_to", "pick", "move_to"], "skill move_to given twice"),
])
def test_bad_input_is_one_line_before_anything_runs(tmp_path, argv, message):
    with tiny_command_without_ray():
        code, _, stderr = command("train", *argv, "--out", str(tmp_path / "runs"))
    assert code == 2 and stderr.startswith("error: ") and message in stderr and len(stderr.splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_without_ray_several_runs_say_which_extra_to_install(tmp_path):
    with tiny_command_without_ray():
        code, stdout, stderr = command("train", "move_to", "--seeds", "0", "1", *FLAGS, "--out", str(tmp_path))
    assert code == 1 and "pip install -e '.[ray]'" in stderr and "success rate" not in stdout
    assert not any(tmp_path.iterdir())


def test_an_unreachable_cluster_is_one_line(tmp_path, monkeypatch):
    import skill_lib.learning.distributed as distributed

    def unreachable(*args, **kwargs):
        raise ConnectionError("Could not find any running Ray instance.")
    monkeypatch.setattr(distributed, "run_jobs", unreachable)
    code, _, stderr = command("train", "move_to", "--address", "auto", "--out", str(tmp_path))
    assert code == 1 and stderr == "error: cannot reach Ray at auto: Could not find any running Ray instance.\n"


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_address_where_nothing_answers_fails_in_seconds(tmp_path, scheme):
    """Ray retries an unreachable cluster address for minutes (killed after 5 min here); the check in front of it
    says so in one line within its timeout, without starting anything."""
    import socket
    import time

    with socket.socket() as listening:  # a loopback port that was just free: nothing listens there
        listening.bind(("127.0.0.1", 0))
        port = listening.getsockname()[1]
    address = f"{scheme}127.0.0.1:{port}"
    start = time.monotonic()
    code, _, stderr = command("train", "move_to", "--address", address, "--out", str(tmp_path))
    assert time.monotonic() - start < 30
    assert code == 1 and stderr.startswith(f"error: cannot reach Ray at {address}: nothing answered at 127.0.0.1:")
    assert stderr.count("\n") == 1 and not any(tmp_path.iterdir())


def test_a_listening_address_passes_the_reachability_check():
    import socket

    from skill_lib.learning.distributed import check_reachable

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        check_reachable(f"127.0.0.1:{listening.getsockname()[1]}", timeout=2.0)
    check_reachable("auto")  # no port: left to Ray
