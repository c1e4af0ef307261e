"""Proposals by a language model (optional): the model is shown the analysis and the deterministic candidates and
answers which to train, in which order and why. It can only choose among the candidates (their ids are an enum
in the answer's JSON schema): what to train and the evidence always come from the logs, never from the model.

The transport (an OpenAI-compatible endpoint) is the caller's: this layer builds the messages and the schema and
checks the answer (ProposalError, one line, for anything but a valid choice).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from skill_lib.learning.experimenter.analyse import Analysis
from skill_lib.learning.experimenter.propose import Proposal

MAX_REASON = 300
SCHEMA_NAME = "training_curriculum"


class ProposalError(ValueError):
    """A model's answer that is not a valid curriculum (one line)."""


def schema(candidates: Sequence[Proposal]) -> dict[str, Any]:
    """The JSON schema the model's answer must follow."""
    return {
        "type": "object", "additionalProperties": False, "required": ["proposals"],
        "properties": {"proposals": {
            "type": "array", "minItems": 1, "maxItems": len(candidates),
            "items": {"type": "object", "additionalProperties": False, "required": ["id", "why"],
                      "properties": {"id": {"type": "string", "enum": [c.id for c in candidates]},
                                     "why": {"type": "string", "minLength": 1, "maxLength": MAX_REASON}}}}}}


def messages(analysis: Analysis, candidates: Sequence[Proposal]) -> list[dict[str, str]]:
    per_skill = {skill: {kind.value: n for kind, n in tally.kinds.items()} for skill, tally in analysis.by_skill.items()}
    return [
        {"role": "system", "content": (
            "You run reinforcement-learning experiments for a robot's skill library. From the analysis of its "
            "episode logs and the candidate training tasks, choose the tasks worth training and order them by "
            "expected gain, most first. Answer only with JSON that follows the schema: each item names a candidate "
            "id and says why in one sentence. Do not invent tasks.")},
        {"role": "user", "content": json.dumps({
            "runs": analysis.runs, "attempts_per_skill": per_skill,
            "candidates": [{"id": c.id, "skill": c.skill, "what": c.what, "evidence": list(c.evidence),
                            "deterministic_gain": round(c.gain, 4)} for c in candidates]})},
    ]


def from_reply(answer: Any, candidates: Sequence[Proposal]) -> list[Proposal]:
    """The curriculum the model chose, in its order, each candidate with the model's reason added to its evidence.
    `answer` is the parsed JSON (already checked against `schema` by the caller, checked again here)."""
    by_id = {c.id: c for c in candidates}
    items = answer.get("proposals") if isinstance(answer, dict) else None
    if set(answer if isinstance(answer, dict) else ()) != {"proposals"} or not isinstance(items, list) or not items:
        raise ProposalError("the model's answer must be an object with a non-empty 'proposals' list only")
    chosen: list[Proposal] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"id", "why"}:
            raise ProposalError(f"proposals[{i}] must have exactly 'id' and 'why'")
        ident, why = item["id"], item["why"]
        if ident not in by_id:
            raise ProposalError(f"proposals[{i}].id {str(ident)[:60]!r} is not one of the candidates")
        if any(c.id == ident for c in chosen):
            raise ProposalError(f"proposals[{i}].id {ident!r} is chosen twice")
        if not isinstance(why, str) or not why.strip() or len(why) > MAX_REASON or not why.isprintable():
            raise ProposalError(f"proposals[{i}].why must be one printable sentence of 1-{MAX_REASON} characters")
        candidate = by_id[ident]
        chosen.append(replace(candidate, evidence=(*candidate.evidence, f"model's reason: {' '.join(why.split())}")))
    return chosen
