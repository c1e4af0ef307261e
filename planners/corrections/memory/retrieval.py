"""Retrieval of stored corrections for a context: text similarity (MiniLM + FAISS) combined with
attribute gates and scores (skill, object category, colour, size) and, when both sides have one, visual
similarity; below a threshold it abstains, so an unrelated correction never leaks into a new task.

Gates come first because they are what makes a correction *about* something: a skill-level record
needs the same skill; an object-scope record needs the same category, colour and size; a category-scope
record the same category; a narrowed one (category+size, category+color) the category and that attribute.
Text similarity then ranks and thresholds what passes: MiniLM is good at "same task, other words" but poor
at "same words, other object", which the gates handle.

It scales with what matches, not with the store: the index is partitioned by the gates' necessary conditions
(kind, skill, object category), FAISS ranks only the partitions that can pass and returns the best TOP_K, and
only these are scored in Python. A write through `add` / `add_many` reaches the index and the record cache
without re-reading the store; one from elsewhere (another process, the fleet) comes from the store's change
feed (CorrectionStore.changes_since), which both follow from their own cursor.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hardware.arm import WorldView
from planners.corrections.memory.index import SYNC_CHUNK, CorrectionIndex, PartitionKey
from planners.corrections.memory.record import SCOPE_KEYS, CorrectionRecord, ObjectContext, describe_context
from planners.corrections.memory.store import CorrectionStore
from planners.language import FRAME_WORDS, content_words, normalize, same_word
from skill_lib.embedding import Embedder, get_embedder

#: below this combined score a correction is not applied
#: (calibrated in tests/planners/corrections/test_correction_retrieval.py)
ABSTAIN_THRESHOLD = 0.55
TEXT_WEIGHT, ATTRIBUTE_WEIGHT, VISUAL_WEIGHT = 0.5, 0.5, 0.3
#: a taught task applies above this text similarity between its phrase and the task, if _gate_task passes
#: (calibrated in tests/planners/corrections/test_taught_tasks.py)
TASK_THRESHOLD = 0.5
#: records that pass the pre-filter, scored per query (the closest by text); plenty for a few to apply
TOP_K = 64
#: with include_rejected, the closest records by text that the pre-filter dropped, logged with the reason
NEAR_MISSES = 5
#: HNSW beam for the near misses (logged, never applied: a rough top 5 of every record is enough)
NEAR_MISS_EF = 32


@dataclass(frozen=True)
class RetrievalQuery:
    """The context a skill (or a plan) is about to run in."""

    task: str | None = None
    skill: str | None = None
    object: ObjectContext | None = None
    #: the place target, for place
    target: ObjectContext | None = None
    visual: tuple[float, ...] | None = None
    #: "skill": parameter corrections for `skill`; "plan": plan rules about `objects`
    kind: str = "skill"
    #: for kind="plan": every object the plan involves
    objects: tuple[ObjectContext, ...] = ()

    def text(self) -> str:
        """Embedded like a record's context_text, without the correction part."""
        return describe_context(self.kind, self.skill, self.object, self.target, self.task)


@dataclass(frozen=True)
class RetrievedCorrection:
    record: CorrectionRecord
    score: float
    text_score: float
    attribute_score: float
    visual_score: float | None
    #: why it was retrieved (or rejected): gates passed or failed, the scores
    reason: str
    accepted: bool = True

    def summary(self) -> dict:
        """For the episode log."""
        return {"id": self.record.id, "text": self.record.text, "score": round(self.score, 3),
                "accepted": self.accepted, "reason": self.reason}


def colour_histogram(rgb: np.ndarray, bins: int = 8) -> tuple[float, ...]:
    """A small visual descriptor of an image crop: a hue histogram weighted by saturation, plus the
    share of grey pixels, L1-normalised. Robust to pose and to small crops; enough to tell a red cube
    from a blue one, which is what corrections need."""
    pixels = np.asarray(rgb, dtype=np.float32).reshape(-1, 3)[:, :3] / 255.0
    if pixels.size == 0:
        raise ValueError("empty image crop")
    high, low = pixels.max(axis=1), pixels.min(axis=1)
    chroma = high - low
    saturation = np.where(high > 0, chroma / np.maximum(high, 1e-6), 0.0)
    r, g, b = pixels.T
    safe = np.maximum(chroma, 1e-6)
    hue = np.where(high == r, ((g - b) / safe) % 6, np.where(high == g, (b - r) / safe + 2, (r - g) / safe + 4)) / 6
    hist = np.bincount(np.minimum((hue * bins).astype(int), bins - 1), weights=saturation, minlength=bins)
    grey = float(np.sum(1.0 - saturation))
    vec = np.append(hist, grey)
    return tuple(float(v) for v in vec / max(vec.sum(), 1e-9))


def visual_descriptor(world: WorldView, name: str, min_pixels: int = 20) -> tuple[float, ...] | None:
    """The colour histogram of `name` as the world's camera sees it; None when the world cannot cut it
    out (WorldView.object_pixels) or too little of it is visible."""
    pixels = world.object_pixels(name) if name in world.objects() else None
    return colour_histogram(pixels) if pixels is not None and len(pixels) >= min_pixels else None


def _visual_similarity(a: tuple[float, ...] | None, b: tuple[float, ...] | None) -> float | None:
    if a is None or b is None or len(a) != len(b):
        return None
    va, vb = np.asarray(a), np.asarray(b)
    norm = float(np.linalg.norm(va) * np.linalg.norm(vb))
    return float(va @ vb / norm) if norm > 0 else None


def _matches(want: dict | ObjectContext | None, obj: ObjectContext | None, keys: Iterable[str]) -> list[str]:
    """Attributes that differ between what a record wants and an object (empty: it matches)."""
    if want is None:
        return []
    if obj is None:
        return ["no object in context"]
    get = want.get if isinstance(want, dict) else (lambda k: getattr(want, k))
    return [f"{k} {get(k)} vs {getattr(obj, k)}" for k in keys if get(k) and get(k) != getattr(obj, k)]


def _gate_skill(record: CorrectionRecord, query: RetrievalQuery) -> tuple[list[str], float]:
    """(reasons it fails, attribute score) for a skill-level record."""
    if record.skill is not None and record.skill != query.skill:
        return [f"skill {record.skill} vs {query.skill}"], 0.0
    if record.target is not None and query.target is not None and record.target.category \
            and record.target.category != query.target.category:
        return [f"target {record.target.category} vs {query.target.category}"], 0.0
    if record.scope == "any" or record.object is None:
        return [], 0.5
    fails = _matches(record.object, query.object, SCOPE_KEYS[record.scope])
    if fails:
        return fails, 0.0
    if record.scope == "object":
        return [], 1.0
    same = [k for k in ("color", "size") if query.object and getattr(record.object, k) == getattr(query.object, k)]
    return [], 0.7 + 0.2 * ("color" in same) + 0.1 * ("size" in same)


def _gate_plan(record: CorrectionRecord, query: RetrievalQuery) -> tuple[list[str], float]:
    """A plan rule passes when the plan involves the objects the rule is about."""
    rule = record.rule
    assert rule is not None
    wanted = [rule.args.get("match")] if rule.type == "destination" else \
        [a.get("object") for a in (rule.args.get("first"), rule.args.get("then")) if a]
    for want in wanted:
        if want and not any(not _matches(want, o, ("category", "color", "size")) for o in query.objects):
            return [f"no {' '.join(str(v) for v in want.values() if v)} in the plan"], 0.0
    return [], 1.0


def _gate_task(record: CorrectionRecord, query: RetrievalQuery) -> tuple[list[str], float]:
    """A taught task applies to a task that says every concept word of its phrase ("tidy up the table" says
    "tidying up"; "clean up" does not) and nothing else but FRAME_WORDS and words of what it means ("tidy up
    the drawer" is not "tidying up" when tidying up is about the tray)."""
    assert record.rule is not None
    said = content_words(normalize(query.task or ""))
    phrase = content_words(normalize(record.rule.args["phrase"]))
    steps = content_words(normalize(record.rule.args["steps"]))
    missing = [w for w in phrase if not any(same_word(w, s) for s in said)]
    if missing:
        return [f"the task does not say {', '.join(repr(w) for w in missing)}"], 0.0
    extra = [w for w in said if w not in FRAME_WORDS and not any(same_word(w, p) for p in phrase + steps)]
    if extra:
        return [f"{', '.join(repr(w) for w in extra)} is not part of it"], 0.0
    return [], 1.0


def gate_partition(record: CorrectionRecord) -> PartitionKey:
    """The index partition of a record: what the gates need at the least (kind, skill, object category;
    "" = any skill, no category gate). A query searches only the partitions that may pass its gates."""
    category = "" if record.scope == "any" or record.object is None else (record.object.category or "")
    return (record.kind, record.skill or "", category)


def query_partitions(query: RetrievalQuery, present: Iterable[PartitionKey]) -> list[PartitionKey]:
    """The partitions whose records may pass the gates for this query (the gates still decide)."""
    if query.kind != "skill":
        return [p for p in present if p[0] == query.kind]
    category = query.object.category if query.object is not None else ""
    skills, categories = {"", query.skill or ""}, {"", category or ""}
    return [p for p in present if p[0] == "skill" and p[1] in skills and p[2] in categories]


class CorrectionMemory:
    """Store + index + scoring: the one object the scheduler and the CLI use."""

    def __init__(self, store: CorrectionStore, *, embedder: Embedder | None = None,
                 index: CorrectionIndex | None = None, threshold: float = ABSTAIN_THRESHOLD) -> None:
        self.store = store
        self._embedder = embedder
        self.index = index or CorrectionIndex(store, embedder=embedder, partition=gate_partition)
        self.threshold = threshold
        self._lock = threading.Lock()
        self._records: dict[int, CorrectionRecord] = {}  # enabled ones
        self._records_at: dict | None = None  # the store's fingerprint when the cache last read the feed
        self._records_cursor = 0  # and how far into the feed it read
        fleet_sync = getattr(store, "sync", None)  # a FleetStore: records pulled from the fleet reach the index
        if fleet_sync is not None:                  # in its sync thread, not at the next retrieval
            fleet_sync.on_change.append(self.index.ensure_current)

    @classmethod
    def open(cls, path: str | Path | None = None, **kwargs) -> CorrectionMemory:
        """The memory over a database file (default: data_dir()/corrections.db)."""
        return cls(CorrectionStore(path), **kwargs)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder()
        return self._embedder

    def add(self, record: CorrectionRecord) -> CorrectionRecord:
        return self.add_many([record])[0]

    def add_many(self, records: Iterable[CorrectionRecord], *, replacing: Iterable[int] = ()
                 ) -> list[CorrectionRecord]:
        """CorrectionStore.add_many, then the index and the record cache take the write directly (no read of
        the whole store: a new record is retrievable in milliseconds at a million records)."""
        replacing = list(replacing)
        before = self.store.fingerprint()
        stored = self.store.add_many(records, replacing=replacing)
        after = self.store.fingerprint()
        self.index.apply(before, after, stored, replacing)
        with self._lock:  # the same rule as the index: only if ours was the one write since
            if self._records_at == before and after["db_uid"] == before["db_uid"] and \
                    int(after["generation"]) == int(before["generation"]) + 1:
                for record_id in replacing:
                    self._records.pop(record_id, None)
                self._records.update({r.id: r for r in stored if r.id is not None and not r.disabled})
                self._records_at = after
        return stored

    def prepare(self, queries: Iterable[RetrievalQuery]) -> None:
        """Embed these contexts now, in one batch, so that retrieve() finds them in the query cache (the
        scheduler knows a plan's skill calls when it plans). Nothing to do while the memory, as last read,
        is empty; no store read, so nothing here can fail on a broken store."""
        if self._records:
            self.embedder.warm([q.text() for q in queries])

    def _current_records(self) -> dict[int, CorrectionRecord]:
        """The store's enabled records, read once and then only what changed (from the change feed)."""
        with self._lock:
            fingerprint = self.store.fingerprint()
            if fingerprint == self._records_at:
                return self._records
            was = self._records_at
            if was is None or fingerprint["db_uid"] != was["db_uid"] or \
                    int(fingerprint["generation"]) < int(was["generation"]):  # another or an older database
                self._records, self._records_cursor = {}, 0
            while True:
                changes, self._records_cursor = self.store.changes_since(self._records_cursor, SYNC_CHUNK)
                for change in changes:  # a disabled record drops out; enabled again, back in
                    if change.record is None or change.record.disabled:
                        self._records.pop(change.record_id, None)
                    else:
                        self._records[change.record_id] = change.record
                if len(changes) < SYNC_CHUNK:
                    break
            self._records_at = fingerprint
            return self._records

    def _score(self, record: CorrectionRecord, query: RetrievalQuery, text: float) -> RetrievedCorrection:
        if record.kind == "task":
            return self._score_task(record, query, text)
        gate = _gate_skill if record.kind == "skill" else _gate_plan
        fails, attribute = gate(record, query)
        visual = _visual_similarity(record.visual, query.visual)
        weights = TEXT_WEIGHT + ATTRIBUTE_WEIGHT + (VISUAL_WEIGHT if visual is not None else 0.0)
        score = (TEXT_WEIGHT * text + ATTRIBUTE_WEIGHT * attribute
                 + (VISUAL_WEIGHT * visual if visual is not None else 0.0)) / weights
        accepted = not fails and score >= self.threshold
        detail = f"text {text:.2f}, attributes {attribute:.2f}" + \
            (f", visual {visual:.2f}" if visual is not None else "") + f" -> {score:.2f}"
        if fails:
            reason = "rejected: " + "; ".join(fails)
        elif not accepted:
            reason = f"abstained: {detail} < {self.threshold:.2f}"
        else:
            reason = f"{record.scope} match: {detail}"
        return RetrievedCorrection(record, score, text, attribute, visual, reason, accepted)

    @staticmethod
    def _score_task(record: CorrectionRecord, query: RetrievalQuery, text: float) -> RetrievedCorrection:
        """A taught task: the phrase's text similarity alone, behind the word gate."""
        fails, _ = _gate_task(record, query)
        accepted = not fails and text >= TASK_THRESHOLD
        reason = ("rejected: " + "; ".join(fails) if fails else
                  f"abstained: text {text:.2f} < {TASK_THRESHOLD:.2f}" if not accepted else f"text {text:.2f}")
        return RetrievedCorrection(record, text, text, 0.0, None, reason, accepted)

    def retrieve(self, query: RetrievalQuery, *, include_rejected: bool = False) -> list[RetrievedCorrection]:
        """Corrections for this context, best first, above the threshold (plus, with include_rejected, the
        closest ones that were not accepted, marked so: what the episode log shows as 'considered')."""
        records = self._current_records()
        self.index.ensure_current()  # once per call: a store read each time
        partitions = query_partitions(query, self.index.partitions(sync=False))
        if not partitions and not (include_rejected and records):
            return []
        vector = self.embedder.encode([query.text()])[0]
        # disabled records stay in the index: ask for as many more as there are
        k = TOP_K + max(0, self.index.count(sync=False) - len(records))
        hits = self.index.search(vector, k, partitions, sync=False) if partitions else []
        texts = dict([(i, text) for i, text in hits if i in records][:TOP_K])
        if include_rejected:
            for record_id, text in self.index.search(vector, NEAR_MISSES, ef_search=NEAR_MISS_EF, sync=False):
                texts.setdefault(record_id, text)
        scored = [self._score(records[i], query, text) for i, text in texts.items()
                  if i in records and records[i].kind == query.kind]
        results = [r for r in scored if r.accepted or include_rejected]
        results.sort(key=lambda r: (not r.accepted, -r.score, r.record.id or 0))
        return results

    def close(self) -> None:
        self.index.flush()
        self.store.close()
