"""Moonshine in a worker process, replaced before the memory it leaks adds up.

moonshine-cpp 0.1.4 leaks on every decode, and the process that loaded it never gets the memory back
(measured 2026-12-01 in one process: 163 MB loaded, 555 MB after the first decode, then ~19 MB per decode of
the test fixtures, 1.1 GB after 30; freeing and reloading the model gives back only part). So the model lives
in a child process (`python -m planners.voice.moonshine_worker`), which is replaced after MAX_DECODES decodes
or once its resident memory passes MAX_RSS_MB: the caller's memory does not grow with the number of
utterances, the worker's stays near MAX_RSS_MB, and a replacement costs one model load (~1 s) every few
dozen decodes.

A worker that dies, or does not answer within its timeout, is killed and the decode is retried once in a
fresh one; a second failure is an AudioError that says so. A decode never waits without a timeout.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from planners.voice.audio import SAMPLE_RATE, AudioError
from planners.voice.moonshine import MISSING_PACKAGE

log = logging.getLogger(__name__)

#: decodes before the worker is replaced: ~1 GB of leak at ~19 MB per decode (the test fixtures), and one ~1 s
#: model load per 50 decodes (~3 % of their time); on the held-out bench's longer utterances MAX_RSS_MB came first
MAX_DECODES = 50
#: the worker is also replaced after a decode that leaves it above this (long utterances leak more)
MAX_RSS_MB = 1536.0
#: loading the model takes ~1 s on an idle machine; generous, as the machine may be busy training
START_TIMEOUT_S = 120.0
#: a decode's timeout: this plus DECODE_S_PER_AUDIO_S per second of audio (Moonshine base takes ~0.3 s per second
#: of audio on 2 vCPUs; the margin is for a loaded machine, not a normal decode)
DECODE_TIMEOUT_S, DECODE_S_PER_AUDIO_S = 30.0, 3.0
#: the package root, which the worker needs on its path to import this module
_ROOT = Path(__file__).resolve().parents[2]

__all__ = ["MoonshineWorker"]


class _WorkerLost(Exception):
    """The worker died or stopped answering: worth one retry in a fresh worker."""


class MoonshineWorker:
    """MoonshineTranscriber's interface (`transcribe(samples) -> str`), with the model in a worker process.
    Starting it waits until the model is loaded (an AudioError if it cannot be); calls are serialised."""

    def __init__(self, *, max_decodes: int = MAX_DECODES, max_rss_mb: float = MAX_RSS_MB,
                 start_timeout_s: float = START_TIMEOUT_S, decode_timeout_s: float | None = None) -> None:
        """`decode_timeout_s`: a decode's timeout; by default DECODE_TIMEOUT_S and DECODE_S_PER_AUDIO_S per
        second of audio."""
        if importlib.util.find_spec("moonshine_cpp") is None:  # said here: the worker's would be less direct
            raise AudioError(MISSING_PACKAGE)
        self.max_decodes, self.max_rss_mb = max_decodes, max_rss_mb
        self.start_timeout_s, self.decode_timeout_s = start_timeout_s, decode_timeout_s
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._connection: Connection | None = None
        self._ready = False
        self._decodes = 0
        #: workers started so far (replacements included), for tests and logs
        self.started = 0
        with self._lock:
            self._start()
            try:
                self._await_ready()
            except _WorkerLost as err:
                self._stop()
                raise AudioError(f"the open-vocabulary recogniser could not start: its worker {err}") from None

    @property
    def pid(self) -> int | None:
        """The current worker's process id (None between a failure and the next decode)."""
        return self._process.pid if self._process is not None else None

    def rss_mb(self) -> float | None:
        """The current worker's resident memory in MB (None without a worker, or off Linux)."""
        return _rss_mb(self.pid) if self.pid is not None else None

    def transcribe(self, samples: np.ndarray) -> str:
        """16 kHz mono int16 samples of one utterance -> the words heard, as MoonshineTranscriber.transcribe."""
        pcm = np.ascontiguousarray(samples, dtype="<i2").tobytes()
        timeout = self.decode_timeout_s
        if timeout is None:
            timeout = DECODE_TIMEOUT_S + DECODE_S_PER_AUDIO_S * samples.size / SAMPLE_RATE
        with self._lock:
            try:
                text = self._decode(pcm, timeout)
            except _WorkerLost as first:
                log.warning("voice: the Moonshine worker %s; retrying in a fresh worker", first)
                self._stop()
                try:
                    text = self._decode(pcm, timeout)
                except _WorkerLost as second:
                    self._stop()  # the next call starts afresh
                    raise AudioError(f"the open-vocabulary recogniser failed twice on this audio (its worker {first}; "
                                     f"then {second})") from None
            self._decodes += 1
            rss = self.rss_mb()
            if self._decodes >= self.max_decodes or (rss is not None and rss > self.max_rss_mb):
                # replaced now, not at the next call: the new one loads while the caller does other work
                log.info("voice: replacing the Moonshine worker after %d decodes (%s MB)", self._decodes,
                         "?" if rss is None else f"{rss:.0f}")
                self._stop()
                self._start()
            return text

    def close(self) -> None:
        with self._lock:
            self._stop()

    def __del__(self) -> None:
        if getattr(self, "_process", None) is not None:
            self._stop()

    def _start(self) -> None:
        """A new worker, loading the model; _await_ready waits for it."""
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(_ROOT), os.environ.get("PYTHONPATH"))))}
        try:
            # its stdout goes to our stderr: nothing the library prints may land in a command's --json output
            self._process = subprocess.Popen([sys.executable, "-m", "planners.voice.moonshine_worker",
                                              str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                                             stdin=subprocess.DEVNULL, stdout=2, env=env)
        except OSError as err:
            ours.close()
            raise AudioError(f"the open-vocabulary recogniser could not start its worker: {err}") from None
        finally:
            theirs.close()
        self._connection = Connection(ours.detach())
        self._ready, self._decodes = False, 0
        self.started += 1

    def _stop(self) -> None:
        """Kill the worker, if any (it holds nothing worth a graceful exit), and reap it."""
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            self._process.kill()
            self._process.wait()
        self._process, self._connection, self._ready = None, None, False

    def _receive(self, timeout: float, doing: str) -> tuple[str, str]:
        assert self._connection is not None and self._process is not None
        try:
            if not self._connection.poll(timeout):
                raise _WorkerLost(f"did not answer within {timeout:.3g} s while {doing}")
            kind, payload = self._connection.recv()
        except (EOFError, OSError):
            raise _WorkerLost(f"exited while {doing} ({_exit_status(self._process)})") from None
        if kind == "error":  # the worker is alive and said what is wrong: the same would happen again
            raise AudioError(payload)
        return kind, payload

    def _await_ready(self) -> None:
        try:
            self._receive(self.start_timeout_s, "loading the model")
        except AudioError:  # it cannot load the model (and has exited): no retry would help
            self._stop()
            raise
        self._ready = True

    def _decode(self, pcm: bytes, timeout: float) -> str:
        if self._process is None:
            self._start()
        if not self._ready:
            self._await_ready()
        assert self._connection is not None
        try:
            self._connection.send_bytes(pcm)
        except OSError:
            raise _WorkerLost(f"exited before decoding ({_exit_status(self._process)})") from None
        return self._receive(timeout, "decoding")[1]


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _exit_status(process: subprocess.Popen | None) -> str:
    code = None
    if process is not None:
        try:
            code = process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            pass
    if code is None:
        return "still running"
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


def _serve(fd: int) -> None:
    """The worker: load the model, say so, then answer each utterance's samples with its text until the
    parent closes the connection (or dies: the socket then ends too)."""
    from planners.voice.moonshine import MoonshineTranscriber  # here only: the parent never loads the model

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it then closes the socket
    connection = Connection(fd)
    try:
        transcriber = MoonshineTranscriber()
    except AudioError as err:
        connection.send(("error", str(err)))
        return
    connection.send(("ready", ""))
    while True:
        try:
            pcm = connection.recv_bytes()
        except EOFError:
            return
        try:
            connection.send(("text", transcriber.transcribe(np.frombuffer(pcm, "<i2"))))
        except AudioError as err:
            connection.send(("error", str(err)))


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
