"""Learning benchmarks: Markdown tables (with machine, date and settings) and a learning-curve plot.

  compare   the learner itself, from scratch (no demonstrations) on a skill environment: multi-critic vs
            single-critic at equal steps, and both with the effort term scaled x10 (a mis-scaled reward
            term); success at each evaluation, steps and minutes to 90 %.
  finetune  from the demonstration warm start: what RL fine-tuning does to the cloned policy, multi- vs
            single-critic, with the SAC actor update and with the advantage-weighted (AWAC) one.
  recipe    a skill's committed recipe (skill_lib/learning/recipes.py: warm start, then its RL phase), multi-
            vs single-critic at equal steps; then held-out success and each term's return (100 episodes,
            seed 7, as `skillstack eval`) of the warm start, the kept policy and the last one.
  panda     panda-gym side by side: the same learner trained flat, from scratch, on PandaReach / PandaPush /
            PandaPickAndPlace / PandaStack with a step budget, next to our hierarchical stack's success on
            the matching tasks and the published TQC+HER figures.

    python bench/learning.py [all]      # compare, finetune and panda, in order (recipe: on its own, ~40 min)
    python bench/learning.py compare [--skill move_to] [--steps 5000] [--seeds 0,1,2] [--jobs 2]
    python bench/learning.py finetune [--skill pick] [--steps 3000] [--seeds 0,1,2] [--demos 100] [--bc-steps 4000]
                                      [--awac-only]
    python bench/learning.py recipe [--skill place] [--seeds 0,1,2]   # the recipe's own steps and evaluations
    python bench/learning.py panda [--steps 10000] [--seeds 0] [--task-seeds 20]

Each run trains in its own process with one torch thread (--jobs at once); run directories go under
--out (default runs/bench_learning), the plot next to them.
"""
from __future__ import annotations

import argparse
import csv
import datetime
import multiprocessing
import os
import platform
from dataclasses import replace
from pathlib import Path

import numpy as np

from skill_lib.learning.mcsac import TrainConfig
from skill_lib.learning.recipes import recipe

HELD_OUT_SEED, HELD_OUT_EPISODES = 7, 100  # `skillstack eval SKILL --episodes 100 --seed 7`, as in the docs
#: published TQC + HER success (panda-gym v3, rl-baselines3-zoo), for the side by side
PUBLISHED_TQC_HER = {"PandaReach-v3": "100 % at 20k steps", "PandaPush-v3": "~99 % at 1M steps",
                     "PandaPickAndPlace-v3": "~99 % at 1M steps", "PandaStack-v3": "~4 % at 1M steps"}
#: our stack's task for each panda-gym environment (through the scheduler, learned skills where committed)
OUR_TASKS = {"PandaReach-v3": "move to the green cube", "PandaPush-v3": "push the yellow cube 10 cm to the left",
             "PandaPickAndPlace-v3": "stack the blue cube on the green cube", "PandaStack-v3": "stack three cubes"}


def _train(args: tuple[str, TrainConfig, str]) -> dict:
    from skill_lib.learning.train import train
    label, config, out = args
    summary = train(config, Path(out) / f"{label.replace(' ', '_').replace(',', '')}-seed{config.seed}",
                    resume=False, quiet=True)
    with open(Path(summary["run_dir"]) / "curve.csv", newline="") as f:
        curve = [(int(r["step"]), float(r["success"])) for r in csv.DictReader(f)]
    return {"label": label, "seed": config.seed, "curve": curve, "minutes": summary["minutes"],
            "run_dir": summary["run_dir"]}


def _run_all(jobs: list[tuple[str, TrainConfig, str]], parallel: int) -> list[dict]:
    with multiprocessing.get_context("spawn").Pool(parallel) as pool:
        results = []
        for result in pool.imap_unordered(_train, jobs):
            print(f"  done: {result['label']} seed {result['seed']}: {result['curve']} ({result['minutes']} min)",
                  flush=True)
            results.append(result)
    return results


def _steps_to(curve: list[tuple[int, float]], level: float = 0.9) -> int | None:
    return next((step for step, success in curve if success >= level), None)


def _table(results: list[dict], labels: list[str]) -> None:
    print("\n| variant | seeds | success at each evaluation (mean over seeds) | final (per seed) | "
          "steps to 90 % (per seed) | minutes per run |")
    print("|---|---|---|---|---|---|")
    for label in labels:
        runs = sorted((r for r in results if r["label"] == label), key=lambda r: r["seed"])
        steps = [s for s, _ in runs[0]["curve"]]
        mean = [np.mean([dict(r["curve"]).get(s, np.nan) for r in runs]) for s in steps]
        curve = ", ".join(f"{s}: {m:.2f}" for s, m in zip(steps, mean))
        final = " / ".join(f"{r['curve'][-1][1]:.2f}" for r in runs)
        to90 = " / ".join(str(s) if (s := _steps_to(r["curve"])) is not None else "never" for r in runs)
        minutes = np.mean([r["minutes"] for r in runs])
        print(f"| {label} | {len(runs)} | {curve} | {final} | {to90} | {minutes:.1f} |")


def _plot(results: list[dict], labels: list[str], path: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for i, label in enumerate(labels):
        for j, r in enumerate(r for r in results if r["label"] == label):
            steps, success = zip(*r["curve"])
            ax.plot(steps, success, color=f"C{i}", alpha=0.8, marker="o", ms=3, label=label if j == 0 else None)
    ax.set(xlabel="environment steps (RL; demonstrations not counted)", ylabel="evaluation success", ylim=(-0.02, 1.02),
           title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    print(f"\nplot: {path}")


def compare(args: argparse.Namespace, base: TrainConfig) -> None:
    scratch = replace(base, demo_episodes=0, bc_pretrain_steps=0, critic_warmup_updates=0)
    variants = {"multi-critic": scratch, "single-critic": replace(scratch, multi_critic=False),
                "multi-critic, effort x10": replace(scratch, term_scales=(1.0, 1.0, 10.0)),
                "single-critic, effort x10": replace(scratch, multi_critic=False, term_scales=(1.0, 1.0, 10.0))}
    jobs = [(label, replace(config, seed=seed), args.out) for label, config in variants.items() for seed in args.seeds]
    results = _run_all(jobs, args.jobs)
    _table(results, list(variants))
    _plot(results, list(variants), Path(args.out) / f"compare_{args.skill}.png", f"{args.skill}, from scratch")


def finetune(args: argparse.Namespace, base: TrainConfig) -> None:
    warm = replace(base, demo_episodes=args.demos, bc_pretrain_steps=args.bc_steps)
    awac = replace(warm, actor_update="awac", actor_lr=1e-4)
    variants = {"multi-critic": warm, "single-critic": replace(warm, multi_critic=False),
                "multi-critic, AWAC actor": awac, "single-critic, AWAC actor": replace(awac, multi_critic=False)}
    if args.awac_only:
        variants = {k: v for k, v in variants.items() if "AWAC" in k}
    jobs = [(label, replace(config, seed=seed), args.out) for label, config in variants.items() for seed in args.seeds]
    results = _run_all(jobs, args.jobs)
    _table(results, list(variants))
    _plot(results, list(variants), Path(args.out) / f"finetune_{args.skill}.png",
          f"{args.skill}: RL fine-tuning after the warm start (step 0)")


def recipe_runs(args: argparse.Namespace, base: TrainConfig) -> None:
    variants = {"multi-critic": base, "single-critic": replace(base, multi_critic=False)}
    jobs = [(label, replace(config, seed=seed), args.out) for label, config in variants.items() for seed in args.seeds]
    results = _run_all(jobs, args.jobs)
    _table(results, list(variants))
    print(f"\nheld out ({HELD_OUT_EPISODES} episodes, seed {HELD_OUT_SEED}): success; task, safety, effort return\n")
    print("| variant | seed | warm start | kept policy (best evaluation) | last policy |")
    print("|---|---|---|---|---|")
    for r in sorted(results, key=lambda r: (list(variants).index(r["label"]), r["seed"])):
        cells = [_held_out(args.skill, Path(r["run_dir"]) / name)
                 for name in ("warm_start_policy.pt", "policy.pt", "last_policy.pt")]
        print(f"| {r['label']} | {r['seed']} | {' | '.join(cells)} |", flush=True)
    _plot(results, list(variants), Path(args.out) / f"recipe_{args.skill}.png",
          f"{args.skill}: the recipe's RL phase after its warm start (step 0)")


def _held_out(skill: str, path: Path) -> str:
    from skill_lib.learning.mcsac import make_env
    from skill_lib.learning.train import eval_seeds, evaluation, load_config, load_policy, run_episode
    # in the environment the policy was trained in (push's distances, place's targets), as `skillstack eval` does
    agent, env = load_policy(path), make_env(skill, load_config(path).env_options)
    result = evaluation([run_episode(env, lambda obs: agent.act(obs, deterministic=True), seed)[:2]
                         for seed in eval_seeds(HELD_OUT_SEED, HELD_OUT_EPISODES)])
    env.close()
    returns = ", ".join(f"{value:.2f}" for value in result["returns"].values())
    return f"{round(result['success_rate'] * HELD_OUT_EPISODES)}/{HELD_OUT_EPISODES}; {returns}"


def _our_task_success(task: str, seeds: int) -> tuple[int, str]:
    from hardware.pybullet import PyBulletArm, PyBulletConfig
    from planners.scheduler import Scheduler
    scheduler = Scheduler()
    ok, policies = 0, set()
    for seed in range(seeds):
        with PyBulletArm(PyBulletConfig(seed=seed)) as arm:
            report = scheduler.execute(scheduler.plan(task, arm), arm, arm)
            ok += report.success
            policies |= {f"{o.skill}:{o.policy}" for o in report.outcomes}
    return ok, ", ".join(sorted(policies))


def panda(args: argparse.Namespace, base: TrainConfig) -> None:
    flat = replace(base, demo_episodes=0, bc_pretrain_steps=0, critic_warmup_updates=0)
    jobs = [(env_id, replace(flat, skill=f"panda:{env_id}", seed=seed), args.out)
            for env_id in PUBLISHED_TQC_HER for seed in args.seeds]
    results = _run_all(jobs, args.jobs)
    print(f"\nflat: our multi-critic SAC + HER from scratch, {args.steps} steps, seeds {args.seeds}; ours: the "
          f"scheduler with the committed skills, {args.task_seeds} scene seeds (success checked in the simulator)\n")
    print("| panda-gym env | flat policy, same learner (final per seed) | our stack: task | our stack: success "
          "| policies that ran | published TQC+HER |")
    print("|---|---|---|---|---|---|")
    for env_id, published in PUBLISHED_TQC_HER.items():
        runs = sorted((r for r in results if r["label"] == env_id), key=lambda r: r["seed"])
        flat_success = " / ".join(f"{r['curve'][-1][1]:.2f}" for r in runs)
        ok, policies = _our_task_success(OUR_TASKS[env_id], args.task_seeds)
        print(f"| {env_id} | {flat_success} | {OUR_TASKS[env_id]} | {ok}/{args.task_seeds} | {policies} | "
              f"{published} |", flush=True)
    _plot(results, list(PUBLISHED_TQC_HER), Path(args.out) / "panda_flat.png", "flat policies on panda-gym")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", choices=("compare", "finetune", "recipe", "panda", "all"), default="all",
                        help="which benchmark (default: all = compare, finetune, panda, ~45 minutes on 2 cores)")
    parser.add_argument("--skill", default=None,
                        help="compare: move_to (default); finetune: pick (default); recipe: place (default)")
    parser.add_argument("--steps", type=int, default=None, help="environment steps per run")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--eval-every", type=int, default=1_000, help="not for recipe: it uses the recipe's")
    parser.add_argument("--eval-episodes", type=int, default=30, help="not for recipe: it uses the recipe's")
    parser.add_argument("--task-seeds", type=int, default=20, help="panda: scene seeds for our stack's tasks")
    parser.add_argument("--demos", type=int, default=100, help="finetune: demonstrations for the warm start")
    parser.add_argument("--bc-steps", type=int, default=4_000, help="finetune: behaviour-cloning updates")
    parser.add_argument("--awac-only", action="store_true", help="finetune: leave out the SAC actor variants")
    parser.add_argument("--jobs", type=int, default=max(1, min(2, os.cpu_count() or 1)))
    parser.add_argument("--out", default=str(Path("runs") / "bench_learning"))
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s]
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for mode in (("compare", "finetune", "panda") if args.mode == "all" else (args.mode,)):
        run = argparse.Namespace(**{**vars(args), "seeds": seeds})
        run.skill = args.skill or {"compare": "move_to", "finetune": "pick", "recipe": "place",
                                   "panda": "move_to"}[mode]
        if mode == "recipe":  # the recipe's steps and evaluations, unless --steps says otherwise
            base = recipe(run.skill, total_steps=args.steps)
        else:
            base = TrainConfig(skill=run.skill, total_steps=args.steps or {"compare": 5_000, "finetune": 3_000,
                                                                           "panda": 10_000}[mode],
                               eval_every=args.eval_every, eval_episodes=args.eval_episodes)
        run.steps = base.total_steps
        print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}; "
              f"date {datetime.date.today()}; {mode}: skill {run.skill}, {run.steps} steps, seeds {seeds}, "
              f"evaluation {base.eval_episodes} episodes every {base.eval_every} steps, {args.jobs} runs at once")
        {"compare": compare, "finetune": finetune, "recipe": recipe_runs, "panda": panda}[mode](run, base)


if __name__ == "__main__":
    main()
