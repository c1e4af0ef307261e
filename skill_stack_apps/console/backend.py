"""What the console drives: a backend runs tasks, takes corrections and e-stops, and keeps a ConsoleState the web
server shows. Two implementations: the in-process stack on a PyBullet arm (console/sim.py) and a client of the
ROS graph (console/ros.py). What they share is here: checking the operator's text, the correction store (list,
disable, delete), and speech: a WAV from the browser goes through the same offline recogniser as `skillstack
correct --audio`."""
from __future__ import annotations

import json
import logging
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping
from concurrent.futures import Future, TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from hardware.types import ObjectState
from planners.corrections.context import CorrectionError
from planners.corrections.live import LiveResult
from planners.corrections.memory.store import MEMORY_ERRORS, CorrectionStore
from planners.language import TextRules, text_problem
from planners.task_result import check_task_text
from skill_stack_apps.console.model import ConsoleState, CorrectionView, FrameBuffer, understood

log = logging.getLogger(__name__)

#: a correction as it arrives from the page (the ROS `corrections` topic takes the same)
MAX_CORRECTION_CHARS = 500
_CORRECTION_TEXT = TextRules(
    max_chars=MAX_CORRECTION_CHARS, printable_only=True, empty_first=True,
    not_text="a correction must be text, not {type}",
    too_long="the correction is too long ({length} characters, at most {max_chars})",
    non_text="the correction contains {count} control or non-text character(s); send plain text",
    empty='the correction is empty; say what to change, e.g. "2 cm to the left", "slower"')
#: how long POST /api/corrections waits for the running skill to take a correction before it answers "queued"
LIVE_WAIT_S = 5.0
#: records the API lists at most (newest first)
MAX_LISTED = 500


class ConsoleError(Exception):
    """A request the console refuses: the HTTP status and a one-line message for `{"error": ...}`;
    `did_you_mean`: speech heard, but not surely: the best guess, for the operator to confirm or edit."""

    def __init__(self, status: int, message: str, did_you_mean: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.did_you_mean = status, message, did_you_mean


def not_found(what: str) -> ConsoleError:
    return ConsoleError(404, what)


class Backend(ABC):
    """Runs tasks and corrections for the console. Every public method is safe to call from any thread."""

    mode: str

    def __init__(self, store: CorrectionStore, objects: Mapping[str, ObjectState], recogniser: str) -> None:
        from skill_stack_apps.commands.correct import RECOGNISERS

        if recogniser not in RECOGNISERS:
            store.close()
            raise ValueError(f"recogniser must be one of {', '.join(RECOGNISERS)}, got {recogniser!r}")
        self.state = ConsoleState(self.mode)
        self.frames = FrameBuffer()
        #: the correction store: the in-process stack's, or over ROS the scheduler's file on this machine
        self.store = store
        #: the scene's objects as last seen: the context of corrections given while idle, the voice grammar
        self.objects: Mapping[str, ObjectState] = objects
        #: how speech is heard (skill_stack_apps.commands.correct.RECOGNISERS)
        self.recogniser = recogniser
        self.last_task: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    @abstractmethod
    def start(self) -> None:
        """Start serving (the simulator, or the ROS client); returns once it can take requests."""

    def close(self) -> None:
        self.store.close()

    # -- tasks -----------------------------------------------------------------------------------
    def submit_task(self, text: Any) -> int:
        """Start a task; its id. ConsoleError 400 for bad text, 409 while another task runs or e-stopped."""
        problem = check_task_text(text)
        if problem is not None:
            raise ConsoleError(400, problem)
        running = self.state.running()
        if running is not None:
            raise ConsoleError(409, f"task {running.id} is still running ({running.task!r}); cancel it first")
        if self.state.estopped:
            raise ConsoleError(409, "the arm is e-stopped; reset the e-stop first")
        view = self.state.new_task(" ".join(str(text).split()))
        self.last_task = view.task
        self._start_task(view.id, view.task)
        return view.id

    @abstractmethod
    def _start_task(self, task_id: int, text: str) -> None: ...

    def task(self, task_id: str) -> dict[str, Any]:
        found = self.state.task_json(_task_id(task_id))
        if found is None:
            raise not_found(f"no task {task_id}")
        return found

    def cancel_task(self, task_id: str) -> dict[str, Any]:
        number = _task_id(task_id)
        with self.state.change():
            view = self.state.tasks.get(number)
            if view is None:
                raise not_found(f"no task {task_id}")
            if view.done:
                return view.to_json()
            view.cancel_requested = True
        self._cancel(number)
        return self.task(task_id)

    @abstractmethod
    def _cancel(self, task_id: int) -> None: ...

    # -- e-stop ----------------------------------------------------------------------------------
    @abstractmethod
    def estop(self) -> dict[str, Any]:
        """Stop the arm now; a running task fails. Returns {"estopped": bool}."""

    @abstractmethod
    def reset_estop(self) -> dict[str, Any]: ...

    # -- corrections -----------------------------------------------------------------------------
    def correct(self, text: Any, *, source: str = "console", heard: dict[str, Any] | None = None,
                task: Any = None) -> dict[str, Any]:
        """Distill and store a correction; while a task runs, the running skill applies it too (and its context
        is the running skill's). Idle, its context is `task`, else the last task. Returns the console's record
        of it (how it was understood, the stored records); ConsoleError 400/422 otherwise."""
        for what, value in (("correction", text), ("task", task)):
            problem = text_problem(value, _CORRECTION_TEXT) if what == "correction" or value is not None else None
            if problem is not None:
                raise ConsoleError(400, problem if what == "correction" else f"the context task: {problem}")
        text = " ".join(str(text).split())
        context_task = " ".join(task.split()) if isinstance(task, str) else self.last_task
        running = self.state.running()
        view = self.state.new_correction(text, source, heard=heard, task_id=running.id if running else None)
        try:
            future = self._correct(view, text, source, context_task)
            future.result(timeout=LIVE_WAIT_S)
        except FutureTimeout:  # a skill will take it; the page sees it change
            future.add_done_callback(lambda done: self._resolved(view, done))
            return view.to_json()
        except ConsoleError as err:
            self._rejected(view, err.message)
            raise
        self._resolved(view, future)
        if view.error is not None:
            raise ConsoleError(422, view.error)
        return view.to_json()

    @abstractmethod
    def _correct(self, view: CorrectionView, text: str, source: str, task: str | None) -> Future[LiveResult]:
        """Hand the correction to the running task, or store it in the context of `task`; a future of what
        became of it."""

    def _rejected(self, view: CorrectionView, error: str) -> None:
        with self.state.change():
            view.status, view.error, view.message = "rejected", error, f"not understood: {error}"

    def _resolved(self, view: CorrectionView, future: Future[LiveResult]) -> None:
        try:
            result = future.result()
        except Exception as err:  # a bug in distillation must not take the console down; the page says it
            log.exception("correction %r failed", view.text)
            self._rejected(view, f"internal error: {type(err).__name__}: {err}")
            return
        if result.error is not None:
            self._rejected(view, result.error)
            return
        with self.state.change():
            shown = result.stored or result.records
            view.skill, view.updates = result.skill, dict(result.updates)
            view.records = [understood(r) for r in shown]
            view.status = "applied" if result.updates else "stored" if result.stored else "understood"
            view.message = (f"applied to the running {result.skill} now: {json.dumps(result.updates)}"
                            if result.updates else "stored; it applies from the next matching skill or task")
            if result.not_stored:
                view.message += f" (not stored: {result.not_stored})"
                view.status = "applied" if result.updates else "rejected"
        self.memory_changed()

    def correct_audio(self, wav: bytes) -> dict[str, Any]:
        """A WAV recording of a spoken correction: transcribed offline, then as `correct`."""
        heard = self._transcribe(wav)
        return self.correct(heard["text"], source="voice", heard=heard)

    def _transcribe(self, wav: bytes) -> dict[str, Any]:
        try:
            from planners.voice.recogniser import AudioError, guess_of, transcribe_file
            from planners.voice.vocabulary import scene_vocabulary
        except ImportError as err:
            raise ConsoleError(501, f"voice input is not available in this install ({err}); "
                               "pip install -e '.[voice]'") from None
        from planners.corrections.context import CorrectionContext
        from planners.voice.meaning import hearing_context, understanding
        from skill_stack_apps.commands.correct import SKILL_NAMES, hears_with_open_vocabulary

        vocabulary = scene_vocabulary(dict(self.objects), SKILL_NAMES)
        # decodes are read as corrections of this scene, as the text will be (without it, "two centimetres on
        # the left" reads as a correction of an object called "on")
        understand = understanding(hearing_context(CorrectionContext(objects=dict(self.objects) or None)))
        with tempfile.TemporaryDirectory(prefix="skillstack-voice-") as folder:
            path = Path(folder) / "recording.wav"
            path.write_bytes(wav)
            try:
                transcript = transcribe_file(path, vocabulary, understand,
                                             open_vocabulary=hears_with_open_vocabulary(self.recogniser))
            except (AudioError, OSError, RuntimeError) as err:  # the voice errors name the file: name the upload
                raise ConsoleError(422, str(err).replace(str(path), "the recording"), guess_of(err)) from None
        if not transcript.text.strip():
            raise ConsoleError(422, "no speech recognised in the recording")
        return {"text": transcript.text, "confidence": transcript.confidence, "seconds": transcript.duration_s,
                "notes": list(transcript.notes), "heard_by": transcript.source}

    # -- the store -------------------------------------------------------------------------------
    def records(self) -> list[dict[str, Any]]:
        try:
            return [understood(r) for r in reversed(self.store.all()[-MAX_LISTED:])]
        except MEMORY_ERRORS as err:
            raise ConsoleError(503, f"the correction store is unavailable: {err}") from None

    def set_disabled(self, record_id: str, disabled: bool) -> dict[str, Any]:
        number = _record_id(record_id)
        if not self.store.set_disabled(number, disabled):
            raise not_found(f"no correction {record_id}")
        record = self.store.get(number)
        assert record is not None
        self.memory_changed()
        return understood(record)

    def delete_record(self, record_id: str) -> dict[str, Any]:
        number = _record_id(record_id)
        if not self.store.delete(number):
            raise not_found(f"no correction {record_id}")
        self.state.records_deleted([number])
        self.memory_changed()
        return {"deleted": number}

    def memory_changed(self) -> None:
        """Refresh the store's fingerprint in the state (the page reloads its list when it changes)."""
        try:
            fingerprint = self.store.fingerprint()
        except MEMORY_ERRORS:
            return
        if fingerprint != self.state.memory:
            with self.state.change():
                self.state.memory = dict(fingerprint)


def stored_now(store: CorrectionStore, text: str, source: str, objects: Mapping[str, ObjectState],
               task: str | None) -> LiveResult:
    """A correction given while no task runs: distilled in the last task's context and stored for the next
    matching skill or task (as the scheduler node does with one from its topic)."""
    from planners.corrections.context import CorrectionContext
    from planners.corrections.runtime import record_correction

    try:
        stored = record_correction(text, CorrectionContext(task=task, objects=dict(objects) or None, source=source),
                                   store)
    except CorrectionError as err:
        return LiveResult(text, error=str(err))
    except MEMORY_ERRORS as err:
        return LiveResult(text, error=f"not stored: the correction store is unavailable ({err})")
    return LiveResult(text, stored=stored, records=stored)


def done(result: LiveResult) -> Future[LiveResult]:
    future: Future[LiveResult] = Future()
    future.set_result(result)
    return future


def _number(text: str, what: str) -> int:
    try:
        number = int(text)
    except (TypeError, ValueError):
        raise not_found(f"no {what} {str(text)[:40]!r}: ids are numbers") from None
    if number < 1:
        raise not_found(f"no {what} {number}")
    return number


def _task_id(text: str) -> int:
    return _number(text, "task")


def _record_id(text: str) -> int:
    return _number(text, "correction")
