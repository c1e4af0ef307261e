"""The shared language tables (planners/language.py): numbers, units, distances, directions, fillers and the
validation of text, and that the other modules' tables agree with them and with the skill library."""
from __future__ import annotations

import ast
import unicodedata
from pathlib import Path

import pytest

from planners import parser, task_phrases
from planners.corrections.distill import DISTANCE_SKILLS, VERB_SKILLS
from planners.language import DIRECTION_ARGUMENT_WORDS, DIRECTION_PATTERNS, DISTANCE, NUMBER_WORDS, ONES, SKILL_SPECS, \
    TENS, UNITS_M, Fillers, PhraseError, TextRules, direction_of, directions_in, float_param, known_skills, measure, \
    normalize, number_words, take_direction, take_distance, text_problem
from planners.voice import vocabulary
from skill_lib.skills import default_skills
from skill_lib.skills.common import DIRECTIONS


def metres(text: str) -> float:
    match = DISTANCE.search(text)
    assert match is not None, text
    return measure(match)


# -- numbers and units --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("10 cm", 0.1), ("10cm", 0.1), ("100 mm", 0.1), ("0.1 m", 0.1), (".5 m", 0.5), ("1e-1 m", 0.1),
    ("ten centimetres", 0.1), ("twenty five millimeters", 0.025), ("twenty-five mm", 0.025), ("an inch", 0.0254),
    ("half a meter", 0.5), ("4 inches", 0.1016), ("2 in", 0.0508), ("fifty mm", 0.05), ("nineteen cm", 0.19),
])
def test_distances_in_digits_and_words(text, value):
    assert metres(text) == pytest.approx(value)


def test_every_unit_reads():
    for unit, scale in UNITS_M.items():
        assert metres(f"2 {unit}") == pytest.approx(2 * scale), unit


def test_number_words_stop_at_fifty_for_distances():
    """What the parser has always read: larger tens are not distances (and stay refused)."""
    assert DISTANCE.search("sixty mm") is None and DISTANCE.search("fifty nine mm") is not None
    assert set(NUMBER_WORDS) >= set(ONES) and {"a", "an", "half a", "half an"} <= set(NUMBER_WORDS)


def test_spoken_numbers():
    assert [number_words(n) for n in (0, 7, 20, 25, 90, 100, 342)] == [
        "zero", "seven", "twenty", "twenty five", "ninety", "one hundred", "three hundred forty two"]
    assert TENS[0] == "twenty" and len(TENS) == 8
    with pytest.raises(ValueError):
        number_words(1000)


def test_take_distance_refuses_two_distances_and_a_bare_number():
    assert take_distance("the cube 5 cm left", example="10 cm") == (0.05, "the cube   left")
    assert take_distance("the cube left", example="10 cm") == (None, "the cube left")
    with pytest.raises(PhraseError, match="give one distance, not 5 cm, 3 cm"):
        take_distance("5 cm 3 cm left", example="10 cm")
    with pytest.raises(PhraseError, match=r"'10' needs a unit \(cm, mm, m or in\), e.g. '2 cm left'"):
        take_distance("10 left", example="2 cm left")


# -- directions ---------------------------------------------------------------------------------------

def test_directions_are_the_skill_library_s():
    assert list(DIRECTION_PATTERNS) == list(DIRECTIONS)


@pytest.mark.parametrize("phrase, direction", [
    ("left", "left"), ("to the left", "left"), ("to the robot's left", "left"), ("leftwards", "left"),
    ("your right", "right"), ("to the right side", "right"), ("forward", "forward"), ("ahead", "forward"),
    ("away from me", "forward"), ("further away", "forward"), ("to the front", "forward"), ("back", "backward"),
    ("towards the robot", "backward"), ("closer", "backward"), ("nearer to us", "backward"), ("up", None),
    ("left and right", None),
])
def test_direction_phrases(phrase, direction):
    assert direction_of(phrase) == direction


def test_take_direction_and_directions_in():
    assert take_direction("the cube 5 cm to the left") == ("left", "the cube 5 cm  ")
    assert take_direction("the cube") == (None, "the cube")
    with pytest.raises(PhraseError, match="give one direction, not forward and left"):
        take_direction("left and away")
    assert directions_in("back a bit and to the right") == ["right", "backward"]  # in the table's order


def test_direction_argument_words_are_direction_words_or_their_prepositions():
    prepositions = {"to", "towards", "toward", "by"}
    assert all(direction_of(w) for w in DIRECTION_ARGUMENT_WORDS - prepositions)


# -- normalising and fillers --------------------------------------------------------------------------

def test_normalize():
    assert normalize("  Could you PLEASE put the Red_Cube in the tray?! ") == "could you put the red_cube in the tray"
    assert normalize("the robot\u2019s left.") == "the robot's left"


def test_fillers_are_stripped_repeatedly_and_the_first_listed_phrase_wins():
    fillers = Fillers(leading=("now", "try to", "try"), trailing=("thanks", "now"))
    assert fillers.remove("now try to grasp it lower now thanks") == "grasp it lower"
    assert fillers.remove("trying harder") == "trying harder"  # whole words only
    assert Fillers(leading=("try", "try to"), trailing=()).remove("try to grasp") == "to grasp"
    assert fillers.remove("now, thanks") == ""


# -- validation ---------------------------------------------------------------------------------------

RULES = TextRules(max_chars=10, not_text="not text: {type}", too_long="{length} > {max_chars}",
                  non_text="{count} odd", empty="empty", not_english="not English")


@pytest.mark.parametrize("text, problem", [
    (None, "not text: NoneType"), (b"x", "not text: bytes"), ("x" * 11, "11 > 10"), ("a\x00b\x01", "2 odd"),
    ("bad \ufffd", "1 odd"), (" \t\n ", "empty"), ("ééé à", "not English"), ("grasp it", None), ("a\tb\nc", None),
])
def test_text_problems(text, problem):
    assert text_problem(text, RULES) == problem


def test_strict_characters_and_the_order_of_empty():
    strict = TextRules(max_chars=5, not_text="", too_long="long", non_text="{count} odd", empty="empty",
                       printable_only=True, empty_first=True)
    assert text_problem("a\u200bb\u00a0c", RULES) is None  # zero-width and no-break space: typing
    assert text_problem("a\u200bb\u00a0c", strict) == "2 odd"  # from a network: garbage
    assert text_problem(" " * 20, RULES) == "20 > 10" and text_problem(" " * 20, strict) == "empty"
    assert text_problem("\x1c", RULES) == "1 odd" and text_problem("\x1c", strict) == "empty"
    checks = TextRules(max_chars=5, not_text="", too_long="long")  # the others left out
    assert text_problem("\x00", checks) is None and text_problem("", checks) is None


def test_printable_only_refuses_a_superset_of_the_control_characters():
    control = {"Cc", "Cs", "Co", "Cn"}
    strict, lax = TextRules(1, "", "", "x", printable_only=True), TextRules(1, "", "", "x")
    for code in range(0, 0x110000, 17):
        char = chr(code)
        if lax.is_non_text(char):
            assert strict.is_non_text(char) and unicodedata.category(char) in control, hex(code)


# -- skills -------------------------------------------------------------------------------------------

def test_skill_tables_name_library_skills():
    names = {spec.name for spec in default_skills()}
    assert set(SKILL_SPECS) == names
    assert task_phrases.RECIPES <= names and set(task_phrases.GRIPPER_VERBS.values()) <= task_phrases.RECIPES
    assert set(VERB_SKILLS.values()) | set(DISTANCE_SKILLS) <= names
    with pytest.raises(LookupError, match="wave_hello"):
        known_skills({"pick", "wave_hello"}, "a test table")


def test_the_parser_s_bounds_are_the_skill_specs():
    for (skill, name), bounds in {("push", "distance"): (parser.PUSH_MIN_M, parser.PUSH_MAX_M, parser.PUSH_DEFAULT_M),
                                  ("pull", "distance"): (parser.PULL_MIN_M, parser.PULL_MAX_M, parser.PULL_DEFAULT_M),
                                  ("move_to", "height"): (parser.HOVER_MIN_M, parser.HOVER_MAX_M,
                                                          parser.HOVER_DEFAULT_M)}.items():
        param = SKILL_SPECS[skill].param(name)
        assert bounds == float_param(skill, name) == (param.low, param.high, param.default)
    with pytest.raises(ValueError, match="no bounds"):
        float_param("push", "direction")


# -- the voice vocabulary reads its words from here ---------------------------------------------------

def test_voice_words_are_language_words():
    assert vocabulary.NUMBER_WORDS == tuple(number_words(n) for n in range(1, 21))
    assert all(n in NUMBER_WORDS for n in vocabulary.NUMBER_WORDS)
    assert set(vocabulary.UNIT_WORDS) <= set(UNITS_M)
    assert all(direction_of(w) for w in vocabulary.DIRECTION_WORDS)
    assert vocabulary.SIDE_WORDS == ("left", "right")


def test_no_module_imports_another_module_s_private_names():
    root = Path(__file__).parents[2] / "planners"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("planners"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path}: imports {private} from {node.module}"
