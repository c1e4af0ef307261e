"""`skillstack experiment --dry-run`: analyse episode logs and evaluations, propose a training curriculum, write a
report. Training from the proposals (and judging, promoting) is not built yet: without --dry-run it says so and
fails."""
from __future__ import annotations

import argparse
import datetime
import json
import os
from pathlib import Path
from typing import Any

from skill_stack_apps.commands import EXIT_FAILED, EXIT_OK, error

NOT_YET = ("training from the experimenter is not available yet (issue #18): nothing was trained; run "
           "`skillstack experiment --dry-run` to analyse the logs and propose a curriculum")


def register(sub: argparse._SubParsersAction) -> None:
    ex = sub.add_parser("experiment", help="analyse what the robot did and propose training (--dry-run)",
                        description=__doc__)
    ex.add_argument("--dry-run", action="store_true", help="only analyse and propose (the only mode built so far)")
    ex.add_argument("--json", action="store_true", help="end with one JSON line: proposals, report, ...")
    ex.add_argument("--logs", type=Path, nargs="+", default=[Path("runs")],
                    help="run directories, directories of runs, episode.jsonl files, `skillstack eval --json` "
                         "outputs (default: ./runs)")
    ex.add_argument("--out", type=Path, help="where the report goes (default: runs/experiments/<date-time>)")
    ex.add_argument("--llm", metavar="URL", help="an OpenAI-compatible API root (e.g. http://127.0.0.1:8080/v1) "
                    "that chooses and orders the proposals; model, key and timeout from SKILL_STACK_LLM_MODEL, "
                    "_API_KEY, _TIMEOUT (default: the deterministic proposer)")
    ex.set_defaults(handler=cmd_experiment)


def _fail(message: str, as_json: bool) -> int:
    error(message, EXIT_FAILED)
    if as_json:
        print(json.dumps({"error": " ".join(message.split()), "proposals": [], "report": None}))
    return EXIT_FAILED


def cmd_experiment(args: argparse.Namespace) -> int:
    from skill_lib.learning.experimenter.analyse import analyse
    from skill_lib.learning.experimenter.logs import LogError, read_logs
    from skill_lib.learning.experimenter.propose import propose
    from skill_lib.learning.experimenter.report import PLOT, write_report
    from skill_lib.learning.registry import PolicyRegistry

    if not args.dry_run:
        return _fail(NOT_YET, args.json)
    try:
        logs = read_logs(args.logs)
    except LogError as err:
        return _fail(str(err), args.json)
    analysis = analyse(logs.attempts, logs.runs)
    proposals = propose(analysis, logs.evaluations, learned=PolicyRegistry().skills())
    proposer = "the deterministic proposer (skill_lib/learning/experimenter/propose.py)"
    if args.llm is not None and proposals:
        try:
            proposals, proposer = _ask_model(args.llm, analysis, proposals)
        except ValueError as err:
            return _fail(str(err), args.json)
    out = args.out or Path("runs") / "experiments" / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    report = write_report(out, logs, args.logs, analysis, proposals, proposer)
    print(f"read {logs.runs} runs ({len(analysis.items)} skill attempts) and {len(logs.evaluations)} evaluations; "
          f"{len(proposals)} proposals ({proposer}):")
    for rank, proposal in enumerate(proposals, 1):
        print(f"  {rank}. [{proposal.gain:.3f}] {proposal.what}\n       {proposal.evidence[0]}")
    print(f"report: {report}")
    print("training: not available yet (dry run: nothing trained)")
    if args.json:
        print(json.dumps({"proposals": [p.to_dict() for p in proposals], "report": str(report),
                          "plot": str(out / PLOT), "runs": logs.runs, "attempts": len(analysis.items),
                          "evaluations": len(logs.evaluations), "proposer": proposer, "trained": False}))
    return EXIT_OK


def _ask_model(url: str, analysis: Any, candidates: list) -> tuple[list, str]:
    """The model's curriculum, checked like the LLM planner's plans; ValueError (one line) for anything else."""
    from planners.llm.client import chat, strict_json
    from planners.llm.config import ENV_URL, LlmConfig
    from planners.llm.validate import validate
    from planners.plan import TaskError
    from skill_lib.learning.experimenter import llm

    config = LlmConfig.from_env({**os.environ, ENV_URL: url})
    assert config is not None
    schema = llm.schema(candidates)
    try:
        content = chat(config, llm.messages(analysis, candidates), schema, llm.SCHEMA_NAME)
    except TaskError as err:
        raise ValueError(str(err).replace("nothing was run", "nothing was proposed")) from None
    try:
        answer = strict_json(content)
    except (ValueError, RecursionError) as err:
        raise ValueError(f"the model's curriculum was refused (its answer is not JSON: {err}); nothing was "
                         f"proposed") from None
    try:
        validate(answer, schema)
        chosen = llm.from_reply(answer, candidates)
    except ValueError as err:
        raise ValueError(f"the model's curriculum was refused ({err}); nothing was proposed") from None
    return chosen, f"the model {config.model} at {config.endpoint}, choosing among the deterministic candidates"
