"""A JSGF grammar for the offline recogniser, built from the correction vocabulary.

Constraining pocketsphinx to the phrases `distill` understands is what makes it usable: with its default
language model it mishears short commands badly, with a grammar it picks the closest correction.

Templates become alternatives of one public rule; each `<slot>` becomes a private rule whose alternatives
are the slot's values. Every word must be in the recogniser's pronunciation dictionary, or the decoder
refuses the grammar; words are normalised first (lower case, digits spelled out, "move_to" -> "move to"),
and a slot value or template that still has an unknown word is dropped, with a warning naming the word.
Dropping is deterministic (same vocabulary and dictionary -> same grammar text).
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from planners.language import number_words
from planners.voice.vocabulary import GrammarVocabulary, template_slots

log = logging.getLogger(__name__)

GRAMMAR_NAME = "corrections"
TOP_RULE = "correction"
#: characters that carry no sound: the punctuation a scene description or skill name may contain
_SEPARATORS = re.compile(r"[_\-/,.;:!?()\"]+")


def normalize_phrase(phrase: str) -> str:
    """Lower case, separators as spaces, numbers as words; `<slot>` references are kept."""
    text = _SEPARATORS.sub(" ", phrase.lower())
    text = re.sub(r"\d+", lambda m: f" {number_words(int(m.group()))} " if len(m.group()) <= 3 else m.group(),
                  text)
    return " ".join(text.split())


@dataclass(frozen=True)
class CorrectionGrammar:
    #: the JSGF text (grammar `corrections`, public rule `<correction>`)
    jsgf: str
    #: every word the grammar can produce (all in the dictionary it was checked against)
    words: frozenset[str]
    #: words that were not in the dictionary, so their slot values/templates were left out
    unknown_words: tuple[str, ...]
    #: the templates that made it into the grammar, normalised
    templates: tuple[str, ...]
    #: slot name -> the values that made it into the grammar (only slots some template uses)
    slot_values: dict[str, tuple[str, ...]]

    @cached_property
    def _sentence(self) -> re.Pattern[str]:
        def template_regex(template: str) -> str:
            parts = (f"(?:{'|'.join(map(re.escape, self.slot_values[p[1:-1]]))})" if p.startswith("<")
                     else re.escape(p) for p in template.split())
            return " ".join(parts)
        return re.compile("|".join(f"(?:{template_regex(t)})" for t in self.templates))

    def accepts(self, text: str) -> bool:
        """Whether `text` is a whole sentence of the grammar. The decoder returns its best partial path
        ("pick up the") when no sentence fits the audio; such a text is not a correction."""
        return self._sentence.fullmatch(" ".join(text.split())) is not None


def _rule_name(slot: str) -> str:
    return "slot_" + re.sub(r"\W", "_", slot.lower())


def _unknown(phrase: str, is_known: Callable[[str], bool]) -> list[str]:
    return [w for w in re.sub(r"<\w+>", " ", phrase).split() if not is_known(w)]


def build_grammar(vocabulary: GrammarVocabulary, is_known_word: Callable[[str], bool]) -> CorrectionGrammar:
    """The JSGF grammar of `vocabulary`, restricted to words for which `is_known_word` is true (pass the
    decoder's dictionary lookup: `lambda w: decoder.lookup_word(w) is not None`).

    Raises ValueError if a template uses a slot the vocabulary does not define, or nothing is left."""
    unknown: dict[str, None] = {}  # ordered set: the warning lists words in the order they were met

    def keep(phrase: str, what: str) -> bool:
        missing = _unknown(phrase, is_known_word)
        for word in missing:
            unknown.setdefault(word)
        if missing:
            log.warning("voice grammar: left out %s '%s': %s not in the recogniser's dictionary",
                        what, phrase, ", ".join(repr(w) for w in missing))
        return not missing

    normalized = tuple(dict.fromkeys(t for t in (normalize_phrase(p) for p in vocabulary.phrases) if t))
    referenced = {s for t in normalized for s in template_slots(t)}
    if undefined := sorted(referenced - set(vocabulary.slots)):
        raise ValueError(f"templates use slot(s) {', '.join(undefined)} that the vocabulary does not define")
    slot_values: dict[str, tuple[str, ...]] = {}
    for slot in sorted(referenced):  # slots no template uses cannot be spoken: not checked, not warned about
        values = dict.fromkeys(normalize_phrase(v) for v in vocabulary.slots[slot])
        slot_values[slot] = tuple(v for v in values if v and keep(v, f"<{slot}> value"))
    templates: list[str] = []
    for template in normalized:
        if empty := [s for s in template_slots(template) if not slot_values[s]]:
            log.warning("voice grammar: left out template '%s': slot(s) %s have no speakable value",
                        template, ", ".join(empty))
            continue
        if keep(template, "template"):
            templates.append(template)
    if not templates:
        raise ValueError("no correction template is speakable with the recogniser's dictionary")

    used = sorted({s for t in templates for s in template_slots(t)})
    alternatives = [re.sub(r"<(\w+)>", lambda m: f"<{_rule_name(m.group(1))}>", t) for t in templates]
    lines = ["#JSGF V1.0;", f"grammar {GRAMMAR_NAME};", "",
             f"public <{TOP_RULE}> = " + "\n    | ".join(f"( {a} )" for a in alternatives) + " ;"]
    lines += [f"<{_rule_name(s)}> = " + " | ".join(f"( {v} )" for v in slot_values[s]) + " ;" for s in used]
    words = frozenset(w for t in templates for w in re.sub(r"<\w+>", " ", t).split()) | frozenset(
        w for s in used for v in slot_values[s] for w in v.split())
    return CorrectionGrammar(jsgf="\n".join(lines) + "\n", words=words, unknown_words=tuple(unknown),
                             templates=tuple(templates), slot_values={s: slot_values[s] for s in used})
