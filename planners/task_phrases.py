"""How tasks are said: the verbs of each recipe, prepositions and pronouns, the clause patterns the parser
(planners/parser.py) matches, and SUPPORTED, what it reads, as the operator is told when a task is refused.
Words shared with corrections and voice (numbers, units, directions, fillers) are in planners/language.py."""
from __future__ import annotations

import re

from planners.language import DISTANCE, LEADING_FILLERS, TRAILING_FILLERS, Fillers, TextRules, known_skills

MAX_TASK_CHARS = 500
SUPPORTED = ("I can: put/place X in/on Y (X may be several in a container: all the cubes, the red ones, "
             "X and Z, the rest of the cubes; or in the middle / a corner of it or of the table), put X to the "
             "left/right of, in front of, behind, next to Y or between Y and Z, stack X on Y or stack the large "
             "cubes, pick up X, push X <distance> <direction>, move to X, open/pull a drawer [<distance>], "
             "open/close the gripper; and what you teach me ('<phrase> means <task>')")
#: what parse_task refuses before parsing (empty text is found by parsing: "please" is empty too)
TASK_TEXT = TextRules(max_chars=MAX_TASK_CHARS, not_text=f"a task must be text, not {{type}}; {SUPPORTED}",
                      too_long=f"the task is too long ({{length}} characters, at most {{max_chars}}); {SUPPORTED}")

PICK_VERBS = frozenset({"pick", "grab", "grasp", "lift", "take", "raise", "get", "grip", "hold", "fetch"})
PUT_VERBS = frozenset({"put", "place", "drop", "set", "move", "transfer", "load", "stack", "insert",
                       "deposit", "lay", "bring", "carry"})
PUSH_VERBS = frozenset({"push", "shove", "nudge", "slide", "shift"})
PULL_VERBS = frozenset({"pull", "draw", "tug", "yank"})
MOVE_TO_VERBS = frozenset({"move", "go", "hover", "bring", "travel", "position"})
GRIPPER_VERBS = {"open": "open_gripper", "close": "close_gripper", "shut": "close_gripper",
                 "release": "open_gripper"}
ALL_VERBS = PICK_VERBS | PUT_VERBS | PUSH_VERBS | PULL_VERBS | MOVE_TO_VERBS | GRIPPER_VERBS.keys()
#: the skills a clause can become (known verbs and retrieved skills alike): the recipes this parser implements,
#: each checked against the skill library
RECIPES = known_skills({"pick", "place", "push", "pull", "move_to", "open_gripper", "close_gripper"}, "RECIPES")
if not set(GRIPPER_VERBS.values()) <= RECIPES:
    raise LookupError("GRIPPER_VERBS names a skill that has no recipe")
PRONOUNS = frozenset({"it", "that", "this", "that one", "this one", "the same one", "the same object"})
IN_PREPOSITIONS = frozenset({"in", "into", "inside", "inside of", "in to"})
#: "pick up the red cube *in* the tray" names a place to pick from; "take X *to* Y" is a put
LOCATIVE_PREPOSITIONS = frozenset({"in", "on", "upon", "atop"})

#: amount words around a push's distance ("by about 5 cm", "a little to the left"): no meaning of their own
PUSH_FILLERS = re.compile(r"\b(?:by|about|around|roughly|approximately|exactly|some|further|farther|more"
                           r"|a little bit|a bit|slightly|a tad)\b|(?: a little)+$")
#: order matters (see Fillers): "robot should" comes after "robot", so it never applies
FILLERS = Fillers(
    leading=LEADING_FILLERS + ("the robot should", "robot should", "could you", "can you", "would you", "will you",
                               "i want you to", "i'd like you to", "i would like you to", "i need you to",
                               "go ahead and", "kindly", "first", "firstly", "finally", "also", "just"),
    trailing=TRAILING_FILLERS + ("for me",))

PUT = re.compile(r"^(?P<obj>.+?) (?P<prep>on top of|inside of|inside|into|in to|in|onto|on to|on|upon|atop|to)"
                  r" (?P<target>.+)$")
PICK_SOURCE = re.compile(r" (?:from|off of|off|out of|in|on|inside|at) (?P<source>.*)$")
#: "put everything on the table in the tray": the table is where they are, not where they go
EVERYTHING_ON_TABLE = re.compile(r"^((?:all (?:of )?)?(?:the )?(?:everything|objects|things|items)) "
                                  r"(?:on|from|off) (?:the )?table\b")
#: "the rest of the cubes", "the rest", "the other cubes", "the others": a set less what the task named before
OTHERS = re.compile(r"^(?:all )?(?:of )?(?:the rest(?: of (?:the )?(?P<set>.+))?|the others|the other (?P<other>.+))$")
UNSUPPORTED_RELATION = re.compile(r"\b(?:near|under|underneath|below|above|around|over)\b")
#: "put X to the left of Y", "in front of", "behind", "next to", "beside", "between Y and Z": on the table
RELATION = re.compile(r"^(?P<obj>.+?) (?P<rel>(?:to |on |at )?(?:the )?(?P<lr>left|right)(?:-hand)?(?: side)? of"
                       r"|in front of|behind|next to|beside|by|between) (?P<ref>.+)$")
RELATION_SIDES = {"in front of": "front", "behind": "behind"}
#: "in the middle of the tray", "in a corner of the tray", "in the front left corner of the bin"
REGION = re.compile(r"^(?P<obj>.+?) (?:in|into|at|on) (?:the |a |one )?(?:(?P<middle>middle|centre|center)"
                     r"|(?:(?P<fb>front|back|far|near)[ -])?(?:(?P<lr>left|right)[ -])?corner) of (?P<target>.+)$")
MOVE_TO = re.compile(rf"^(?:(?:the|your|its) )?(?:gripper|arm|hand|tool|end effector|end-effector|robot)? ?"
                      rf"(?:(?P<height>{DISTANCE.pattern}) )?(?:right |directly |just )?"
                      rf"(?P<prep>to|above|over|on top of|towards?) (?P<target>.+)$")
GRIPPER_NOUN = re.compile(r"^(?:(?:the|your|its) )?(?:gripper|hand|claw|fingers|grip|it)?$")
SEQUENCE_SPLIT = re.compile(r" ?(?:;|\. |,? ?\b(?:and )?(?:then|after that|afterwards)\b,?) ?")
AND_SPLIT = re.compile(r" ?(?:, ?and\b|,|\band\b) ?")
