"""Episode logs: one JSON object per line, flushed as written so a crash loses at most one line. Listeners get
each record as it is written (a recording of the run, the scheduler node's events topic); without a path the
log only feeds its listeners."""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np


def jsonable(value: Any) -> Any:
    """json.dumps' `default` for the numpy values records carry."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):  # np.float64, np.int64, np.bool_ (a goal check's verdict), ...
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


#: called with each record as written: {"time": wall-clock seconds, "event": kind, ...}
Listener = Callable[[dict[str, Any]], object]


class EpisodeLog:
    def __init__(self, path: str | Path | None, listeners: Sequence[Listener] = ()) -> None:
        self.path = Path(path) if path is not None else None
        self.listeners: list[Listener] = list(listeners)
        self._file: IO[str] | None = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")

    def write(self, event: str, **data: Any) -> None:
        record = {"time": round(time.time(), 3), "event": event, **data}
        if self._file is not None:
            self._file.write(json.dumps(record, default=jsonable) + "\n")
            self._file.flush()
        for listener in self.listeners:
            listener(record)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> EpisodeLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """All complete records of a log (a torn last line from a crash is skipped)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
