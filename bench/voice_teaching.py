"""Teaching tasks by voice with phrases the recognisers were never built from (issue #15 item 6, #17 item 4).

Each definition is spoken by espeak-ng (two voices, 150 words/min, clean) and heard by the default recogniser (the
agreement rule) in the default scene, as `skillstack teach --audio F` and the console hear it. Outcomes:
- taught, right: taken, and the same in effect as the typed definition (the phrase's content words and the
  steps' plan in the scene: "five cm" plans as "5 cm", "the small tower" is matched as "a small tower");
- taught, WRONG: taken, and something else: a wrong record (what must not happen);
- unsure, guess right / guess other: refused with a "did you mean" that is / is not the definition in effect (the
  console puts the guess in the correction box: one click, or an edit first);
- refused: nothing offered.

    python bench/voice_teaching.py

The definitions were written for the first trial of this (2026-11-30, session 20's BENCHMARKS paragraph) before
any of them was heard, and are not to be tuned against. Needs espeak-ng and sox.
"""
from __future__ import annotations

import datetime
import platform
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/voice.py, beside this file

from hardware.scene import nominal_objects  # noqa: E402
from planners.corrections.context import CorrectionContext  # noqa: E402
from planners.corrections.definitions import as_task, match_definition  # noqa: E402
from planners.language import content_words, normalize  # noqa: E402
from planners.parser import parse_task  # noqa: E402
from planners.plan import TaskError  # noqa: E402
from planners.voice.meaning import hearing_context, understanding  # noqa: E402
from planners.voice.recogniser import AudioError, UnsureError, transcribe_file  # noqa: E402
from planners.voice.vocabulary import scene_vocabulary  # noqa: E402
from skill_lib.skills import default_skills  # noqa: E402
from voice import speak  # noqa: E402

DEFINITIONS = (
    "a pyramid means stacking the large cubes", "cleaning up means putting every cube in the tray",
    "the morning routine means putting the red cube in the tray", "a small tower means stacking the small cubes",
    "sorting means putting the red cube in the tray", "a gift means putting the blue cube in the tray",
    "the usual means pushing the red cube 5 cm to the left",
    "a ladder means stacking the blue cube on the green cube",
)
VOICES, WPM = ("en-us", "en-gb"), 150


def in_effect(text: str, objects: dict) -> tuple | None:
    """What a definition does: its phrase's content words and its steps' skill calls in the scene (None: it is
    not a definition that plans)."""
    definition = match_definition(normalize(text))
    if definition is None:
        return None
    phrase, meaning = definition
    try:
        calls = parse_task(as_task(meaning), objects).calls
    except TaskError:
        return None
    return tuple(content_words(normalize(phrase))), tuple(map(str, calls))


def main() -> None:
    objects = nominal_objects("default")
    vocabulary = scene_vocabulary(objects, tuple(spec.name for spec in default_skills()))
    understand = understanding(hearing_context(CorrectionContext(objects=objects)))
    print(f"bench/voice_teaching.py: {datetime.datetime.now().isoformat(timespec='seconds')}, {platform.node()}")
    outcomes: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as folder:
        for i, text in enumerate(DEFINITIONS):
            truth = in_effect(text, objects)
            assert truth is not None, text
            for voice in VOICES:
                path = Path(folder) / f"{i}_{voice}.wav"
                speak(text, voice, WPM, path)
                try:
                    heard = transcribe_file(path, vocabulary, understand).text
                    outcome = "taught, right" if in_effect(heard, objects) == truth else "taught, WRONG"
                except UnsureError as err:
                    heard = err.transcript.did_you_mean or ""
                    outcome = ("unsure, no guess" if not heard else
                               "unsure, guess right" if in_effect(heard, objects) == truth else "unsure, guess other")
                except AudioError as err:
                    heard, outcome = str(err).replace(str(path), "the recording"), "refused"
                outcomes[outcome] += 1
                print(f"  {voice} '{text}': {outcome}: '{heard}'", flush=True)
    print(f"{len(DEFINITIONS)} definitions x {len(VOICES)} voices: " + ", ".join(
        f"{k} {outcomes[k]}" for k in ("taught, right", "taught, WRONG", "unsure, guess right", "unsure, guess other",
                                       "unsure, no guess", "refused")))


if __name__ == "__main__":
    main()
