"""Deciding what was said from two recognisers that fail differently: the open-vocabulary one
(planners.voice.whisper: hears any English, mishears words into other English words) and pocketsphinx's
vocabulary-constrained decodes (planners.voice.verdict: the language model and the grammar at three playback
rates; they hear only correction words, so they force anything onto the nearest correction).

The open recogniser hears the utterance as recorded and played 10 % slower and faster; pocketsphinx's language
model and grammar hear it as recorded. A meaning is supported when
- most of the open recogniser's takes mean it (stable: a close call flips between takes), unless it is a taught
  definition (its phrase is words only the open recogniser hears, and its takes may all mishear it alike); or
- an open take means it, and a pocketsphinx decode means the same; or
- an open take, with its words that are no correction words replaced by a pocketsphinx decode's words in the
  same place *that sound alike* (CMUdict phones, SOUND_ALIKE), means it, and so does that decode. This hears
  homophones and near-misses of the vocabulary ("write a little bit" for "right a little bit", "hummer a lot
  lower" for "hover ..."), but never overrides a correction word the open recogniser heard: "slower"
  against "lower" is a disagreement, not a repair; or
- pocketsphinx's language model and grammar heard the very same words (an exact match of a template), as in
  planners.voice.verdict; the open recogniser mishears short template phrasings ("brass blower" for "grasp
  lower") that pocketsphinx's grammar is built for.
Exactly one supported meaning is taken, if no open take means another correction; two that differ, or none,
or an open take that means another, is unsure: refused, with the best guess offered: refusing is always
allowed, guessing wrong is not. The rule was built on the development phrasings (bench/voice.py --set dev) with
Moonshine base as the open recogniser (no wrong correction there); with Whisper it took one there, a definition
heard alike in every take, hence the clause on definitions. Pocketsphinx's slower and faster takes added one
right answer in 132, for three times the decoding, so they are not used.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Sequence

from planners.voice.meaning import Meaning, Understanding, teaches
from planners.voice.verdict import Verdict, same_words

#: most phone edits, as a share of the longer phone sequence, for two word runs to "sound alike" (write/right:
#: 0; hummer/hover: 1 of 4); grasp/rest (3 of 5) do not
SOUND_ALIKE = 0.34
#: whose transcript a Verdict's text is
SOURCE = "open vocabulary"

#: word -> its phone sequences (planners.voice.language_model.pronunciations)
Pronounce = Callable[[str], Sequence[Sequence[str]]]


def clean(text: str | None) -> str:
    """An open-vocabulary transcript as the constrained decoders write: lower case, no punctuation (a decimal
    point between digits kept), single spaces."""
    text = (text or "").lower().replace("\u2019", "'")
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)
    text = re.sub(r"[^\w\s'.+-]|(?<!\w)'|'(?!\w)", " ", text)
    return " ".join(text.split())


def _distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Edit distance between two phone sequences."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def _phone_runs(words: Sequence[str], pronounce: Pronounce) -> list[tuple[str, ...]]:
    """Every way to say a run of words (each word's variants, concatenated); none if a word has no entry."""
    runs: list[tuple[str, ...]] = [()]
    for word in words:
        variants = pronounce(word)
        if not variants:
            return []
        runs = [run + tuple(v) for run in runs for v in variants][:64]
    return runs


def sound_alike(a: Sequence[str], b: Sequence[str], pronounce: Pronounce) -> bool:
    """Whether two runs of words sound alike (some pronunciations within SOUND_ALIKE of each other)."""
    for x in _phone_runs(a, pronounce):
        for y in _phone_runs(b, pronounce):
            if _distance(x, y) <= SOUND_ALIKE * max(len(x), len(y), 1):
                return True
    return False


def repaired(heard: str, constrained: str, words: Collection[str], pronounce: Pronounce) -> str:
    """The open transcript `heard` with each run of words that are not in `words` (the correction vocabulary),
    where the constrained transcript has other words that sound alike, replaced by those words. Nothing is
    inserted, and a vocabulary word is never replaced."""
    a, b = heard.split(), constrained.split()
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        ours, theirs = a[i1:i2], b[j1:j2]
        if op == "replace" and not any(w in words for w in ours) and sound_alike(ours, theirs, pronounce):
            out.extend(theirs)
        else:
            out.extend(ours)  # equal, a disagreement, or words only one side heard: the open recogniser's
    return " ".join(out)


def decide(heard: Sequence[str | None], lm_texts: Sequence[str | None], grammar_texts: Sequence[str | None],
           understand: Understanding, words: Collection[str], pronounce: Pronounce) -> Verdict:
    """The verdict on one utterance from the open recogniser's transcripts `heard` (one per playback rate of
    planners.voice.verdict.PERTURBATIONS, as recorded first) and pocketsphinx's as recorded (the first of
    `lm_texts` and of `grammar_texts`; None where nothing was heard; other takes are not used)."""
    takes = [clean(t) for t in heard]
    constrained = [t for t in (*lm_texts[:1], *grammar_texts[:1]) if t]
    constrained_meanings = [understand(t) for t in constrained]
    take_meanings = [understand(t) if t else None for t in takes]
    # (text, meaning) the open transcripts can be read as: each take, and each take repaired by each decode
    readings: list[tuple[str, Meaning]] = []
    for text in dict.fromkeys(takes + [repaired(t, c, words, pronounce) for t in takes if t for c in constrained]):
        if text and (meaning := understand(text)) is not None:
            readings.append((text, meaning))
    supported = {m for _, m in readings if m in constrained_meanings}  # both recognisers
    # stable; not for a taught definition, whose phrase is new words that only the open recogniser hears and all
    # its takes may mishear alike ("that's how it means ..." for "a tower means ...")
    supported |= {m for m in take_meanings
                  if m is not None and take_meanings.count(m) * 2 > len(takes) and not teaches(m)}
    if lm_texts and grammar_texts and same_words(lm_texts[0], grammar_texts[0]):  # an exact match of a template
        supported |= {m for m in constrained_meanings[:1] if m is not None}

    def votes(meaning: Meaning | None) -> int:
        return sum(1 for m in take_meanings + constrained_meanings if m is not None and m == meaning)

    possible = len(takes) + len(constrained)
    # one supported meaning, and no open take that means another correction (conflicting takes: a close call)
    if len(supported) == 1 and all(m is None or m in supported for m in take_meanings):
        meaning = supported.pop()
        # the open recogniser's reading (the as-recorded take's, if it has one), else the exact match's words
        text = next((t for t, m in readings if m == meaning), constrained[0])
        return Verdict(text, True, votes(meaning), possible, SOURCE)
    # unsure: offer what most hearings agree on
    guesses = readings + [(t, m) for t, m in zip(constrained, constrained_meanings) if m is not None]
    best = max(guesses, key=lambda g: votes(g[1]), default=None)
    return Verdict(takes[0] if takes else "", False, votes(best[1]) if best else 0, possible, SOURCE,
                   best[0] if best else None)
