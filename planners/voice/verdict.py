"""Deciding what was said, from several decodes of one utterance: sure, or unsure with a best guess.

The language model hears phrasings the grammar cannot, and mishears more: with espeak-ng's voices its
posteriors were no guide (wrong transcripts scored as high as right ones). What separated them on the
development phrasings was stability: the utterance is decoded again played 10 % slower and 10 % faster
(PERTURBATIONS), by both searches, and a meaning that survives is one the audio supports; one that flips
was a close call. Two ways to be sure:
- the language model: all its takes mean the same, or all but one and the grammar heard the very same words
  as its as-recorded take (an exact match);
- the grammar: all its takes mean the same and a language-model take agrees. The grammar alone is never
  enough: it forces every utterance onto its nearest template, and on unseen phrasings it was consistently,
  stably wrong.
One veto: when the grammar's takes all agree on another meaning and its sentence shares most words with the
language model's (SIMILAR), the language model most likely misheard one word of a template ("push it three
centimetres that" for "... further", where espeak-ng's "further" sounded like "that"): unsure, and the
grammar's sentence is the guess offered.

On the development set (bench/voice.py --set dev: 11 unseen phrasings and 3 off-topic sentences, 12
renderings each) and the fixtures' phrasings with and without noise, this rule accepted no wrong correction.
"""
from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from planners.voice.grammar import normalize_phrase
from planners.voice.meaning import Understanding

#: playback rates of the decodes (1.0 first: the audio as recorded); 0.9 is 10 % slower
PERTURBATIONS = (1.0, 0.9, 1.1)
#: share of words in common (difflib's ratio over words) from which a stable grammar vetoes the language model
SIMILAR = 0.6
#: spellings the dictionary has twice; an exact match does not depend on which one a decoder chose
_SPELLINGS = {"centimetre": "centimeter", "centimetres": "centimeters", "millimetre": "millimeter",
              "millimetres": "millimeters", "metres": "meters", "metre": "meter"}


@dataclass(frozen=True)
class Verdict:
    #: what was heard: the language model's transcript, or the grammar's when that is what was taken; "" if nothing
    text: str
    sure: bool
    #: decodes whose transcript means what `text` means, of how many (both searches, every take)
    votes: int
    possible: int
    #: "language model" or "grammar": whose transcript `text` is
    source: str
    #: when not sure: the best guess that is a correction, to offer the operator ("did you mean ...?")
    did_you_mean: str | None = None

    @property
    def confidence(self) -> float:
        return self.votes / self.possible


def same_words(a: str | None, b: str | None) -> bool:
    """Whether two transcripts are the same words (spelling variants aside)."""
    return bool(a and b) and _spelled(a) == _spelled(b)


def _spelled(text: str | None) -> list[str]:
    return [_SPELLINGS.get(w, w) for w in normalize_phrase(text or "").split()]


def _overlap(a: str | None, b: str | None) -> float:
    return difflib.SequenceMatcher(None, _spelled(a), _spelled(b)).ratio()


def decide(lm_texts: Sequence[str | None], grammar_texts: Sequence[str | None], understand: Understanding) -> Verdict:
    """The verdict on one utterance: the language model's and the grammar's transcripts at PERTURBATIONS (the
    as-recorded take first; None where a search heard nothing, or the grammar no whole sentence)."""
    lm_meanings = [understand(t) if t else None for t in lm_texts]
    grammar_meanings = [understand(t) if t else None for t in grammar_texts]
    everything = lm_meanings + grammar_meanings

    def votes(meaning) -> int:
        return sum(1 for m in everything if m is not None and m == meaning)

    heard, meaning = lm_texts[0] or "", lm_meanings[0]
    exact = same_words(heard, grammar_texts[0])
    lm_sure = meaning is not None and sum(m == meaning for m in lm_meanings) + exact >= len(lm_texts)
    grammar_meaning = grammar_meanings[0]
    grammar_stable = grammar_meaning is not None and all(m == grammar_meaning for m in grammar_meanings)
    grammar_sure = grammar_stable and grammar_meaning in lm_meanings
    if lm_sure and grammar_stable and grammar_meaning != meaning and _overlap(heard, grammar_texts[0]) >= SIMILAR:
        return Verdict(heard, False, votes(meaning), len(everything), "language model", grammar_texts[0])
    if lm_sure:
        text, source = (grammar_texts[0], "grammar") if exact and grammar_texts[0] else (heard, "language model")
        return Verdict(text, True, votes(meaning), len(everything), source)
    if grammar_sure:
        return Verdict(grammar_texts[0] or "", True, votes(grammar_meaning), len(everything), "grammar")
    guesses = [t for t, m in zip([*lm_texts, *grammar_texts], everything) if t and m is not None]
    best = max(guesses, key=lambda t: votes(understand(t)), default=None)  # the first of the most agreed on
    return Verdict(heard, False, votes(meaning) if meaning is not None else 0, len(everything), "language model",
                   best)
