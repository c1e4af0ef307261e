"""The decision between the open-vocabulary transcript and pocketsphinx's constrained decodes
(planners.voice.agreement), on transcripts: real distiller, real CMUdict pronunciations (pocketsphinx's
bundled dictionary), no audio. The audio end is in test_open_vocabulary.py."""
from __future__ import annotations

import pytest

pytest.importorskip("pocketsphinx", reason="voice extra not installed: pip install -e '.[voice]'")

from hardware.scene import nominal_objects  # noqa: E402
from planners.corrections import CorrectionContext  # noqa: E402
from planners.voice.agreement import clean, decide, repaired, sound_alike  # noqa: E402
from planners.voice.language_model import language_model_text, model_words, pronunciations  # noqa: E402
from planners.voice.meaning import understanding  # noqa: E402
from planners.voice.vocabulary import scene_vocabulary  # noqa: E402
from skill_lib.skills import default_skills  # noqa: E402

OBJECTS = nominal_objects("default")
VOCABULARY = scene_vocabulary(OBJECTS, tuple(spec.name for spec in default_skills()))
WORDS = frozenset(model_words(language_model_text(VOCABULARY)))
UNDERSTAND = understanding(CorrectionContext(objects=OBJECTS, object="red_cube"))


def verdict(takes: list[str], lm: list[str | None], grammar: list[str | None] | None = None):
    """The decision on the open recogniser's takes and pocketsphinx's decodes (as recorded first)."""
    return decide(takes, lm, grammar or [None] * len(lm), UNDERSTAND, WORDS, pronunciations)


def test_clean_writes_an_open_transcript_as_the_decoders_do():
    assert clean("First, grasp the red cube.") == "first grasp the red cube"
    assert clean("Move it 2.5 cm to the robot's left!") == "move it 2.5 cm to the robot's left"
    assert clean(None) == "" and clean(" ... ") == ""


def test_words_sound_alike_by_their_phones():
    assert sound_alike(["write"], ["right"], pronunciations)  # homophones
    assert sound_alike(["hummer"], ["hover"], pronunciations)  # one phone of four
    assert not sound_alike(["rest"], ["grasp"], pronunciations)
    assert not sound_alike(["left"], ["right"], pronunciations)
    assert not sound_alike(["xqzt"], ["right"], pronunciations)  # no pronunciation: nothing to compare


def test_a_repair_replaces_only_out_of_vocabulary_words_that_sound_alike():
    assert repaired("write a little bit", "right a little bit", WORDS, pronunciations) == "right a little bit"
    assert repaired("hummer a lot lower than that", "hover a lot lower than that", WORDS,
                    pronunciations) == "hover a lot lower than that"
    # "slower" is a correction word: heard as such, it is never overridden
    assert repaired("go much slower", "go much lower", WORDS, pronunciations) == "go much slower"
    # words only the constrained decode heard are not inserted
    assert repaired("a little bit", "left a little bit", WORDS, pronunciations) == "a little bit"


def test_agreement_of_the_two_recognisers_is_taken():
    taken = verdict(["Go much slower than that.", "go much slower than the", "no much slower"],
                    ["go much slower than that", "go slower than that", None])
    assert taken.sure and taken.text == "go much slower than that" and taken.source == "open vocabulary"
    repair = verdict(["Write a little bit", "Right, a bit.", "Rite a little pit"], ["right a little bit", None],
                     ["right a little to"])
    assert repair.sure and UNDERSTAND(repair.text) == UNDERSTAND("a little to the right")


def test_a_stable_open_hearing_is_taken_and_an_unstable_one_is_not():
    # pocketsphinx heard nothing of use, but two of the open recogniser's three takes mean the same
    stable = verdict(["Go much slower than that.", "Go much slower than that", "Go much older"],
                     ["go much blue block"], [None])
    assert stable.sure and stable.text == "go much slower than that"
    assert not verdict(["go much slower than that", "go much slow than", "go much"], [None], [None]).sure


def test_a_taught_definition_is_not_taken_on_the_open_recogniser_alone():
    """Its phrase is words only the open recogniser hears, and all its takes can mishear it alike: Whisper heard
    "a tower means ..." as "that's how it means ..." three times (bench/voice.py --set dev)."""
    misheard = verdict(["That's how it means to stack the large cubes."] * 3,
                       ["a tower means stacking the large cubes"], ["two meters to the left"])
    assert not misheard.sure
    # with a pocketsphinx decode that means the same definition, it is taken
    heard = verdict(["Clean up means to start an ashram queue.", "Clean up means to stack the large cubes.",
                     "Clean up means to stack the large cubes"], ["clean up means to stack the large cubes"], [None])
    assert heard.sure and heard.text == "clean up means to stack the large cubes"
    # a take that means another correction makes it a close call ("the tower" is another phrase taught)
    assert not verdict(["The tower means to stack the large cubes.", "A tower means to stack the large cubes.",
                        "A tower means to stack the large cubes"], ["a tower means stacking the large"], [None]).sure


def test_disagreement_is_refused_with_a_guess():
    # the open recogniser heard "slower", pocketsphinx "lower": a different correction, so neither is taken
    conflict = verdict(["go much slower", "go much", "much lower"], ["go much lower"], ["go much lower"])
    assert not conflict.sure and conflict.did_you_mean is not None
    # pocketsphinx's language model alone is not enough when the open recogniser heard no correction
    alone = verdict(["first rest the red cube"] * 3, ["first grab the red cube"] * 3, [None] * 3)
    assert not alone.sure and alone.did_you_mean == "first grab the red cube"
    # an exact match of a template (language model and grammar heard the same words) is taken, unless an open
    # take means another correction
    exact = verdict(["brass blower", "tom and i were", ""], ["grasp lower"], ["grasp lower"])
    assert exact.sure and exact.text == "grasp lower"
    assert not verdict(["go slower", "go slower", "go slow"], ["go lower"], ["go lower"]).sure
    # two meanings supported at once (a stable open hearing, and another agreed with pocketsphinx): unsure
    split = verdict(["go much slower", "go much lower", "go much lower"], ["go much slower"], [None])
    assert not split.sure


def test_off_topic_speech_is_refused():
    refused = verdict(["Good morning, everyone.", "Good morning everyone", "good morning, every one"],
                      ["one inch to the left", None, "move it in"])
    assert not refused.sure and refused.text == "good morning everyone"
    nothing = verdict(["", "", ""], [None, None, None])
    assert not nothing.sure and nothing.did_you_mean is None and nothing.votes == 0
