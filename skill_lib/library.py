"""The skill library: skills by name, and retrieval of a skill from free text (MiniLM + FAISS).

Each skill is embedded several times: its full `embedding_text()` and each example phrasing on its own,
so a query that matches one phrasing closely finds the skill even if the other phrasings dilute the
combined text. A skill's score is the best score over its rows.

The index is cached on disk (`skills.faiss` + `manifest.json`) and reused while the skills' texts and
the model are unchanged, so starting a node does not load the model just to rebuild the same index.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from hardware.resources import atomic_write, data_dir
from skill_lib.embedding import Embedder, default_model_id, get_embedder
from skill_lib.spec import SkillSpec

log = logging.getLogger(__name__)

INDEX_FILE = "skills.faiss"
MANIFEST_FILE = "manifest.json"
#: bump when the layout of rows or the manifest changes
_FORMAT = 1


@dataclass(frozen=True)
class SkillMatch:
    skill: SkillSpec
    #: cosine similarity in [-1, 1]; higher is better
    score: float


class SkillLibrary:
    """A fixed set of skills, looked up by name or retrieved by meaning."""

    def __init__(self, skills: Iterable[SkillSpec], index_dir: Path | None = None,
                 embedder: Embedder | None = None, text_weight: float = 0.5) -> None:
        """`text_weight` blends a skill's full-text row into its score: (1-w)*best row + w*full text.

        0 scores a skill by its best row alone. MiniLM weighs object words heavily, so a query
        sharing "the cube" with one phrasing of the wrong skill can win on that row alone; the
        default 0.5 ranks better on the labelled paraphrases of tests/ and bench/retrieval.py, and
        scores unrelated queries lower (best 0.20 against 0.28).
        """
        if not 0.0 <= text_weight <= 1.0:
            raise ValueError(f"text_weight must be in [0, 1], got {text_weight}")
        self.text_weight = text_weight
        self._skills: dict[str, SkillSpec] = {}
        for spec in skills:
            if spec.name in self._skills:
                raise ValueError(f"duplicate skill name {spec.name!r}")
            self._skills[spec.name] = spec
        if not self._skills:
            raise ValueError("a SkillLibrary needs at least one skill")
        self.index_dir = Path(index_dir) if index_dir is not None else data_dir() / "skill_index"
        self._embedder = embedder
        # Rows are contiguous per skill: its full embedding_text() first, then each phrasing.
        # _starts[i] is skill i's first row, so per-skill maxima are one np.maximum.reduceat.
        self._specs = list(self._skills.values())
        self._texts: list[str] = []
        self._owners: list[int] = []
        starts = []
        for i, spec in enumerate(self._specs):
            starts.append(len(self._texts))
            for text in (spec.embedding_text(), *spec.phrasings):
                self._texts.append(text)
                self._owners.append(i)
        self._starts = np.asarray(starts, dtype=np.int64)
        #: True if the last load found a valid cached index (no skill texts were embedded)
        self.loaded_from_disk = False
        self._index = self._load() or self._build()

    # ----- lookup by name -------------------------------------------------------------------------
    def get(self, name: str) -> SkillSpec:
        try:
            return self._skills[name]
        except KeyError:
            raise KeyError(f"no skill {name!r}; known skills: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return list(self._skills)

    def __len__(self) -> int:
        return len(self._skills)

    def __iter__(self) -> Iterator[SkillSpec]:
        return iter(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._skills

    # ----- retrieval ------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """Loaded on first need: a valid cached index needs no model until the first query."""
        if self._embedder is None:
            self._embedder = get_embedder()
        return self._embedder

    def search(self, query: str, k: int = 5) -> list[SkillMatch]:
        """The k best skills for a query, best first, one entry per skill."""
        if not isinstance(query, str) or not query.strip():
            raise ValueError("cannot retrieve a skill for an empty query; give the task in words")
        return self.search_vector(self.embedder.encode([query.strip()])[0], k)

    def search_vector(self, vector: np.ndarray, k: int = 5) -> list[SkillMatch]:
        """As `search`, for a query already embedded (unit length, shape (dim,))."""
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        q = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        # tens of skills: scoring every row is cheap and makes the per-skill max exact
        scores, rows = self._index.search(q, self._index.ntotal)
        by_row = np.empty(self._index.ntotal, dtype=np.float32)
        by_row[rows[0]] = scores[0]
        per_skill = np.maximum.reduceat(by_row, self._starts)
        if self.text_weight:
            per_skill = (1.0 - self.text_weight) * per_skill + self.text_weight * by_row[self._starts]
        order = np.argsort(-per_skill, kind="stable")[:k]
        return [SkillMatch(self._specs[i], float(per_skill[i])) for i in order]

    def match(self, query: str, threshold: float = 0.45) -> SkillMatch | None:
        """The best skill if it scores at least `threshold`, else None: better to ask than to guess."""
        hits = self.search(query, k=1)
        return hits[0] if hits and hits[0].score >= threshold else None

    # ----- the on-disk index ----------------------------------------------------------------------
    def _manifest(self) -> dict:
        rows = json.dumps([[self._specs[o].name, t] for o, t in zip(self._owners, self._texts)],
                          ensure_ascii=False)
        return {
            "format": _FORMAT,
            "model_id": self._model_id(),
            "skills": self.names(),
            "texts_sha256": hashlib.sha256(rows.encode("utf-8")).hexdigest(),
            "rows": len(self._texts),
        }

    def _model_id(self) -> str:
        # Without a loaded embedder, assume the default one's id so a valid cache needs no model load.
        return self._embedder.model_id if self._embedder is not None else default_model_id()

    def _load(self) -> faiss.Index | None:
        """The cached index if it matches these skills and this model; None means rebuild."""
        index_path, manifest_path = self.index_dir / INDEX_FILE, self.index_dir / MANIFEST_FILE
        if not (index_path.is_file() and manifest_path.is_file()):
            return None
        try:
            saved = json.loads(manifest_path.read_text(encoding="utf-8"))
            data = index_path.read_bytes()
            expected = self._manifest()
            if not isinstance(saved, dict) or {k: saved.get(k) for k in expected} != expected:
                log.info("skill index in %s is stale (skills or model changed); rebuilding", self.index_dir)
                return None
            # the file hash ties the index to this manifest: a torn or edited file is never trusted
            if hashlib.sha256(data).hexdigest() != saved.get("index_sha256"):
                log.warning("skill index %s does not match its manifest; rebuilding", index_path)
                return None
            index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
            if index.ntotal != len(self._texts):
                log.warning("skill index %s has %d rows, expected %d; rebuilding",
                            index_path, index.ntotal, len(self._texts))
                return None
        # bad JSON raises ValueError, a bad FAISS file RuntimeError: both mean "rebuild", not "crash"
        except (OSError, ValueError, RuntimeError) as exc:
            log.warning("cannot read skill index in %s (%s); rebuilding", self.index_dir, exc)
            return None
        self.loaded_from_disk = True
        return index

    def _build(self) -> faiss.Index:
        vectors = self.embedder.encode(self._texts)
        index = faiss.IndexFlatIP(vectors.shape[1])  # inner product == cosine on unit vectors
        index.add(vectors)
        data = faiss.serialize_index(index).tobytes()
        manifest = {**self._manifest(), "index_sha256": hashlib.sha256(data).hexdigest()}
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            # index first, manifest last: a crash in between leaves a manifest whose hash no longer
            # matches, which the next load treats as stale
            atomic_write(self.index_dir / INDEX_FILE, data)
            atomic_write(self.index_dir / MANIFEST_FILE,
                          (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
        except OSError as exc:  # a read-only data dir costs a rebuild next time, not a failure now
            log.warning("cannot save skill index to %s: %s", self.index_dir, exc)
        self.loaded_from_disk = False
        return index
