"""Deterministic distillation: operator correction text -> structured CorrectionRecords, or a one-line
CorrectionError. Nothing here stores anything.

Grammar (case-insensitive; "please", "no", "actually", "next time" and the like are ignored):
- plan, ordering:    "<action> first", "first <action>", "<action> before <action or object>"
- plan, destination: "that/it/the X goes|belongs|should go in|on the <container>", "put that in the <container>"
- skill, speed:      "slower", "more slowly", "slow down", "faster", "speed up" -> speed delta -/+0.3
                     ("a bit" 0.15, "much" 0.5); "half speed" -> value 0.5, "normal speed" -> value 1.0
- skill, height:     "[grasp] [it] [D] lower|higher" -> pick.grasp_offset -/+D; "hover [D] higher" ->
                     move_to.height +D
- skill, placement:  "[D] [more] to the left|right|forward|backward" -> place.offset_y/offset_x +/-D
- skill, push/pull:  "push it [D] further|more|less" -> push.distance +/-D; "push it D" -> value D
                     (the same for pull: "pull it 8 cm further" -> pull.distance +0.08)
- skill, grasp side: "grasp it from the side|top" -> pick.grasp_side (recorded; no skill uses it yet)
- skill, grasp point: "grasp it by the handle" -> pick.grasp_point = "handle" (a named grasp of the object)
- task, definition:  "<phrase> means <task>" ("tidying up means putting every cube in the tray"): a taught task
                     (planners/corrections/definitions.py)
D is a distance with a unit, in digits or words ("1 cm", "five centimeters"); none or "a bit" is 1 cm,
"a lot"/"much" 3 cm. Several corrections may be joined by "and"/","; contradictory ones are refused.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from planners.corrections.context import CorrectionContext, CorrectionError, containers, fill_from_task, \
    object_context, phrase_context
from planners.corrections.definitions import definition_record, match_definition
from planners.corrections.memory.record import CorrectionRecord, ObjectContext
from planners.corrections.rules import DESTINATION, destination_record, match_ordering, ordering_record
from planners.language import DIRECTION_PATTERNS, LEADING_FILLERS, SKILL_SPECS, TRAILING_FILLERS, Fillers, \
    PhraseError, TextRules, directions_in, known_skills, normalize, require_text, take_distance
from skill_lib.skills.common import DIRECTIONS

MAX_CHARS = 10_000
A_BIT_M, A_LOT_M, MAX_DELTA_M = 0.01, 0.03, 0.25
SPEED_STEP, SPEED_A_BIT, SPEED_A_LOT = 0.3, 0.15, 0.5
HELP = ("I understand e.g.: 'grasp it 1 cm lower', '2 cm to the left', 'push it further', 'slower', "
        "'that goes in the tray', 'pick up the blue cube before the red cube'")
#: what distill refuses before parsing
CORRECTION_TEXT = TextRules(
    max_chars=MAX_CHARS, not_text="a correction must be text, not {type}",
    too_long="the correction is too long ({length} characters, at most {max_chars})",
    non_text="the correction contains control or binary characters; give it as plain text",
    empty=f"the correction is empty; {HELP}", not_english=f"I only understand English corrections; {HELP}")

VERB_SKILLS = {**dict.fromkeys(("grasp", "grab", "grip", "pick", "hold", "take"), "pick"),
               **dict.fromkeys(("place", "put", "drop", "set", "release", "lay"), "place"),
               **dict.fromkeys(("push", "shove", "nudge", "slide"), "push"),
               **dict.fromkeys(("pull", "draw", "tug", "yank", "open"), "pull"),
               "hover": "move_to"}
#: skills whose `distance` a "further" / "less" / "D" correction changes
DISTANCE_SKILLS = ("push", "pull")
known_skills((*VERB_SKILLS.values(), *DISTANCE_SKILLS), "distill's VERB_SKILLS and DISTANCE_SKILLS")
#: order matters (see Fillers): "try to" before "try"
_FILLERS = Fillers(
    leading=LEADING_FILLERS + ("no", "nope", "oops", "stop", "wrong", "actually", "next time", "this time", "again",
                               "you need to", "try to", "try", "i said", "that's wrong", "not like that", "always"),
    trailing=TRAILING_FILLERS + ("next time", "this time", "instead", "please", "again"))
_SPEED = [(re.compile(r"\b(?:slower|more slowly|slow down|less fast|too fast|slowly)\b"), -1.0),
          (re.compile(r"\b(?:faster|quicker|more quickly|speed up|too slow|quickly)\b"), +1.0)]
_SPEED_VALUE = {re.compile(r"\b(?:at )?half speed\b"): 0.5, re.compile(r"\b(?:at )?(?:normal|full) speed\b"): 1.0}
_VERTICAL = [(re.compile(r"\b(?:lower|deeper|down)\b"), -1.0), (re.compile(r"\b(?:higher|up)\b"), +1.0)]
_PUSH_MORE = [(re.compile(r"\b(?:less far|not as far|not so far|shorter|less)\b"), -1.0),
              (re.compile(r"\b(?:further|farther|more|longer)\b"), +1.0)]
_SIDE = re.compile(r"\bfrom (?:the )?(?P<side>side|top|above)\b")
#: a named grasp point of the object (the scene defines them, e.g. a mug's handle)
_GRASP_POINT = re.compile(r"\bby (?:the|its) (?P<part>handle)\b")
_A_LOT = re.compile(r"\b(?:a lot|much|way|lots)\b")
_A_BIT = re.compile(r"\b(?:a little bit|a little|a bit|a tiny bit|slightly|a tad|a touch|bit)\b")
#: words that carry no meaning once the pieces above are taken out
_NOISE = frozenset("it that this them the a an to of more even just so too bit move go do be is was you your "
                   "should side by about around further farther again please its little very than out".split())
#: a placement's direction -> the place offset it changes and its sign, from the direction's unit vector
#: (offset_x is forward, offset_y to the robot's left, as the vectors' x and y)
_AXES = {name: ("offset_x", x) if x else ("offset_y", y) for name, (x, y) in DIRECTIONS.items()}


def check_text(text: object) -> str:
    """Refuse input that is not a correction in English words, before any parsing (fast on 1 MB)."""
    return require_text(text, CORRECTION_TEXT, CorrectionError).strip()


@dataclass
class _Clause:
    """What one clause says, before it is turned into records."""
    text: str
    skill: str | None = None
    pieces: list[tuple[str, object]] = field(default_factory=list)  # (what, sign or value)
    distance: float | None = None
    amount_note: str | None = None


def _take(pattern: re.Pattern[str], text: str) -> tuple[bool, str]:
    found = pattern.search(text)
    return (True, pattern.sub(" ", text)) if found else (False, text)


def _take_each(clause: _Clause, rest: str, kind: str, patterns: Iterable[tuple[re.Pattern[str], object]]) -> str:
    """Each pattern found in `rest` becomes a (kind, value) piece and is taken out."""
    for pattern, value in patterns:
        hit, rest = _take(pattern, rest)
        if hit:
            clause.pieces.append((kind, value))
    return rest


def _take_verbs(clause: _Clause, rest: str) -> str:
    """The skill the clause's verbs name (one at most); the verbs are taken out."""
    verbs = [VERB_SKILLS[w] for w in rest.split() if w in VERB_SKILLS]
    if len(set(verbs)) > 1:
        raise CorrectionError(f"'{clause.text}' names several skills ({', '.join(sorted(set(verbs)))}); "
                              f"one per correction")
    clause.skill = verbs[0] if verbs else None
    rest = re.sub(r"\bpick (\w+ )?up\b", r"pick \1", rest)  # the "up" of "pick it up" is no direction
    return " ".join(w for w in rest.split() if w not in VERB_SKILLS)


def _take_distance(clause: _Clause, rest: str) -> str:
    try:
        clause.distance, rest = take_distance(rest, example="2 cm to the left")
    except PhraseError as err:
        raise CorrectionError(str(err)) from None
    return rest


def _take_speed(clause: _Clause, rest: str) -> str:
    rest = _take_each(clause, rest, "speed_value", _SPEED_VALUE.items())
    return _take_each(clause, rest, "speed", _SPEED)


def _take_grasp(clause: _Clause, rest: str) -> str:
    """A grasp point ("by the handle") and a grasp side ("from the top")."""
    if part := _GRASP_POINT.search(rest):
        clause.pieces.append(("grasp_point", part["part"]))
        rest = _GRASP_POINT.sub(" ", rest)
    if side := _SIDE.search(rest):
        clause.pieces.append(("side", "top" if side["side"] == "above" else "side"))
        rest = _SIDE.sub(" ", rest)
    return rest


def _take_directions(clause: _Clause, rest: str) -> str:
    """Horizontal directions; two on one axis are refused later as contradictory."""
    for direction in directions_in(rest):
        if re.search(rf"{DIRECTION_PATTERNS[direction].pattern} of\b", rest):
            raise CorrectionError(f"'{clause.text}' places it relative to another object; a correction takes a "
                                  f"nudge ('2 cm to the left') or a container ('that goes in the tray'): give "
                                  f"the task again, e.g. 'put the red cube to the left of the blue cube'")
        rest = DIRECTION_PATTERNS[direction].sub(" ", rest)
        clause.pieces.append(("horizontal", direction))
    return rest


def _take_further(clause: _Clause, rest: str, skill: str | None) -> str:
    """For a push or pull: "further" / "less", or a distance alone ("push it 5 cm") as the new distance."""
    if skill not in DISTANCE_SKILLS:
        return rest
    rest = _take_each(clause, rest, "further", ((pattern, (skill, sign)) for pattern, sign in _PUSH_MORE))
    if clause.distance is not None and not any(kind == "further" for kind, _ in clause.pieces):
        clause.pieces.append(("distance_value", (skill, clause.distance)))
    return rest


def _take_amount(clause: _Clause, rest: str) -> str:
    """'a lot' or 'a bit', for a change without a distance."""
    a_lot, rest = _take(_A_LOT, rest)
    a_bit, rest = _take(_A_BIT, rest)
    clause.amount_note = "a lot" if a_lot else "a bit" if a_bit else None
    return rest


def _leftover_object(clause: _Clause, rest: str, context: CorrectionContext) -> tuple[ObjectContext | None, bool]:
    """The object the words left over name (None if none), and whether they say its colour or size. Words
    that name nothing are refused: a correction is not guessed from part of a sentence."""
    leftover = [w for w in rest.split() if w not in _NOISE]
    named = None
    if leftover:
        phrase = " ".join(leftover)
        try:
            named = phrase_context(phrase, context.objects)
        except CorrectionError as err:
            if clause.pieces:
                raise CorrectionError(f"I don't understand '{phrase}' in '{clause.text}' ({err}); {HELP}") from None
            raise CorrectionError(f"I could not find a correction in '{clause.text}'; {HELP}") from None
    if not clause.pieces:
        raise CorrectionError(f"I could not find a correction in '{clause.text}'; {HELP}")
    explicit = named is not None and any(w in leftover for w in (named.color, named.size) if w)
    return named, explicit


def _parse_clause(text: str, context: CorrectionContext) -> tuple[_Clause, ObjectContext | None, bool]:
    """(what the clause says, an object it names, whether it names colour/size). Each step takes its words
    out of the clause; the order matters ("pick it up" is a verb, not "up"; "2 cm" before "lower")."""
    clause = _Clause(text)
    rest = _take_verbs(clause, f" {text} ")
    rest = _take_distance(clause, rest)
    rest = _take_speed(clause, rest)
    rest = _take_grasp(clause, rest)
    rest = _take_directions(clause, rest)
    rest = _take_each(clause, rest, "vertical", _VERTICAL)
    rest = _take_further(clause, rest, clause.skill or context.skill)
    rest = _take_amount(clause, rest)
    _refuse_contradictions(text, clause.pieces)
    named, explicit = _leftover_object(clause, rest, context)
    return clause, named, explicit


_OPPOSITES = {"vertical": ("lower", "higher"), "speed": ("slower", "faster"), "further": ("less", "further"),
              "speed_value": ("one speed", "another")}


def _refuse_contradictions(text: str, pieces: list[tuple[str, object]]) -> None:
    """One clause saying both ways: 'lower and higher' in one breath, 'left or right', 'faster slower'."""
    for kind, (neg, pos) in _OPPOSITES.items():
        if len({v for k, v in pieces if k == kind}) > 1:
            raise CorrectionError(f"'{text}' is contradictory ({neg} and {pos}); say one")
    axes = [_AXES[str(v)][0] for k, v in pieces if k == "horizontal"]
    if len(axes) != len(set(axes)):
        said = " and ".join(str(v) for k, v in pieces if k == "horizontal")
        raise CorrectionError(f"'{text}' is contradictory ({said}); say one")


def _amount(clause: _Clause) -> tuple[float, str | None]:
    if clause.distance is not None:
        if not 0 < clause.distance <= MAX_DELTA_M:
            raise CorrectionError(f"a correction of {clause.distance * 100:g} cm is outside 0-{MAX_DELTA_M * 100:g} cm")
        return clause.distance, None
    if clause.amount_note == "a lot":
        return A_LOT_M, f"'a lot' read as {A_LOT_M * 100:g} cm"
    return A_BIT_M, f"no distance given: read as {A_BIT_M * 100:g} cm ('a bit')"


def _clause_params(clause: _Clause, context: CorrectionContext
                   ) -> list[tuple[str | None, str, str, float | str, str | None]]:
    """(skill, parameter, mode, value, note) for each thing the clause says."""
    skill = clause.skill or context.skill
    out = []
    for kind, value in clause.pieces:
        if kind == "speed":
            step = SPEED_A_LOT if clause.amount_note == "a lot" else SPEED_A_BIT if clause.amount_note == "a bit" \
                else SPEED_STEP
            if skill is not None and not any(p.name == "speed" for p in SKILL_SPECS[skill].params):
                raise CorrectionError(f"{skill} has no speed to change")
            out.append((skill, "speed", "delta", round(value * step, 6), None if skill else "applies to every skill"))
        elif kind == "speed_value":
            out.append((skill, "speed", "value", value, None))
        elif kind == "grasp_point":
            if skill not in (None, "pick"):
                raise CorrectionError(f"a grasp point applies to pick, not {skill}")
            out.append(("pick", "grasp_point", "value", value, None))
        elif kind == "side":
            if skill not in (None, "pick"):
                raise CorrectionError(f"a grasp side applies to pick, not {skill}")
            out.append(("pick", "grasp_side", "value", value, "recorded only: no skill uses a grasp side yet"))
        elif kind == "vertical":
            target = clause.skill or (context.skill if context.skill in ("pick", "move_to") else None)
            if clause.skill is None and context.skill in ("place", "push", "pull"):
                raise CorrectionError(f"{context.skill} has no height to adjust; say 'grasp it lower' for the grasp")
            target = target or "pick"
            if target not in ("pick", "move_to"):
                raise CorrectionError(f"{target} has no height to adjust; {HELP}")
            amount, note = _amount(clause)
            out.append((target, "grasp_offset" if target == "pick" else "height", "delta", round(value * amount, 6),
                        note))
        elif kind == "horizontal":
            if skill in DISTANCE_SKILLS:
                raise CorrectionError(f"a {skill}'s direction comes from the task; I can change how far: "
                                      f"'{skill} it 3 cm further'")
            if skill == "move_to":
                raise CorrectionError("move_to has no sideways offset; give the task again with another target")
            amount, note = _amount(clause)
            parameter, sign = _AXES[str(value)]
            out.append(("place", parameter, "delta", round(sign * amount, 6), note))
        elif kind == "further":
            amount, note = _amount(clause)
            distance_skill, sign = value
            out.append((distance_skill, "distance", "delta", round(sign * amount, 6), note))
        elif kind == "distance_value":
            distance_skill, distance = value
            out.append((distance_skill, "distance", "value", distance, None))
    for skill_name, parameter, mode, value, _ in out:
        skill_spec = SKILL_SPECS.get(skill_name) if skill_name is not None else None
        if mode != "value" or skill_spec is None or parameter not in {p.name for p in skill_spec.params}:
            continue
        param = skill_spec.param(parameter)
        if param.kind == "float":
            low, high = param.bounds
            if not low <= float(value) <= high:
                raise CorrectionError(f"{skill_name}.{parameter}={value:g} is outside [{low:g}, {high:g}]")
    return out


def _check_contradictions(records: list[CorrectionRecord]) -> None:
    by_param: dict[tuple, list[CorrectionRecord]] = {}
    for r in records:
        if r.kind == "skill":
            by_param.setdefault((r.skill, r.parameter), []).append(r)
    for (skill, parameter), group in by_param.items():
        deltas = {r.value > 0 for r in group if r.mode == "delta"}
        values = {r.value for r in group if r.mode == "value"}
        if len(deltas) > 1 or len(values) > 1:
            raise CorrectionError(f"the correction is contradictory: it changes {skill or 'every skill'}'s "
                                  f"{parameter} both ways; say one")


def _context_object(reference: str | None, context: CorrectionContext) -> ObjectContext | None:
    if reference is None:
        return None
    if context.objects and reference in context.objects:
        return object_context(context.objects[reference])
    return phrase_context(reference, context.objects)


def distill(text: str, context: CorrectionContext | None = None) -> list[CorrectionRecord]:
    """Correction text -> one or more records (unstored). Raises CorrectionError with a one-line reason."""
    raw = check_text(text)
    context = fill_from_task(context or CorrectionContext())
    norm = _FILLERS.remove(normalize(raw))
    if not norm:
        raise CorrectionError(f"I could not find a correction in '{raw}'; {HELP}")
    base_object = _context_object(context.object, context)
    target = _context_object(context.target, context)
    common = dict(text=raw, task=context.task, visual=context.visual, source=context.source,
                  task_id=context.task_id)
    if definition := match_definition(norm):
        return [definition_record(*definition, context, common)]
    if ordering := match_ordering(norm):
        return [ordering_record(*ordering, context, common)]
    if (m := DESTINATION.match(norm)) and not directions_in(m["container"]):  # "put it to the left": a nudge
        return [destination_record(m, context, base_object, common)]
    records = []
    clause_context = context
    for piece in re.split(r" ?(?:,|;|\band\b|\bthen\b|\bbut\b) ?", norm):
        if not piece.strip():
            continue
        clause, named, explicit = _parse_clause(piece.strip(), clause_context)
        if clause.skill is not None:  # "grasp it lower and slower": the verb carries to the next clause
            clause_context = replace(context, skill=clause.skill)
        obj = named or base_object
        scope = context.scope or ("object" if explicit else "category" if obj is not None else "any")
        for skill, parameter, mode, value, note in _clause_params(clause, clause_context):
            if parameter == "grasp_point" and (obj is None or scope == "any"):
                # a handle belongs to a kind of object: as 'any' it would reach cubes, which have none
                raise CorrectionError(f"'{piece.strip()}': say which object has the {value} (or correct it while "
                                      f"the robot handles one)")
            records.append(CorrectionRecord(kind="skill", skill=skill, parameter=parameter, mode=mode, value=value,
                                            scope=scope, object=obj, target=target if skill == "place" else None,
                                            applicable=parameter != "grasp_side",
                                            note=note, **common))
    if not records:
        raise CorrectionError(f"I could not find a correction in '{raw}'; {HELP}")
    _check_contradictions(records)
    return records


__all__ = ["CorrectionContext", "CorrectionError", "check_text", "containers", "distill"]
