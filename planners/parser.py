"""Deterministic task parser: operator text -> Plan (skill calls plus the goals to check at the end).

Known verbs are handled by fixed recipes; an unknown leading verb is looked up in the skill library by
embedding similarity, and the retrieved skill picks the recipe. Every failure is a one-line TaskError.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from hardware.types import ObjectState
from planners.goals import side_words
from planners.grounding import describe_object, ground, ground_set, is_set_reference, reference_vocabulary, \
    scene_nouns
from planners.language import DETERMINERS, DIRECTION_ARGUMENT_WORDS, EVERYTHING, NUMBER_WORDS, PhraseError, \
    float_param, measure, normalize, require_text, take_direction, take_distance, word_forms
from planners.placement import MAX_OFFSET, Footprint, aim_from, assign_spots, beside_spot, between_spot, \
    corner_spot, table_spot
from planners.plan import Goal, Plan, SkillCall, TaskError
from planners.stacking import spell_stack
from planners.task_phrases import ALL_VERBS, AND_SPLIT, EVERYTHING_ON_TABLE, FILLERS, GRIPPER_NOUN, GRIPPER_VERBS, \
    IN_PREPOSITIONS, LOCATIVE_PREPOSITIONS, MOVE_TO, MOVE_TO_VERBS, OTHERS, PICK_SOURCE, PICK_VERBS, PRONOUNS, \
    PULL_VERBS, PUSH_FILLERS, PUSH_VERBS, PUT, PUT_VERBS, RECIPES, REGION, RELATION, RELATION_SIDES, SEQUENCE_SPLIT, \
    SUPPORTED, TASK_TEXT, UNSUPPORTED_RELATION
from skill_lib.skills.common import DIRECTIONS
from skill_lib.skills.pull import pull_direction

# the skills own their bounds: a push, a pull and a hover height are checked against the specs' ranges
PUSH_MIN_M, PUSH_MAX_M, PUSH_DEFAULT_M = float_param("push", "distance")
PULL_MIN_M, PULL_MAX_M, PULL_DEFAULT_M = float_param("pull", "distance")
HOVER_MIN_M, HOVER_MAX_M, HOVER_DEFAULT_M = float_param("move_to", "height")
# Verbs the tables do not know are looked up in the library; below this similarity the parser
# refuses rather than guesses (a wrong guess moves a robot: "loosen" scores 0.45 for close_gripper).
RETRIEVAL_THRESHOLD = 0.5

class RetrievedSkill(Protocol):
    @property
    def name(self) -> str: ...


class SkillMatchLike(Protocol):
    @property
    def skill(self) -> RetrievedSkill: ...

    @property
    def score(self) -> float: ...


class SkillRetriever(Protocol):
    """What the parser needs from skill_lib.library.SkillLibrary: match or abstain (None)."""

    def match(self, query: str, threshold: float) -> SkillMatchLike | None: ...


@dataclass(frozen=True)
class TaughtTask:
    """What a taught phrase means: `steps`, a task in the words this parser reads; `note` says which."""

    steps: str
    note: str


class TaughtTaskLookup(Protocol):
    """The task an operator taught for a clause (planners.corrections.definitions.TaughtTasks), or None."""

    def __call__(self, clause: str, objects: Mapping[str, ObjectState]) -> TaughtTask | None: ...




@dataclass
class _ClausePlan:
    calls: list[SkillCall]
    goals: list[Goal]
    obj: str | None


def _take_distance(text: str) -> tuple[float | None, str]:
    try:
        return take_distance(text, example="10 cm")
    except PhraseError as err:
        raise TaskError(f"{err}; {SUPPORTED}") from None


def _take_direction(text: str) -> tuple[str | None, str]:
    try:
        return take_direction(text)
    except PhraseError as err:
        raise TaskError(f"{err}; {SUPPORTED}") from None


def _check_range(what: str, value: float, low: float, high: float) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise TaskError(f"{what} {value * 100:g} cm is outside {low * 100:g}-{high * 100:g} cm; {SUPPORTED}")


def _known_recipe(verb: str, rest: str) -> str | None:
    """The recipe a verb from the fixed tables selects (None: unknown verb)."""
    if verb in GRIPPER_VERBS:
        if GRIPPER_NOUN.match(rest):
            return GRIPPER_VERBS[verb]
        if verb == "open":
            return "pull"  # "open the drawer": the parser checks that it is one
        raise TaskError(f"I can only open or close the gripper, not '{rest}'; {SUPPORTED}")
    if verb in PULL_VERBS:
        return "pull"
    move = MOVE_TO.match(rest) if verb in MOVE_TO_VERBS else None
    if move and _take_direction(move["target"])[0] is None:
        return "move_to"
    put = PUT.match(rest)
    if verb in PUSH_VERBS or (verb == "move" and (put is None or _take_direction(put["target"])[0])):
        return "push"  # "move the red cube 5 cm left" is a push
    if verb in PUT_VERBS or verb in PICK_VERBS:
        return "place" if verb in PUT_VERBS else "pick"
    return "move_to" if verb in MOVE_TO_VERBS else None


class _TaskParser:
    def __init__(self, objects: Mapping[str, ObjectState], library: SkillRetriever | None, threshold: float,
                 taught: TaughtTaskLookup | None = None):
        self.objects = objects
        self.library = library
        self.threshold = threshold
        #: looked up for a clause the tables do not read; None while a taught task's steps are parsed
        self.taught = taught
        self.calls: list[SkillCall] = []
        self.goals: list[Goal] = []
        self.notes: list[str] = []
        self.last_obj: str | None = None
        #: objects earlier clauses of the task pick up: no reference for a spot on the table
        self.moved: set[str] = set()
        #: objects earlier clauses of the task act on ("the rest of the cubes" are the others)
        self.named: set[str] = set()
        #: objects the task names that no call acts on, checked all the same ("from the tray")
        self.checked: set[str] = set()
        #: table spots chosen by earlier clauses of the task (beside / between), kept clear by later ones
        self.table_spots: list[Footprint] = []
        #: spots in containers asked for by name (a middle, a corner): (container, footprint from its centre)
        self.container_spots: list[tuple[str, Footprint]] = []
        self.argument_words = reference_vocabulary(objects) | DIRECTION_ARGUMENT_WORDS | set(NUMBER_WORDS) | {"it"}

    def split(self, text: str) -> list[str]:
        """Clauses, in order: split on then/;/'. ', and on and/',' when a new verb follows."""
        clauses: list[str] = []
        for sequence in SEQUENCE_SPLIT.split(text):
            for piece in AND_SPLIT.split(sequence):
                first = piece.split(" ", 1)[0]
                starts_clause = first in ALL_VERBS or (first.isalpha() and first not in self.argument_words)
                if clauses and clauses[-1] and not starts_clause and piece:
                    clauses[-1] += " and " + piece
                else:
                    clauses.append(piece)
            clauses.append("")  # a then/; boundary: never merge across it
        return clauses

    def label(self, name: str) -> str:
        return describe_object(self.objects[name], self.objects)

    def resolve(self, phrase: str) -> str:
        phrase = phrase.strip()
        if phrase and is_set_reference(phrase, self.objects):
            raise TaskError(f"'{phrase}' names several objects; name one here (several can be put into a "
                            f"container together); {SUPPORTED}")
        if phrase in PRONOUNS:
            if self.last_obj is None:
                raise TaskError(f"'{phrase}' has nothing to refer to; name the object; {SUPPORTED}")
            return self.last_obj
        name, note = ground(phrase, self.objects)
        if note:
            self.notes.append(note)
        return name

    def parse(self, text: str) -> None:
        """Plan each clause of `text` in turn, appending to the calls and goals."""
        for clause_text in self.split(text):
            self.parse_clause(clause_text)

    def add(self, clause: _ClausePlan) -> None:
        _append(self.calls, self.goals, clause)
        self.last_obj = clause.obj
        self.moved |= {c.params["object"] for c in clause.calls if c.skill == "pick"}
        self.named |= {c.params["object"] for c in clause.calls if "object" in c.params}

    def parse_clause(self, clause: str) -> None:
        """A clause the tables read; else a taught task it says; else an unknown verb's retrieved skill."""
        clause = FILLERS.remove(clause)
        if not clause:
            return
        if spelled := spell_stack(clause, self.objects, self.notes):
            self.parse(spelled)
            return
        verb, _, rest = clause.partition(" ")
        notes = len(self.notes)
        try:
            recipe = _known_recipe(verb, rest)
            planned = None if recipe is None else self.plan_clause(verb, rest, recipe)
        except TaskError:
            del self.notes[notes:]
            if self.expand_taught(clause):
                return
            raise
        if planned is None and self.expand_taught(clause):
            return
        self.add(planned or self.plan_clause(verb, rest, self.retrieve(verb, clause)))

    def expand_taught(self, clause: str) -> bool:
        """Plan the task taught for `clause`, if one was; its steps use no taught task in turn."""
        lookup, self.taught = self.taught, None
        if lookup is None:
            return False
        try:
            found = lookup(clause, self.objects)
            if found is None:
                return False
            self.notes.append(found.note)
            try:
                self.parse(found.steps)
            except TaskError as err:
                raise TaskError(f"'{clause}' was taught as '{found.steps}', which I can't do here: {err}") from err
            return True
        finally:
            self.taught = lookup

    def plan_clause(self, verb: str, rest: str, recipe: str) -> _ClausePlan:
        if recipe in ("open_gripper", "close_gripper"):
            named = set(rest.split()) & (self.argument_words - DETERMINERS - {"it"})
            if verb not in GRIPPER_VERBS and named and not GRIPPER_NOUN.match(rest):  # "hand me the red cube"
                raise TaskError(f"'{verb}' reads as {recipe}, which takes no object, and the task names "
                                f"'{rest}'; {SUPPORTED}")
            state = "open" if recipe == "open_gripper" else "closed"
            return _ClausePlan([SkillCall(recipe, {})], [Goal("gripper", state=state)], self.last_obj)
        if recipe == "move_to":
            return self.move_to(rest)
        if recipe == "push":
            return self.push(rest)
        if recipe == "pull":
            return self.pull(verb, rest)
        rest = re.sub(r"^up |(?: up)$", "", rest) if recipe == "pick" else rest
        put = PUT.match(rest)
        if recipe == "place" or (put and put["prep"] not in LOCATIVE_PREPOSITIONS):  # "take X to the bin"
            return self.put(verb, rest)
        source = PICK_SOURCE.search(rest)  # "from the table", "out of the tray": checked, then not needed
        if source and source["source"] not in ("the table", "table"):
            self.checked.add(self.resolve(source["source"]))
        obj = self.resolve(rest[:source.start()] if source else rest)
        return _ClausePlan([SkillCall("pick", {"object": obj})], [Goal("lifted", obj=obj)], obj)

    def retrieve(self, verb: str, clause: str) -> str:
        """An unknown verb: ask the skill library which skill it means. The query is the verb alone: with
        the object in it, the object's words dominate the similarity and every verb looks like a skill."""
        if verb in self.argument_words or not verb.isalpha():
            raise TaskError(f"'{clause}' needs a verb first; {SUPPORTED}")
        match = None
        if self.library is not None:
            try:
                match = self.library.match(verb, self.threshold)
            except Exception as err:  # re-raised as the parser's one error type, cause kept
                raise TaskError(f"skill retrieval failed for '{verb}' ({type(err).__name__}: {err})") from err
        if match is None or match.skill.name not in RECIPES:
            raise TaskError(f"unsupported verb '{verb}'; {SUPPORTED}")
        self.notes.append(f"'{verb}' read as {match.skill.name} (skill retrieval, similarity {match.score:.2f})")
        return match.skill.name

    def put(self, verb: str, rest: str) -> _ClausePlan:
        rest = re.sub(r"^down |(?<= )down (?=\S)", "", rest)
        relation = RELATION.match(rest)
        if relation:
            return self.put_beside(relation)
        region = REGION.match(rest)
        if region:
            return self.put_in_region(region)
        if UNSUPPORTED_RELATION.search(rest):
            raise TaskError(f"I can put things in or on another object, or beside or between others, not under "
                            f"or near them; {SUPPORTED}")
        rest = EVERYTHING_ON_TABLE.sub(r"\1", rest)
        put = PUT.match(rest)
        if put is None:
            raise TaskError(f"where should I {verb} {rest or 'it'}? say '{verb} X in/on Y'; {SUPPORTED}")
        others = OTHERS.match(put["obj"])
        several = bool(others) or is_set_reference(put["obj"], self.objects)
        if others:  # "the rest of the cubes": those earlier clauses did not name
            phrase = others["set"] or others["other"] or EVERYTHING
            names = [n for n in ground_set(phrase, self.objects) if n not in self.named]
            if not names:
                raise TaskError(f"'{put['obj']}': the task already names every one of {phrase}; {SUPPORTED}")
        else:
            names = ground_set(put["obj"], self.objects) if several else [self.resolve(put["obj"])]
        if _take_direction(put["target"])[0] is not None:
            label = "objects" if several else self.label(names[0])
            raise TaskError(f"to move the {label} sideways say 'push the {label} 10 cm left'; {SUPPORTED}")
        target = self.resolve(put["target"])
        if several:
            names = [n for n in names if n != target]  # "put everything in the tray": not the tray itself
        if target in names:
            raise TaskError(f"I can't put the {self.label(target)} on or in itself; {SUPPORTED}")
        container = self.objects[target].is_container
        if put["prep"] in IN_PREPOSITIONS and not container:
            label = self.label(target)
            raise TaskError(f"the {label} is not a container; say '{verb} X on the {label}'")
        if len(names) > 1 and not container:
            raise TaskError(f"only one object fits on the {self.label(target)}; put several into a container, "
                            f"or stack them one by one ('stack X on Y, then stack Z on X')")
        calls, goals = [], []
        for obj in names:
            calls += [SkillCall("pick", {"object": obj}), SkillCall("place", {"object": obj, "target": target})]
            goals.append(Goal("in" if container else "on", obj=obj, target=target))
        return _ClausePlan(calls, goals, names[0] if len(names) == 1 else None)

    def put_beside(self, relation: re.Match[str]) -> _ClausePlan:
        """Set an object down on the table beside another ('to the left of', 'in front of', 'behind', 'next
        to') or between two, at a spot free of everything else on the table."""
        obj = self.resolve(relation["obj"])
        rel = relation["rel"]
        if rel == "between":
            ends = AND_SPLIT.split(relation["ref"])
            if len(ends) != 2:
                raise TaskError(f"between what? say 'between X and Y'; {SUPPORTED}")
            a, b = (self.resolve(e) for e in ends)
            if len({obj, a, b}) < 3:
                raise TaskError(f"'between' needs two objects other than the {self.label(obj)}; {SUPPORTED}")
            between = between_spot(self.objects[obj], self.objects[a], self.objects[b], self.objects,
                                   self.table_spots, self.moved)
            if between is None:
                raise TaskError(f"there is no room for the {self.label(obj)} between the {self.label(a)} and the "
                                f"{self.label(b)}; nothing was moved")
            target, offset = between
            goal = Goal("between", obj=obj, target=a, other=b)
        else:
            target = self.resolve(relation["ref"])
            if target == obj:
                raise TaskError(f"I can't put the {self.label(obj)} beside itself; {SUPPORTED}")
            side = relation["lr"] or RELATION_SIDES.get(rel)
            found = beside_spot(self.objects[obj], self.objects[target], side, self.objects, self.table_spots)
            if found is None:
                raise TaskError(f"there is no free room on the table {side_words(side)} the {self.label(target)} "
                                f"for the {self.label(obj)}; nothing was moved")
            chosen, offset = found
            goal = Goal("beside", obj=obj, target=target, state=side)
            if side is None:
                self.notes.append(f"'next to' taken as the {chosen} side of the {self.label(target)}")
        self.table_spots.append(Footprint.of(self.objects[obj], self.objects[target].position[:2] + offset))
        place = SkillCall("place", {"object": obj, "target": target, "offset_x": offset[0], "offset_y": offset[1],
                                    "surface": "table"})
        return _ClausePlan([SkillCall("pick", {"object": obj}), place], [goal], obj)

    def put_in_region(self, region: re.Match[str]) -> _ClausePlan:
        """Into a container, or on the table, at its middle or in one of its corners (the corners a phrase
        allows, the first free)."""
        if region["middle"]:
            corners = [(0.0, 0.0)]
        else:  # front: the robot's side (-x); left: +y
            xs = [-1.0] if region["fb"] in ("front", "near") else [1.0] if region["fb"] else [-1.0, 1.0]
            ys = [1.0] if region["lr"] == "left" else [-1.0] if region["lr"] else [1.0, -1.0]
            corners = [(x, y) for x in xs for y in ys]
        where = "the middle" if region["middle"] else "every corner" if len(corners) > 1 else "that corner"
        obj = self.resolve(region["obj"])
        if region["target"] in ("the table", "table"):
            return self.put_on_table(obj, corners, where)
        target = self.resolve(region["target"])
        container = self.objects[target]
        if not container.is_container:
            raise TaskError(f"I can put things in the middle or a corner of a container or the table, not of the "
                            f"{self.label(target)}; {SUPPORTED}")
        spot = corner_spot(container, self.objects[obj], corners, self.objects, self.container_spots)
        if spot is None:
            raise TaskError(f"{where} of the {self.label(target)} is taken or too small for the "
                            f"{self.label(obj)}; nothing was moved")
        self.container_spots.append((target, Footprint.of(self.objects[obj], spot)))
        place = SkillCall("place", {"object": obj, "target": target, "offset_x": spot[0], "offset_y": spot[1]})
        goal = Goal("in", obj=obj, target=target, offset=spot)
        return _ClausePlan([SkillCall("pick", {"object": obj}), place], [goal], obj)

    def put_on_table(self, obj: str, corners: list[tuple[float, float]], where: str) -> _ClausePlan:
        """On the table at its middle or a corner (of the area the arm sets things down in)."""
        where = where.replace("every", "any")  # "no room in any corner"
        spots = [s for corner in corners if (s := table_spot(self.objects[obj], [corner], self.objects,
                                                              self.table_spots)) is not None]
        if not spots:
            raise TaskError(f"there is no room for the {self.label(obj)} in {where} of the table; nothing was moved")
        aims = [(s, a) for s in spots if (a := aim_from(np.asarray(s), self.objects[obj], self.objects,
                                                        moving=self.moved)) is not None]
        if not aims:
            raise TaskError(f"nothing stands within {MAX_OFFSET * 100:g} cm of {where} of the table for the place "
                            f"skill to aim from; nothing was moved")
        spot, (reference, offset) = aims[0]
        self.table_spots.append(Footprint.of(self.objects[obj], spot))
        place = SkillCall("place", {"object": obj, "target": reference, "offset_x": offset[0],
                                    "offset_y": offset[1], "surface": "table"})
        return _ClausePlan([SkillCall("pick", {"object": obj}), place], [Goal("table_spot", obj=obj, offset=spot)],
                           obj)

    def push(self, rest: str) -> _ClausePlan:
        direction, rest = _take_direction(rest)
        distance, rest = _take_distance(rest)
        obj = self.resolve(PUSH_FILLERS.sub(" ", rest))
        if direction is None:
            raise TaskError(f"which way should I push the {self.label(obj)}? say left, right, "
                            f"forward (away from the robot) or backward (toward the robot)")
        distance = PUSH_DEFAULT_M if distance is None else distance
        _check_range("a push of", distance, PUSH_MIN_M, PUSH_MAX_M)
        dx, dy = DIRECTIONS[direction]
        call = SkillCall("push", {"object": obj, "direction": direction, "distance": distance})
        return _ClausePlan([call], [Goal("displaced", obj=obj, offset=(dx * distance, dy * distance))], obj)

    def pull(self, verb: str, rest: str) -> _ClausePlan:
        """'open the drawer' (all the way: goal 'open'), 'pull the drawer out 15 cm' (goal: moved that far)."""
        distance, rest = _take_distance(rest)
        obj = self.resolve(re.sub(r"\b(?:out|open|all the way|by)\b", " ", rest).strip())
        state = self.objects[obj]
        if state.opening is None:
            raise TaskError(f"the {self.label(obj)} is not a drawer: I can {verb} drawers, and open/close "
                            f"the gripper; {SUPPORTED}")
        _check_range("a pull of", PULL_DEFAULT_M if distance is None else distance, PULL_MIN_M, PULL_MAX_M)
        if distance is None:
            call = SkillCall("pull", {"object": obj, "distance": PULL_DEFAULT_M})
            return _ClausePlan([call], [Goal("open", obj=obj)], obj)
        dx, dy = pull_direction(state) * distance
        call = SkillCall("pull", {"object": obj, "distance": distance})
        return _ClausePlan([call], [Goal("displaced", obj=obj, offset=(float(dx), float(dy)))], obj)

    def move_to(self, rest: str) -> _ClausePlan:
        move = MOVE_TO.match(rest)  # None for a retrieved skill's bare "<verb> the red cube"
        target = self.resolve(move["target"] if move else rest)
        height = measure(move) if move and move["num"] else HOVER_DEFAULT_M
        if move and move["num"] and move["prep"] not in ("above", "over"):
            raise TaskError(f"say '{move['height']} above the {self.label(target)}' for a height; {SUPPORTED}")
        _check_range("a height of", height, HOVER_MIN_M, HOVER_MAX_M)
        state = self.objects[target]
        position = (float(state.position[0]), float(state.position[1]), round(state.top_z + height, 6))
        return _ClausePlan([SkillCall("move_to", {"target": target, "height": height})],
                           [Goal("at", target=target, position=position)], target)


def _append(calls: list[SkillCall], goals: list[Goal], clause: _ClausePlan) -> None:
    """Append a clause's calls and goals; 'pick X' then 'pick X, place X' keeps a single pick."""
    first = clause.calls[0]
    if (len(clause.calls) > 1 and clause.calls[1].skill == "place" and first.skill == "pick" and calls
            and calls[-1] == first and goals and goals[-1] == Goal("lifted", obj=first.params["object"])):
        calls.pop()
        goals.pop()
    calls.extend(clause.calls)
    goals.extend(clause.goals)


def _check_every_noun_used(text: str, objects: Mapping[str, ObjectState], parser: _TaskParser) -> None:
    """A safety net under the recipes: every object noun the task says must be the noun of an object the plan
    acts on or checked; a noun left over means part of the task was not understood, and the task is refused
    rather than run in part."""
    used = {v for c in parser.calls for k, v in c.params.items() if k in ("object", "target")} | parser.checked
    used |= {n for g in parser.goals for n in (g.obj, g.target, g.other) if n}
    nouns = {noun: names for noun, names in scene_nouns(objects).items() if " " not in noun}
    for word in text.split():
        said = [nouns[form] for form in word_forms(word) if form in nouns]
        if said and not any(names & used for names in said):
            raise TaskError(f"the plan would not use '{word}' in the task; {SUPPORTED}")


def parse_task(text: str, objects: Mapping[str, ObjectState], library: SkillRetriever | None = None,
               *, threshold: float = RETRIEVAL_THRESHOLD, taught: TaughtTaskLookup | None = None) -> Plan:
    """Turn the operator's task into a Plan. Raises TaskError (one line) when it cannot. `taught`: the tasks
    operators taught, for clauses the parser does not read itself."""
    text = require_text(text, TASK_TEXT, TaskError)
    try:
        parser = _TaskParser(objects, library, threshold, taught)
        parser.parse(normalize(text))
        if not parser.calls:
            raise TaskError(f"the task is empty; {SUPPORTED}")
        _check_every_noun_used(normalize(text), objects, parser)
        calls = list(assign_spots(parser.calls, objects))
    except TaskError as err:
        raise TaskError(" ".join(str(err).split())) from err.__cause__
    return Plan(task=text, calls=tuple(calls), goals=tuple(parser.goals), notes=tuple(dict.fromkeys(parser.notes)))
