"""The sentences the recogniser's language model is estimated from: how operators say corrections and teach
tasks, as templates over the scene's vocabulary (planners.voice.vocabulary) and the distiller's words.

Template syntax: `(a|b)` one of, `[a|b]` one of or nothing, `<slot>` a slot value; groups do not nest, a
group's alternatives may hold slots ("[a bit|<distance>]"); <distance> is a number and a unit. Every
sentence a template makes must be one `distill` reads (tests/planners/voice/test_language_model.py checks
them); the grammar's templates are included, with <number> <unit> as <distance>. Held-out phrasings for
measuring belong in bench/voice.py, never here.
"""
from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Iterator, Mapping, Sequence

from planners.corrections.distill import MAX_DELTA_M
from planners.language import NUMBER_WORDS, UNITS_M
from planners.voice.vocabulary import GrammarVocabulary

_GROUP = re.compile(r"\((?P<one>[^()\[\]]*)\)|\[(?P<opt>[^()\[\]]*)\]")
_SLOT = re.compile(r"<(\w+)>")
#: most sentences drawn from one template (its weight is shared among them); templates with fewer are enumerated
CAP = 240
#: fillers distill ignores (planners/corrections/distill.py): a share of the sentences get one in front or
#: behind, so the model expects them
LEAD_FILLERS = ("no", "nope", "oops", "actually", "please", "next time", "this time", "now", "try to", "you should",
                "you need to", "always", "no no", "that's wrong", "hey robot", "robot", "wrong", "stop", "and")
TRAIL_FILLERS = ("please", "next time", "this time", "instead", "again", "thanks", "thank you", "now")
FILLER_SHARE = 0.3
#: corrections joined by "and" (distill reads each part), drawn as random pairs of short sentences; their weight
COMPOUNDS, COMPOUND_WEIGHT = 400, 3.0

# the distiller's words for amounts and directions (its _A_BIT, _A_LOT and planners.language's direction phrases)
_SMALL = "a bit|a little|a little bit|a tiny bit|slightly|a tad|a touch|just a bit|just a little"
_AMOUNT = f"{_SMALL}|a lot|much|way|even"
_HOW_FAR = f"{_AMOUNT}|<distance>|about <distance>|by <distance>"
_SIDE = "to the <side>|to your <side>|to the robot's <side>|towards the <side>|<side>"
_AWAY = "forward|forwards|further away|farther away|away|away from you|ahead"
_NEAR = "back|backward|backwards|closer|nearer|towards me|closer to you|towards you|nearer to me"
#: corrections beyond the grammar's templates: other verbs, amounts, word orders distill reads. Some natural
#: ones are missing on purpose, as bench/voice.py holds them out (it checks that no template makes its
#: sentences): an amount after the direction ("to the left a little"), "by <distance>" after it, "that one",
#: "means to <verb>", "and" inside a single template (COMPOUNDS draws pairs instead).
CORRECTION_TEMPLATES: tuple[str, ...] = (
    # speed
    "[go|move|do it] (slower|faster|more slowly|more quickly|quicker|slowly|quickly)",
    f"[go|move|do it] ({_AMOUNT}) (slower|faster)", "(slow down|speed up) [a bit|a little|a lot]",
    "[that was|that is] [a bit|a little] (too fast|too slow)", "[go|move] at (half|normal|full) speed",
    "(grasp|grab|place|push|hover|move) [a bit|a little|much] (slower|faster) [than that]",
    # grasp height
    f"(grasp|grab|hold|take) it [{_HOW_FAR}] (lower|higher|deeper)",
    f"(grasp|grab|grip) [{_SMALL}] (lower|higher|deeper)", f"pick it up [{_HOW_FAR}] (lower|higher)",
    f"(grasp|grab|grip|pick up) the <object> [{_AMOUNT}] (lower|higher|deeper)",
    f"[{_HOW_FAR}] (lower|higher|deeper)", "(grasp|grab) it further (down|up)", "(lower|higher) [please|than that]",
    f"hover [{_HOW_FAR}] (lower|higher)", "hover (lower|higher) than that",
    # placement ("put it to the left" is not one: distill reads "put X to Y" as a destination)
    f"[{_HOW_FAR}] [more|further] ({_SIDE})", f"(move|set) (it|the <object>) [{_HOW_FAR}] [more|further] ({_SIDE})",
    f"(move|put|place|set) (it|the <object>) [{_HOW_FAR}] [more] ({_AWAY}|{_NEAR})",
    f"(put|place) it ({_HOW_FAR}) [more] ({_SIDE})", f"[{_HOW_FAR}] [more] ({_AWAY}|{_NEAR})",
    # push and its distance
    f"(push|nudge|shove|slide) it [{_HOW_FAR}] (further|farther|more|less|less far|not as far|not so far)",
    f"push the <object> [{_HOW_FAR}] (further|farther|more|less far)", "push it <distance>",
    "push it (further|farther|less far) than that",
    # grasp side
    "(grasp|grab|pick|hold|take) it from (the side|the top|above)",
    "(grasp|grab|pick up) the <object> from (the side|the top|above)",
    # destinations
    "(that|it|this|the <object>) (goes|belongs|should go|has to go|needs to go|must go) (in|into|on) the <container>",
    "(put|place|drop) (it|that|this|them|the <object>) (in|into) the <container>",
    "(they|these|those) (go|belong) (in|into) the <container>",
    # ordering
    "(pick up|grab|grasp|take) the <object> first", "first (pick up|grab) the <object>",
    "(pick up|grab|grasp) the <object> before the <object>", "push the <object> first",
    "(open|close) the gripper first",
)
#: clauses joined by "and" in the compounds: kinds that never contradict each other
COMPOUND_PARTS: dict[str, str] = {
    "speed": "[go] [a bit|a little|much] (slower|faster)",
    "height": f"[grasp it|grab it] [{_SMALL}|<distance>] (lower|higher)",
    "side": f"[{_SMALL}|<distance>] [more] to the <side>",
    "depth": f"[{_SMALL}|<distance>] (forward|back|closer|further away)",
}
#: phrases an operator may teach: the model can only hear words it has (a taught phrase is new words by
#: nature, so these are common names for table chores; teach others by typing them)
TAUGHT_PHRASES: tuple[str, ...] = (
    "tidying up", "tidy up", "cleaning up", "clean up", "clearing up", "clear up", "clear the table",
    "clearing the table", "clean the table", "tidy the table", "packing up", "pack up", "a tower", "build a tower",
    "building a tower", "the usual", "putting away", "the cleanup", "sorting", "sort the blocks", "the red tower",
)
#: definitions: "<phrase> means <task>" (the gerund form) and "when I say <phrase> I mean <task>"
_PUT_WHAT = "every cube|each cube|every block|all the cubes|all the blocks|everything|the <object>"
TEACHING_TEMPLATES: tuple[str, ...] = (
    f"<taught> means putting ({_PUT_WHAT}) in the <container>",
    "<taught> means stacking the (large|small) (cubes|blocks)", "<taught> means stacking the <object> on the <object>",
    "<taught> means picking up the <object>",
    f"when i say <taught> i mean put ({_PUT_WHAT}) in the <container>",
    "when i say <taught> i mean stack the (large|small) (cubes|blocks)",
    "when i say <taught> i mean stack the <object> on the <object>",
)


def _parts(template: str) -> list[list[str]]:
    """The template as a sequence of choices: a literal is a choice of one, a group its alternatives."""
    parts: list[list[str]] = []
    end = 0
    for group in _GROUP.finditer(template):
        parts.append([template[end:group.start()]])
        options = [a.strip() for a in (group["one"] if group["one"] is not None else group["opt"]).split("|")]
        parts.append(options if group["one"] is not None else ["", *options])
        end = group.end()
    return parts + [[template[end:]]]


def _unfold(template: str) -> list[str]:
    """The template with every group resolved: slot templates ('(a|b) <x>' -> ['a <x>', 'b <x>'])."""
    return list(dict.fromkeys(" ".join(" ".join(c).split()) for c in itertools.product(*_parts(template))))


class _Cycle:
    """Values in shuffled rounds: every value comes up before any comes up again."""

    def __init__(self, values: Sequence[str], rng: random.Random) -> None:
        self._values, self._rng = list(values), rng
        self._queue: list[str] = []

    def __next__(self) -> str:
        if not self._queue:
            self._queue = self._rng.sample(self._values, len(self._values))
        return self._queue.pop()


def _fill_all(template: str, slots: Mapping[str, Sequence[str]]) -> Iterator[str]:
    names = _SLOT.findall(template)
    for combo in itertools.product(*(slots[n] for n in names)):
        fill = iter(combo)
        yield " ".join(_SLOT.sub(lambda _: next(fill), template).split())


def _count(template: str, slots: Mapping[str, Sequence[str]]) -> int:
    return math.prod(len(slots[n]) for n in _SLOT.findall(template))


def expand(template: str, slots: Mapping[str, Sequence[str]], cap: int = CAP, seed: int = 0) -> list[str]:
    """Sentences of a template: all of them if there are at most `cap`, else a seeded draw of about `cap` in
    which every alternative of every group and every slot value comes up (each cycles in shuffled rounds)."""
    unfolded = _unfold(template)
    if sum(_count(t, slots) for t in unfolded) <= cap:
        return list(dict.fromkeys(s for t in unfolded for s in _fill_all(t, slots)))
    rng = random.Random(f"{seed}:{template}")
    parts = [_Cycle(p, rng) for p in _parts(template)]
    values = {name: _Cycle(v, rng) for name, v in slots.items()}
    longest = max([len(p) for p in _parts(template)] + [len(slots[n]) for n in set(_SLOT.findall(template))])
    out = []
    for _ in range(max(cap, longest)):
        text = " ".join(next(p) for p in parts)
        out.append(" ".join(_SLOT.sub(lambda m: next(values[m.group(1)]), text).split()))
    return list(dict.fromkeys(out))


def template_pattern(template: str, slots: Mapping[str, Sequence[str]]) -> re.Pattern[str]:
    """A regex matching exactly the sentences of a template (single spaces)."""
    def alt(options: Sequence[str]) -> str:
        return "(?:" + "|".join(re.escape(o) for o in sorted(options, key=len, reverse=True)) + ")"
    out = []
    for t in _unfold(template):
        out.append(" ".join(alt(slots[w[1:-1]]) if _SLOT.fullmatch(w) else re.escape(w)
                            for w in re.sub(r"(<\w+>)", r" \1 ", t).split()))
    return re.compile("|".join(f"(?:{o})" for o in out))


def distances(numbers: Sequence[str], units: Sequence[str]) -> tuple[str, ...]:
    """'<number> <unit>' as said, for the distances a correction may give (up to 25 cm): the grammar's
    product of numbers and units also has 'fourteen meters', which would teach the model that metres follow
    numbers as often as centimetres do."""
    singular = ("centimeter", "inch")
    return tuple(f"{number} {unit}" for number in numbers for unit in units
                 if NUMBER_WORDS[number] * UNITS_M[unit] <= MAX_DELTA_M and (unit in singular) == (number == "one"))


def model_slots(vocabulary: GrammarVocabulary) -> dict[str, tuple[str, ...]]:
    """The vocabulary's slots, the distances and the taught phrases."""
    return {**vocabulary.slots, "distance": distances(vocabulary.slots["number"], vocabulary.slots["unit"]),
            "taught": TAUGHT_PHRASES}


def model_templates(vocabulary: GrammarVocabulary, *, teaching: bool = True) -> tuple[str, ...]:
    """The grammar's templates, the wider correction templates, and (if `teaching`) the definitions; a
    number and a unit become a <distance>."""
    extra = CORRECTION_TEMPLATES + (TEACHING_TEMPLATES if teaching else ())
    return tuple(dict.fromkeys(t.replace("<number> <unit>", "<distance>") for t in vocabulary.phrases + extra))


def training_sentences(vocabulary: GrammarVocabulary, *, teaching: bool = True) -> list[tuple[str, float]]:
    """(sentence, weight) pairs: each template weighs 1 in all, shared among its sentences; a seeded share of
    them is said again with a filler in front or behind; and seeded pairs of clauses joined by "and"."""
    slots, rng = model_slots(vocabulary), random.Random(0)
    out: list[tuple[str, float]] = []
    for template in model_templates(vocabulary, teaching=teaching):
        sentences = expand(template, slots)
        weight = 1.0 / len(sentences)
        for sentence in sentences:
            out.append((sentence, weight * (1 - FILLER_SHARE)))
            if rng.random() < 0.5:
                out.append((f"{rng.choice(LEAD_FILLERS)} {sentence}", weight * FILLER_SHARE))
            else:
                out.append((f"{sentence} {rng.choice(TRAIL_FILLERS)}", weight * FILLER_SHARE))
    clauses = {kind: expand(template, slots) for kind, template in COMPOUND_PARTS.items()}
    for _ in range(COMPOUNDS):
        first, second = rng.sample(sorted(clauses), 2)
        out.append((f"{rng.choice(clauses[first])} and {rng.choice(clauses[second])}", COMPOUND_WEIGHT / COMPOUNDS))
    return out
