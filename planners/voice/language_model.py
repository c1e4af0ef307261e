"""The recogniser's n-gram language model and pronunciation dictionary.

The model is estimated in-process from the phrasings of a scene's vocabulary (planners.voice.phrasings),
written as ARPA text and loaded into a pocketsphinx decoder as a second search beside the grammar. Nothing
is downloaded: pronunciations come from pocketsphinx's bundled dictionary, plus EXTRA_PRONUNCIATIONS for
the few words the phrasings need that it lacks. The decoder is given only the words it can hear: with the
whole 130 000-word dictionary, pocketsphinx took 3 s to set up a language-model search; with these, 10 ms.
"""
from __future__ import annotations

import functools
import logging
import os
import re
import tempfile
from collections.abc import Iterable

from planners.voice.ngram import arpa
from planners.voice.phrasings import training_sentences
from planners.voice.vocabulary import GrammarVocabulary

log = logging.getLogger(__name__)

#: the decoder's name for the language-model search (the grammar's is planners.voice.grammar.GRAMMAR_NAME)
LM_SEARCH = "phrasings"
ORDER = 3
#: how much of each history's probability is left to words never seen after it, as a share of Witten-Bell's
#: own (see planners.voice.ngram). At 1 the decoder wandered into word salad where espeak-ng's voices are
#: unclear ("push it three centimetres the the"). Its one-best transcript, on the development phrasings
#: (bench/voice.py --set dev): 57 of 132 right at 0.02 against 39 at 1; on the fixtures' phrasings (clean and
#: with noise) 49 of 64 against 35.
SPREAD = 0.02
#: words the phrasings use that the bundled dictionary lacks (CMUdict phones)
EXTRA_PRONUNCIATIONS = {"tidying": "T AY D IY IH NG"}


@functools.lru_cache(maxsize=1)
def _dictionary() -> dict[str, tuple[str, ...]]:
    """word -> its lines in pocketsphinx's bundled dictionary ("the DH AH", "the(2) DH IY"), and the extras."""
    import pocketsphinx

    lines: dict[str, list[str]] = {}
    with open(pocketsphinx.Config()["dict"], encoding="utf-8") as handle:
        for line in handle:
            word = line.split(" ", 1)[0]
            lines.setdefault(re.sub(r"\(\d+\)$", "", word), []).append(line.rstrip("\n"))
    for word, phones in EXTRA_PRONUNCIATIONS.items():
        lines.setdefault(word, [f"{word} {phones}"])
    return {word: tuple(entries) for word, entries in lines.items()}


def is_known_word(word: str) -> bool:
    """Whether the recogniser can say `word` (it has a pronunciation)."""
    return word in _dictionary()


def pronunciations(word: str) -> tuple[tuple[str, ...], ...]:
    """The phone sequences the dictionary gives `word` (none if it has no entry)."""
    return tuple(tuple(line.split()[1:]) for line in _dictionary().get(word, ()))


def write_dictionary(words: Iterable[str], path: str) -> None:
    """A pronunciation dictionary of just `words` (those known; others are left out)."""
    entries = _dictionary()
    with open(path, "w", encoding="utf-8") as out:
        out.writelines(f"{line}\n" for word in sorted(set(words)) for line in entries.get(word, ()))


def model_words(arpa_text: str) -> set[str]:
    """The words of an ARPA model (its unigrams, less <s> and </s>)."""
    section = arpa_text.split("\\1-grams:", 1)[1].split("\\2-grams:", 1)[0]
    return {parts[1] for line in section.splitlines() if len(parts := line.split("\t")) >= 2} - {"<s>", "</s>"}


def language_model_text(vocabulary: GrammarVocabulary) -> str:
    """The ARPA text of the vocabulary's language model (deterministic; about 0.5 s)."""
    return arpa(training_sentences(vocabulary), ORDER, spread=SPREAD)


def load_language_model(decoder, arpa_text: str) -> None:
    """Load the model into `decoder` as the search LM_SEARCH (not activated). pocketsphinx reads models from
    files only, so the text goes through a temporary file, removed at once."""
    handle, path = tempfile.mkstemp(suffix=".arpa", prefix="skill_stack_voice_")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(arpa_text)
        decoder.add_lm_file(LM_SEARCH, path)
    except (RuntimeError, ValueError) as err:  # a bug in the model, not bad audio: say so plainly
        raise RuntimeError(f"pocketsphinx rejected the correction language model: {err}") from err
    finally:
        os.unlink(path)
