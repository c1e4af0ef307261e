"""The experimenter's report: what it read, what it found (per skill, object category, region and parameter
range), what it proposes, and, unless it was a dry run, what it trained, kept, rejected and could not train yet,
as markdown with plots (attempts per skill by kind; each trained proposal's learning curves). Everything a
proposal's rank and a candidate's fate rest on is in the report (the test statistics, the seeds, the counts), so
the order and each decision can be checked by hand."""
from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from pathlib import Path

from skill_lib.learning.envs.base import REWARD_TERMS
from skill_lib.learning.experimenter import judge
from skill_lib.learning.experimenter.analyse import Analysis, AttemptKind, Tally
from skill_lib.learning.experimenter.heldout import held_out_seeds
from skill_lib.learning.experimenter.judge import read_curve
from skill_lib.learning.experimenter.logs import LogSet
from skill_lib.learning.experimenter.loop import LoopConfig, Trial, TrialOutcome, slug
from skill_lib.learning.experimenter.propose import CORRECTION_WEIGHT, TARGET_SUCCESS, Proposal

KINDS = tuple(AttemptKind)
PLOT = "attempts.png"


def _row(label: str, tally: Tally) -> str:
    return f"| {label} | {tally.attempts} | " + " | ".join(str(tally.kinds[k]) for k in KINDS) + \
        f" | {tally.corrections} |"


def _table(title: str, rows: list[tuple[str, Tally]]) -> list[str]:
    head = f"| {title} | attempts | " + " | ".join(k.value for k in KINDS) + " | corrections |"
    return [head, "|" + "---|" * (len(KINDS) + 3), *(_row(label, tally) for label, tally in rows), ""]


def plot(analysis: Analysis, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    skills = list(analysis.by_skill)
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    bottom = [0] * len(skills)
    for kind in KINDS:
        counts = [analysis.by_skill[s].kinds[kind] for s in skills]
        ax.bar(skills, counts, bottom=bottom, label=kind.value)
        bottom = [b + c for b, c in zip(bottom, counts)]
    ax.set(ylabel="skill attempts", title=f"What ran, per skill ({analysis.runs} runs)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(out: Path, logs: LogSet, sources: Sequence[Path], analysis: Analysis,
                 proposals: Sequence[Proposal], proposer: str, trials: Sequence[Trial] | None = None,
                 loop: LoopConfig | None = None, taken_now: Mapping[str, int] | None = None) -> Path:
    """OUT/report.md, OUT/attempts.png and a curves-<proposal>.png per trained proposal; returns the report's path.
    trials None: a dry run (analyse and propose only). taken_now: skill -> logged declines its promoted policy
    would now take (recheck.taken_now), which were not proposed."""
    out.mkdir(parents=True, exist_ok=True)
    plot(analysis, out / PLOT)
    when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    done = ("Done: analyse and propose (a dry run: nothing was trained)." if trials is None else
            "Done: analyse, propose, train, judge and promote (sections below).")
    lines = [f"# Experimenter report ({when})", "",
             f"Read {logs.runs} runs ({len(analysis.items)} skill attempts, {logs.skipped_lines} unreadable lines "
             f"skipped) and {len(logs.evaluations)} evaluations from: " + ", ".join(f"`{s}`" for s in sources) + ".",
             "", done, "", f"![attempts per skill]({PLOT})", "", "## Proposals", "",
             f"Proposed by: {proposer}. Expected gain: the share of all logged skill attempts the task would turn into "
             f"learned, uncorrected successes (an attempt counts 1, an attempt that only needed corrections "
             f"{CORRECTION_WEIGHT}; an evaluation below {TARGET_SUCCESS} its shortfall times the skill's share). "
             "Ties in the order go by id.", ""]
    if taken_now:
        lines += [f"Not proposed: {sum(taken_now.values())} logged declines that the promoted policies would take now "
                  f"({', '.join(f'{skill} {n}' for skill, n in sorted(taken_now.items()))}; each asked again of its "
                  "skill's promoted policy, in the world as the log tells it).", ""]
    if not proposals:
        lines += ["None: no weak spot in these logs.", ""]
    for rank, proposal in enumerate(proposals, 1):
        task = proposal.task
        lines += [f"### {rank}. {proposal.what}", "", f"- id `{proposal.id}`, skill {proposal.skill}, expected gain "
                  f"{proposal.gain:.3f}",
                  f"- train on: objects {', '.join(task.objects) or '-'}; targets {', '.join(task.targets) or '-'}; "
                  f"parameters " + (", ".join(f"{k} {lo:g}..{hi:g} m" for k, (lo, hi) in task.parameter_ranges.items())
                                    or "-") + f"; regions {', '.join(task.regions) or '-'}",
                  *(f"- {line}" for line in proposal.evidence), ""]
    if trials is not None:
        lines += _trial_sections(out, trials, loop or LoopConfig())
    lines += ["## What ran", "", *_table("skill", list(analysis.by_skill.items()))]
    for name, table in analysis.tables.items():
        lines += [f"### Per skill and {name}", "",
                  *_table(f"skill, {name}", [(f"{skill}, {key}", t) for (skill, key), t in sorted(table.items())])]
    if logs.evaluations:
        lines += ["## Evaluations", "", "| skill | episodes | success | policy | file |", "|---|---|---|---|---|",
                  *(f"| {e.skill} | {e.episodes} | {e.success_rate:.2f} | {e.policy} | {e.source} |"
                    for e in logs.evaluations), ""]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


# -- what was trained, kept, rejected ---------------------------------------------------------------
def plot_curves(trial: Trial, path: Path) -> None:
    """The learning curve of each of a trial's runs (evaluation success against environment steps)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.2))
    for run in trial.runs:
        if run.summary is not None:
            steps, successes = zip(*read_curve(run.job.run_dir / "curve.csv"))
            ax.plot(steps, successes, marker="o", label=f"seed {run.job.config.seed}")
    ax.set(xlabel="environment steps", ylabel="training evaluation success", ylim=(-0.02, 1.02),
           title=trial.proposal.id)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _protocol(loop: LoopConfig, runs: int) -> list[str]:
    seeds = held_out_seeds(loop.eval_seed, loop.eval_episodes)
    where = (f"on the Ray cluster at {loop.address}" if loop.address else
             f"on Ray on this machine, {loop.workers} at once" if loop.workers else
             "in this process (a single run)" if runs == 1 else "on Ray on this machine, on all its cores")
    overrides = ", ".join(f"{k} = {v}" for k, v in sorted(loop.overrides.items())) or "none"
    return [
        "## How the experimenter decided", "",
        f"- Budget: at most {loop.max_proposals} proposal(s) trained, in the order above; one run per seed "
        f"({', '.join(map(str, loop.seeds))}) of the skill's recipe (skill_lib/learning/recipes.py) in its own "
        f"environment, trained anew (not fine-tuned from the promoted weights); recipe overrides: {overrides}; "
        f"trained {where}.",
        "- A proposal whose task needs an environment option that does not exist is reported as not trainable "
        "yet (skill_lib/learning/experimenter/trainable.py), never trained on something else; a wider push range "
        "trains with the `distances` option (the current policy's range merged with the proposal's, within the "
        "skill's bounds); proposals that need the same training as an earlier one share its trial.",
        f"- Learning curves: exact Mann-Kendall permutation test over the last {judge.WINDOW} training "
        f"evaluations (S = sum over pairs i < j of sign(x_j - x_i); p_up, p_down = the share of all orderings of "
        f"those values with S at least, at most the observed), one-sided at alpha {judge.ALPHA}: still improving "
        f"if p_up < alpha, declining if p_down < alpha, else converged if their mean is at least {judge.TARGET}, "
        f"stalled below; too short under {judge.MIN_POINTS} evaluations. Reported, not acted on.",
        "- The candidate: the run with the best training evaluation (its kept policy.pt; ties: the first seed). "
        "Training evaluations use each run's own seeds, never the held-out ones.",
        f"- Held out: the candidate and the current policy (the promoted version, or the scripted reference "
        f"controller when none is promoted) run the same {loop.eval_episodes} episodes of the skill's environment, "
        f"seeds {seeds[0]}-{seeds[-1]} (`skillstack eval SKILL --episodes {loop.eval_episodes} --seed "
        f"{loop.eval_seed}`), checked against every seed either was trained or chosen on. A candidate trained "
        f"with environment options (a wider push range) is compared in that environment; an episode the current "
        f"policy would decline there (a push outside its checkpoint's range) counts as its failure.",
        f"- Decision (skill_lib/learning/experimenter/judge.py): success by an exact one-sided McNemar test "
        f"(b = episodes only the candidate succeeded in, c = only the current one, p = P(Binomial(b + c, 1/2) >= "
        f"b)); effort by an exact one-sided sign test on each episode's effort return (w higher, l lower, ties "
        f"dropped); safety by the summed safety return, which must not be lower (no test: no benefit of the "
        f"doubt). Kept iff safety is not lower and (p_success < {judge.ALPHA}, or b >= c and p_effort < "
        f"{judge.ALPHA}).",
        "- A kept candidate is registered (parent: the version it was compared with; recipe: its TrainConfig; "
        "data: the proposal; metrics: its held-out figures) and promoted. A rejected one is not registered; its "
        "run directory keeps it.", ""]


def _held_out_table(trial: Trial) -> list[str]:
    assert trial.comparison is not None
    comparison = trial.comparison
    rows = [("candidate (seed " + str(trial.candidate.job.config.seed) + ")" if trial.candidate else "candidate",
             comparison.candidate), (f"current: {trial.current}", comparison.current)]
    return ["| policy | successes | " + " | ".join(f"mean {t} return" for t in REWARD_TERMS) + " | file |",
            "|---|---|" + "---|" * len(REWARD_TERMS) + "---|",
            *(f"| {name} | {sum(h.successes)}/{h.episodes} | " +
              " | ".join(f"{h.mean_returns()[t]:.3f}" for t in REWARD_TERMS) + f" | `{h.policy}` |"
              for name, h in rows), "",
            f"- success: b = {comparison.b}, c = {comparison.c}, p_success = {comparison.p_more_success:.4g}",
            f"- effort: w = {comparison.effort_wins}, l = {comparison.effort_losses}, p_effort = "
            f"{comparison.p_less_effort:.4g}",
            f"- safety, summed: candidate {comparison.safety[0]:g}, current {comparison.safety[1]:g}",
            *(f"- declined, counted as failures (task return -episode limit, no safety cost or effort): {name} "
              f"{sum(h.declined)}/{h.episodes} (pushes outside the range its checkpoint was trained on)"
              for name, h in rows if any(h.declined)),
            f"- decision: **{'kept' if comparison.decision.kept else 'rejected'}: {comparison.decision.value}**", ""]


def _tried(out: Path, trial: Trial) -> list[str]:
    plot_name = f"curves-{slug(trial.proposal.id)}.png"
    if any(run.summary is not None for run in trial.runs):
        plot_curves(trial, out / plot_name)
    lines = [f"### {trial.proposal.what}", "", f"Proposal `{trial.proposal.id}`: **{trial.outcome.value}**: "
             f"{trial.why}.", "",
             "| seed | run directory | RL steps | training success (last, best) | learning curve |",
             "|---|---|---|---|---|"]
    for run in trial.runs:
        if run.summary is None:
            lines.append(f"| {run.job.config.seed} | `{run.job.run_dir}` | - | failed: {run.error} | - |")
            continue
        curve = [success for _, success in read_curve(run.job.run_dir / "curve.csv")]
        verdict = run.curve.describe() if run.curve else "-"
        lines.append(f"| {run.job.config.seed} | `{run.job.run_dir}` | {run.summary['steps']} | "
                     f"{run.summary['success_rate']:.2f}, {run.summary['best_success_rate']:.2f} | {verdict}; "
                     f"evaluations: {', '.join(f'{x:g}' for x in curve)} |")
    lines.append("")
    if (out / plot_name).is_file():
        lines += [f"![learning curves]({plot_name})", ""]
    if trial.candidate is not None:
        lines += [f"Candidate: seed {trial.candidate.job.config.seed} (best training evaluation). Held out:", ""]
    if trial.comparison is not None:
        lines += _held_out_table(trial)
    if trial.version is not None:
        v = trial.version
        lines += [f"Registered as {v.skill} v{v.version} (parent "
                  f"{'v' + str(v.parent) if v.parent else 'none'}, {v.path}, SHA-256 {v.sha256}) and promoted.", ""]
    return lines


def _trial_sections(out: Path, trials: Sequence[Trial], loop: LoopConfig) -> list[str]:
    by = {outcome: [t for t in trials if t.outcome is outcome] for outcome in TrialOutcome}
    lines = _protocol(loop, sum(len(t.runs) for t in trials)) + ["## Tried", ""]
    tried = [t for t in trials if t.trained]
    lines += [] if tried else ["Nothing: no proposal can be trained today (see Not trainable yet).", ""]
    for trial in tried:
        lines += _tried(out, trial)
    for title, outcomes in (("Kept", (TrialOutcome.KEPT,)),
                            ("Rejected", (TrialOutcome.REJECTED, TrialOutcome.TRAINING_FAILED)),
                            ("Not trainable yet", (TrialOutcome.NOT_TRAINABLE,)),
                            ("Not tried", (TrialOutcome.SAME_TRAINING, TrialOutcome.NOT_TRIED))):
        chosen = [t for outcome in outcomes for t in by[outcome]]
        lines += [f"## {title}", ""]
        lines += [f"- `{t.proposal.id}` ({t.proposal.what}): {t.outcome.value}: {t.why}" for t in chosen] or ["None."]
        lines.append("")
    return lines
