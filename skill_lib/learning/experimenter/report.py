"""The experimenter's report: what it read, what it found (per skill, object category, region and parameter
range) and what it proposes, as markdown with one plot (attempts per skill by kind, PNG). Everything a
proposal's rank rests on is in the report, so the order can be checked by hand."""
from __future__ import annotations

import datetime
from collections.abc import Sequence
from pathlib import Path

from skill_lib.learning.experimenter.analyse import Analysis, AttemptKind, Tally
from skill_lib.learning.experimenter.logs import LogSet
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
                 proposals: Sequence[Proposal], proposer: str) -> Path:
    """OUT/report.md and OUT/attempts.png; returns the report's path."""
    out.mkdir(parents=True, exist_ok=True)
    plot(analysis, out / PLOT)
    when = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    lines = [f"# Experimenter report ({when})", "",
             f"Read {logs.runs} runs ({len(analysis.items)} skill attempts, {logs.skipped_lines} unreadable lines "
             f"skipped) and {len(logs.evaluations)} evaluations from: " + ", ".join(f"`{s}`" for s in sources) + ".",
             "", "Done: analyse and propose. Not done: training, judging convergence and promotion (not built yet).",
             "", f"![attempts per skill]({PLOT})", "", "## Proposals", "",
             f"Proposed by: {proposer}. Expected gain: the share of all logged skill attempts the task would turn into "
             f"learned, uncorrected successes (an attempt counts 1, an attempt that only needed corrections "
             f"{CORRECTION_WEIGHT}; an evaluation below {TARGET_SUCCESS} its shortfall times the skill's share). "
             "Ties in the order go by id.", ""]
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
