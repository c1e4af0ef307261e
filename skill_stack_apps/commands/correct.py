"""`skillstack correct "TEXT"`: distill an operator correction into a stored record (or `--audio FILE`);
`skillstack teach "<phrase> means <task>"`: the same, for a taught task only."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from skill_stack_apps.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, error
from planners.corrections.memory.record import SCOPES
from skill_lib.skills import default_skills

SKILL_NAMES = tuple(spec.name for spec in default_skills())
#: --recogniser: the agreement rule of Whisper and pocketsphinx (the default), or pocketsphinx alone
RECOGNISERS = ("agreement", "pocketsphinx")
DEFAULT_RECOGNISER = RECOGNISERS[0]


def hears_with_open_vocabulary(recogniser: str) -> bool:
    """Whether a --recogniser choice is planners.voice.recogniser's `open_vocabulary=True`."""
    return recogniser == "agreement"


def add_recogniser_option(parser: argparse.ArgumentParser, default: str | None = DEFAULT_RECOGNISER) -> None:
    parser.add_argument("--recogniser", choices=RECOGNISERS, default=default,
                        help="how speech is heard: 'agreement' (the default) takes a correction only when "
                             "Whisper and pocketsphinx support one meaning; 'pocketsphinx' alone is right less often "
                             "(README 'Voice corrections')")


def register(sub: argparse._SubParsersAction) -> None:
    correct = sub.add_parser("correct", help="teach the robot a correction (stored, retrieved next time)")
    correct.add_argument("text", nargs="?", help='e.g. "2 cm to the left", "grasp it lower", "that goes in the tray", '
                         '"tidying up means putting every cube in the tray"; "-" reads it from stdin')
    teach = sub.add_parser("teach", help="teach the robot what a phrase means (a correction of the form "
                           "'<phrase> means <task>')")
    teach.add_argument("text", nargs="?", help='e.g. "tidying up means putting every cube in the tray", '
                       '"a tower means stacking the large cubes"; "-" reads it from stdin')
    for parser, teaching in ((correct, False), (teach, True)):
        # with pocketsphinx alone, a taught phrase is heard only if its words are in its language model
        # (planners/voice/phrasings.py TAUGHT_PHRASES); others are taught by typing them
        parser.add_argument("--audio", type=Path,
                            help="a WAV file to transcribe instead of TEXT (offline recogniser)")
        add_recogniser_option(parser, default=None)  # None: not given (it applies to --audio only)
        parser.add_argument("--open-vocabulary", dest="recogniser", action="store_const", const=DEFAULT_RECOGNISER,
                            help="--recogniser agreement, the default now (kept for earlier commands)")
        parser.add_argument("--dry-run", action="store_true", help="show what would be stored; store nothing")
        parser.add_argument("--json", action="store_true", help="end with one JSON line describing the result")
        parser.add_argument("--scene", default="default",
                            help="scene whose objects are known (default: default); a taught task must plan in it")
        parser.add_argument("--db", help="correction store: a file or a postgresql:// URL (default: "
                            "$SKILL_STACK_MEMORY, else $SKILL_STACK_DATA/corrections.db)")
        parser.set_defaults(handler=cmd_correct, teach=teaching, task=None, skill=None, object=None, scope=None)
    correct.add_argument("--task", help="the task the correction is about")
    correct.add_argument("--skill", choices=SKILL_NAMES, help="the skill the correction is about")
    correct.add_argument("--object", help="the object it is about (name or description, e.g. red_cube)")
    correct.add_argument("--scope", choices=SCOPES,
                         help="apply to this object's attributes, its category (or a category narrowed to one "
                              "attribute), or anything (default: from the text)")


def _fail(message: str, as_json: bool, code: int = EXIT_USAGE, **extra) -> int:
    message = " ".join(str(message).split())  # one line, whatever the source
    error(message)
    if as_json:
        print(json.dumps({"error": message, "stored": False, **extra}))
    return code


def _transcribe(audio: Path, objects: dict, context, recogniser: str) -> tuple[str, float | None, str]:
    """The words of `audio`, heard with the language model and grammar of this scene (and Whisper, with the
    agreement `recogniser`) and checked as a correction given in `context`, their confidence, and what decided
    (planners.voice.recogniser.Transcript.source). Raises ValueError with a one-line reason
    (planners.voice.recogniser.UnsureError: "did you mean ...?")."""
    try:
        from planners.voice.recogniser import transcribe_file
    except ImportError as err:
        raise ValueError(f"voice input is not available in this install ({err})") from None
    from planners.voice.meaning import hearing_context, understanding
    from planners.voice.vocabulary import scene_vocabulary

    vocabulary = scene_vocabulary(objects, SKILL_NAMES)
    try:  # silent, corrupt, unsure audio: an AudioError (a ValueError), whose message names the file
        transcript = transcribe_file(audio, vocabulary, understanding(hearing_context(context)),
                                     open_vocabulary=hears_with_open_vocabulary(recogniser))
    except (OSError, RuntimeError) as err:
        raise ValueError(str(err)) from None
    if not transcript.text or not transcript.text.strip():
        raise ValueError(f"no speech recognised in {audio}")
    return transcript.text, transcript.confidence, transcript.source


def cmd_correct(args: argparse.Namespace) -> int:
    from hardware.scene import SceneError, nominal_objects
    from planners.corrections.context import CorrectionContext, CorrectionError
    from planners.corrections.definitions import EXAMPLE, match_definition
    from planners.language import normalize
    from planners.corrections.runtime import record_correction
    from planners.corrections.memory.store import CorrectionStore, StoreError

    if args.teach and args.text is None and args.audio is None:
        return _fail(f"give the definition as TEXT or --audio FILE, e.g. skillstack teach {EXAMPLE}", args.json)
    if (args.text is None) == (args.audio is None):
        return _fail('give the correction as TEXT or --audio FILE (one of them), e.g. '
                     'skillstack correct "2 cm to the left"', args.json)
    try:
        objects = nominal_objects(args.scene)
    except SceneError as err:
        return _fail(str(err), args.json)
    text, confidence, source, heard_by = args.text, None, "cli", None
    if text == "-":  # piped from another tool (a chat front end, a recogniser of the operator's choice)
        text = sys.stdin.read().strip()
        if not text:
            return _fail("no correction on stdin", args.json)
    if args.recogniser is not None and args.audio is None:
        return _fail("--recogniser applies to --audio", args.json)
    if args.audio is not None:
        heard_context = CorrectionContext(task=args.task, skill=args.skill, object=args.object, objects=objects,
                                          scope=args.scope)
        try:
            text, confidence, heard_by = _transcribe(args.audio, objects, heard_context,
                                                     args.recogniser or DEFAULT_RECOGNISER)
        except ValueError as err:
            from planners.voice.recogniser import guess_of

            offered: dict[str, Any] = {"did_you_mean": guess} if (guess := guess_of(err)) else {}
            return _fail(str(err), args.json, text=None, **offered)
        source = "voice"
        print(f'heard: "{text}"' + (f" (confidence {confidence:.2f})" if confidence is not None else ""))
    if args.teach and match_definition(normalize(text)) is None:
        return _fail(f'teach says what a phrase means, e.g. skillstack teach {EXAMPLE}; got "{text[:200]}"',
                     args.json, text=text[:200])
    context = CorrectionContext(task=args.task, skill=args.skill, object=args.object, objects=objects,
                                source=source, scope=args.scope)
    shown_text = text if len(text) <= 200 else text[:200] + "..."
    try:
        store = None if args.dry_run else CorrectionStore(args.db)
        records = record_correction(text, context, store, dry_run=args.dry_run)
    except CorrectionError as err:
        return _fail(str(err), args.json, text=shown_text)
    except StoreError as err:
        return _fail(str(err), args.json, code=EXIT_FAILED, text=shown_text)
    if store is not None:
        store.close()
    for r in records:
        where = f" for the {r.object.describe()}" if r.object is not None else ""
        status = "would store" if args.dry_run else f"stored #{r.id}"
        print(f"{status}: {r.kind} {json.dumps(r.knowledge)} (scope {r.scope}{where})")
        if r.note:
            print(f"  note: {r.note}")
    if args.json:
        knowledge = [r.knowledge for r in records]
        print(json.dumps({
            "text": text, "kind": records[0].kind, "knowledge": knowledge[0] if len(knowledge) == 1 else knowledge,
            "stored": not args.dry_run, "id": records[0].id, "ids": [r.id for r in records], "source": source,
            "confidence": confidence, "heard_by": heard_by, "records": [r.to_dict() for r in records],
        }))
    return EXIT_OK
