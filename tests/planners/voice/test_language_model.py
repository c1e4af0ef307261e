"""The recogniser's language model without audio: the ARPA writer, the phrasings it is estimated from, what
a transcript means, and the verdict rule. (Recordings: test_voice.py and test_unseen_phrasings.py.)"""
from __future__ import annotations

import math
import re
from collections import defaultdict

import pytest

from hardware.scene import nominal_objects
from planners.corrections import CorrectionContext, CorrectionError, distill
from planners.voice.meaning import understanding
from planners.voice.ngram import arpa
from planners.voice.phrasings import (COMPOUND_PARTS, CORRECTION_TEMPLATES, TAUGHT_PHRASES, TEACHING_TEMPLATES,
                                      distances, expand, model_slots, model_templates, template_pattern,
                                      training_sentences)
from planners.voice.verdict import decide, same_words
from planners.voice.vocabulary import NUMBER_WORDS, UNIT_WORDS, scene_vocabulary
from skill_lib.skills import default_skills

SKILLS = tuple(spec.name for spec in default_skills())
#: refusals that are the scene's business, not the phrasing's: an ambiguous name ("the block" among six
#: cubes), the same object twice (an ordering, a stack), a distance beyond a skill's bounds
SCENE_REFUSALS = re.compile(r"ambiguous|before itself|on or in itself|is outside \[")


@pytest.fixture(scope="module")
def scene():
    objects = nominal_objects("default")
    return objects, scene_vocabulary(objects, SKILLS)


def _parse_arpa(text: str) -> list[dict[tuple[str, ...], tuple[float, float]]]:
    """n -> {n-gram: (log10 p, log10 back-off)}."""
    levels: list[dict[tuple[str, ...], tuple[float, float]]] = []
    for line in text.splitlines():
        if re.fullmatch(r"\\(\d)-grams:", line):
            levels.append({})
        elif levels and line and not line.startswith("\\"):
            parts = line.split("\t")
            levels[-1][tuple(parts[1].split())] = (float(parts[0]), float(parts[2]) if len(parts) > 2 else 0.0)
    return levels


def _prob(levels, history: tuple[str, ...], word: str) -> float:
    """p(word | history) with back-off, as a decoder reads the model."""
    gram = history + (word,)
    if gram in levels[len(gram) - 1]:
        return 10 ** levels[len(gram) - 1][gram][0]
    backoff = 10 ** levels[len(history) - 1].get(history, (0.0, 0.0))[1]
    return backoff * _prob(levels, history[1:], word)


@pytest.mark.parametrize("spread", [1.0, 0.02])
def test_arpa_probabilities_sum_to_one_after_every_history(spread):
    sentences = [("push it further", 1.0), ("push it a bit further", 0.5), ("slower", 0.25), ("push it", 0.1)]
    levels = _parse_arpa(arpa(sentences, order=3, spread=spread))
    vocabulary = [w for (w,) in levels[0] if w != "<s>"]
    for n in (1, 2):
        for history in levels[n - 1]:
            if history[-1] == "</s>":
                continue
            total = sum(_prob(levels, history, w) for w in vocabulary)
            assert math.isclose(total, 1.0, rel_tol=1e-4), (history, total)
    assert _prob(levels, ("push", "it"), "further") > _prob(levels, ("push", "it"), "slower") > 0


def test_a_smaller_spread_leaves_less_to_unseen_sequences():
    sentences = [("push it further", 1.0), ("slower", 1.0)]
    wide, narrow = (_parse_arpa(arpa(sentences, spread=s)) for s in (1.0, 0.02))
    assert _prob(narrow, ("push", "it"), "slower") < _prob(wide, ("push", "it"), "slower") / 10


def test_arpa_refuses_nothing_to_model():
    with pytest.raises(ValueError):
        arpa([])


def test_expand_covers_every_alternative_and_slot_value_and_is_deterministic():
    slots = {"n": tuple(f"n{i}" for i in range(30)), "side": ("left", "right")}
    template = "(move|put) it [a bit|slightly] <n> to the <side>"
    sentences = expand(template, slots, cap=50)
    words = {w for s in sentences for w in s.split()}
    assert {"move", "put", "bit", "slightly", "left", "right"} | set(slots["n"]) <= words
    assert any(s.startswith("move it n") for s in sentences) and len(sentences) <= 60
    assert expand(template, slots, cap=50) == sentences
    pattern = template_pattern(template, slots)
    assert all(pattern.fullmatch(s) for s in sentences) and not pattern.fullmatch("move it to the left")
    assert len(expand("(a|b) <side>", slots)) == 4  # few: all of them


def test_distances_are_the_ones_a_correction_may_give():
    said = distances(NUMBER_WORDS, UNIT_WORDS)
    assert "two centimeters" in said and "one centimeter" in said and "twenty millimetres" in said
    assert not {"one centimeters", "two centimeter", "fourteen meters", "twelve inches"} & set(said)


def test_every_training_sentence_is_a_correction_distill_reads(scene):
    """What the model learns to hear must mean something; only the scene's own refusals are allowed."""
    objects, vocabulary = scene
    context = CorrectionContext(objects=objects, object="red_cube")
    refused = defaultdict(list)
    sentences = [s for s, _ in training_sentences(vocabulary)]
    for sentence in sentences[::3]:  # a third of them: the rest are the same templates with other slot values
        try:
            distill(sentence, context)
        except CorrectionError as err:
            if not SCENE_REFUSALS.search(str(err)):
                refused[sentence].append(str(err))
    assert not refused, list(refused.items())[:5]
    assert len(sentences) > 5000 and any(" and " in s for s in sentences)


def test_every_template_is_in_the_model_and_teaching_is_too(scene):
    _, vocabulary = scene
    templates = model_templates(vocabulary)
    assert set(CORRECTION_TEMPLATES + TEACHING_TEMPLATES) <= set(templates)
    assert not [t for t in templates if "<number> <unit>" in t]
    assert "<taught>" not in " ".join(model_templates(vocabulary, teaching=False))
    corpus = {s for s, _ in training_sentences(vocabulary)}
    assert {p for p in TAUGHT_PHRASES if any(s.startswith(f"{p} means") for s in corpus)} == set(TAUGHT_PHRASES)
    assert set(COMPOUND_PARTS) == {"speed", "height", "side", "depth"}
    assert set(model_slots(vocabulary)) >= {"distance", "taught", "object", "container", "side"}


def test_meaning_ignores_wording_but_not_what_is_said(scene):
    objects, _ = scene
    understand = understanding(CorrectionContext(objects=objects, object="red_cube"))
    assert understand("grasp it a bit lower") == understand("grab it a little lower") is not None
    assert understand("pick up the blue cube first") == understand("grab the blue cube first")
    assert understand("that goes in the box") == understand("that goes in the tray")  # one container: the tray
    assert understand("grasp it lower") != understand("grasp it higher")
    assert understand("two centimeters to the left") != understand("three centimeters to the left")
    assert understand("hover lower") != understand("grasp it lower")
    assert understand("the weather is lovely today") is None
    taught = understand("tidying up means putting every cube in the tray")
    assert taught is not None and taught != understand("clean up means putting every cube in the tray")


def test_meaning_without_a_scene_reads_a_definition_by_its_words():
    understand = understanding(CorrectionContext(object="object"))
    assert understand("tidying up means putting every cube in the tray") == (
        ("definition", "tidying up", "put every cube in the tray"),)
    assert understand("means putting every cube in the tray") is None
    assert understand("that goes in the tray") is not None


def _words(text: str):
    """A stand-in understanding: the sorted words of a text that has 'push' in it."""
    return tuple(sorted(text.split())) if "push" in text else None


NO_GRAMMAR = [None, None, None]


def test_verdict_is_sure_when_the_language_models_meaning_survives_the_perturbed_takes():
    verdict = decide(["push it further", "further push it", "push it further"], NO_GRAMMAR, _words)
    assert verdict.sure and verdict.text == "push it further" and verdict.source == "language model"
    assert verdict.votes == 3 and verdict.possible == 6 and verdict.confidence == 0.5
    assert not decide(["push it further", "push it less", "push it further"], NO_GRAMMAR, _words).sure


def test_verdict_counts_the_grammars_exact_match_as_a_take():
    lm = ["push it three centimetres further", "push it further", "push it three centimetres further"]
    exact = decide(lm, ["push it three centimeters further", None, None], _words)
    assert exact.sure and exact.source == "grammar" and exact.text == "push it three centimeters further"
    other_words = decide(lm, ["push three centimeters further it", None, None], _words)  # same meaning, other words
    assert not other_words.sure and other_words.did_you_mean == "push it three centimetres further"


def test_verdict_takes_a_stable_grammar_only_when_the_language_model_agrees_once():
    grammar = ["push it a bit further", "push it a bit further", "push it a bit further"]
    agreed = decide(["the white", "push it a bit further", None], grammar, _words)
    assert agreed.sure and agreed.source == "grammar" and agreed.text == "push it a bit further"
    assert agreed.votes == 4
    alone = decide(["the white", None, "good morning"], grammar, _words)
    assert not alone.sure and alone.did_you_mean == "push it a bit further"
    flips = decide(["push it a bit further", None, None], [*grammar[:2], "push it less"], _words)
    assert not flips.sure


def test_verdict_takes_the_grammar_where_the_language_model_is_unsure():
    grammar = ["push it less", "push it less", "push it less"]
    verdict = decide(["push it further", "push it further", "push it less"], grammar, _words)
    assert verdict.sure and verdict.text == "push it less" and verdict.votes == 4


def test_a_stable_grammar_vetoes_a_language_model_that_misheard_one_word_of_its_sentence():
    grammar = ["push it three centimeters further"] * 3
    misheard = decide(["push it three centimetres that"] * 3, grammar, _words)
    assert not misheard.sure and misheard.did_you_mean == "push it three centimeters further"
    other_phrasing = decide(["push it a lot further than that"] * 3, ["push it less"] * 3, _words)
    assert other_phrasing.sure and other_phrasing.text == "push it a lot further than that"


def test_verdict_offers_a_guess_only_when_there_is_a_correction_to_offer():
    unstable = decide(["the white the", "push it less", "the white"], ["push it a bit further", None, None], _words)
    assert not unstable.sure and unstable.did_you_mean == "push it less"
    nothing = decide(["the white the", None, "good morning"], NO_GRAMMAR, _words)
    assert not nothing.sure and nothing.did_you_mean is None and nothing.votes == 0
    silent = decide([None, None, None], NO_GRAMMAR, _words)
    assert silent.text == "" and not silent.sure


def test_same_words_ignores_spelling_variants_only():
    assert same_words("two centimetres to the left", "two centimeters to the left")
    assert not same_words("two centimeters to the left", "two centimeters to the right")
    assert not same_words(None, "slower") and not same_words("", "")
