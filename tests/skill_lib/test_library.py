"""Skill retrieval with the real MiniLM model and real FAISS (no fakes): accuracy, abstention, the disk cache."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from skill_lib.embedding import Embedder, get_embedder
from skill_lib.library import INDEX_FILE, MANIFEST_FILE, SkillLibrary, SkillMatch
from skill_lib.spec import SkillSpec


def _no_policy():
    raise AssertionError("retrieval tests never run a policy")


def _skill(name: str, description: str, *phrasings: str) -> SkillSpec:
    return SkillSpec(name=name, description=description, phrasings=phrasings, params=(),
                     preconditions=(), postconditions=(), timeout_s=10.0, scripted=_no_policy)


SKILLS = (
    _skill("pick", "pick up an object with the gripper", "pick up the cube", "grab the block", "lift the object"),
    _skill("place", "place the held object on a surface or into a container",
           "put it in the tray", "set it down on the box"),
    _skill("push", "push an object along the table in a direction", "push the cube to the left",
           "shove the block forward"),
    _skill("move_to", "move the gripper to a position above a target without touching it",
           "go to the tray", "move above the red cube", "hover over the box"),
    _skill("open_gripper", "open the gripper fingers to release whatever they hold",
           "open the gripper", "let go", "release it"),
    _skill("close_gripper", "close the gripper fingers to grasp what is between them",
           "close the gripper", "squeeze the fingers shut", "close your hand"),
)

# Paraphrases that share no full phrasing with the skill. Each was checked to win by a margin of at
# least ~0.02 cosine; MiniLM leans on object words, so e.g. "lift the blue cube" goes to move_to
# ("move above the red cube") and "open your hand" to close_gripper ("close your hand") here.
PARAPHRASES = {
    "grasp the red block": "pick",
    "take the green cube": "pick",
    "get hold of the brick": "pick",
    "drop it into the bin": "place",
    "set the object down": "place",
    "lay it on the shelf": "place",
    "nudge the cube sideways": "push",
    "slide the block to the right": "push",
    "shove the cube to the right": "push",
    "hover above the tray": "move_to",
    "move over the green cube": "move_to",
    "position yourself above the bowl": "move_to",
    "let go of it": "open_gripper",
    "release your grip": "open_gripper",
    "close the fingers": "close_gripper",
    "clamp the fingers": "close_gripper",
    "grip it tightly": "close_gripper",
}

UNRELATED = ["what is the weather in Paris", "play some music", "turn on the lights in the kitchen",
             "how old are you"]


class CountingEmbedder:
    """The real embedder, counting how many texts it is asked to encode."""

    def __init__(self, inner: Embedder, model_id: str | None = None) -> None:
        self.inner = inner
        self.model_id = model_id or inner.model_id
        self.dim = inner.dim
        self.encoded: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.encoded.extend(texts)
        return self.inner.encode(texts)


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return get_embedder()  # cold load takes seconds: once per module


@pytest.fixture
def library(embedder: Embedder, tmp_path: Path) -> SkillLibrary:
    return SkillLibrary(SKILLS, index_dir=tmp_path, embedder=embedder)


def test_embedder_returns_unit_float32_vectors(embedder: Embedder) -> None:
    vecs = embedder.encode(["pick up the cube", "open the gripper"])
    assert vecs.dtype == np.float32 and vecs.shape == (2, embedder.dim) == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert get_embedder() is embedder


@pytest.mark.parametrize("query,expected", sorted(PARAPHRASES.items()))
def test_paraphrase_retrieves_the_right_skill(library: SkillLibrary, query: str, expected: str) -> None:
    hits = library.search(query, k=3)
    assert hits[0].skill.name == expected, [(h.skill.name, round(h.score, 3)) for h in hits]
    # match may abstain on a weak paraphrase (asking is fine), but must never pick another skill
    hit = library.match(query)
    assert hit is None or hit.skill.name == expected


def test_search_is_sorted_one_entry_per_skill(library: SkillLibrary) -> None:
    hits = library.search("pick up the cube", k=10)
    assert [h.skill.name for h in hits][0] == "pick"
    assert len(hits) == len(SKILLS) == len({h.skill.name for h in hits})
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    # exact phrasing: its row scores 1, blended with the skill's full-text row
    full_text_row = library.text_weight * float(
        library.embedder.encode([hits[0].skill.embedding_text()])[0] @ library.embedder.encode(["pick up the cube"])[0])
    assert hits[0].score == pytest.approx(1.0 - library.text_weight + full_text_row, abs=1e-4)
    assert len(library.search("pick up the cube", k=2)) == 2


@pytest.mark.parametrize("query", UNRELATED)
def test_unrelated_query_abstains(library: SkillLibrary, query: str) -> None:
    assert library.match(query) is None
    assert library.search(query, k=1)[0].score < 0.45


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_query_is_rejected(library: SkillLibrary, query: str) -> None:
    with pytest.raises(ValueError, match="empty query"):
        library.search(query)
    with pytest.raises(ValueError, match="empty query"):
        library.match(query)


def test_lookup_by_name(library: SkillLibrary) -> None:
    assert library.names() == [s.name for s in SKILLS]
    assert len(library) == len(SKILLS) and list(library) == list(SKILLS)
    assert "push" in library and "fly" not in library
    assert library.get("push") is SKILLS[2]
    with pytest.raises(KeyError, match="known skills: pick, place, push"):
        library.get("fly")


def test_duplicate_names_are_rejected(embedder: Embedder, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="duplicate skill name 'pick'"):
        SkillLibrary([SKILLS[0], SKILLS[1], SKILLS[0]], index_dir=tmp_path, embedder=embedder)


def test_index_is_persisted_and_reloaded_without_reembedding(embedder: Embedder, tmp_path: Path) -> None:
    first = CountingEmbedder(embedder)
    SkillLibrary(SKILLS, index_dir=tmp_path, embedder=first)
    assert len(first.encoded) == sum(1 + len(s.phrasings) for s in SKILLS)
    assert (tmp_path / INDEX_FILE).is_file() and (tmp_path / MANIFEST_FILE).is_file()
    assert not [p for p in tmp_path.iterdir() if p.name not in (INDEX_FILE, MANIFEST_FILE)]  # no temp files
    manifest = json.loads((tmp_path / MANIFEST_FILE).read_text())
    assert manifest["skills"] == [s.name for s in SKILLS] and manifest["model_id"] == embedder.model_id

    second = CountingEmbedder(embedder)
    lib = SkillLibrary(SKILLS, index_dir=tmp_path, embedder=second)
    assert lib.loaded_from_disk and second.encoded == []
    assert lib.search("grasp the red block")[0].skill.name == "pick"
    assert second.encoded == ["grasp the red block"]  # only the query was embedded


def test_valid_cache_does_not_load_the_model(embedder: Embedder, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    SkillLibrary(SKILLS, index_dir=tmp_path, embedder=embedder)

    def no_model():
        raise AssertionError("the model was loaded although a valid index exists")

    monkeypatch.setattr("skill_lib.library.get_embedder", no_model)
    lib = SkillLibrary(SKILLS, index_dir=tmp_path)  # embedder=None: resolved only on first query
    assert lib.loaded_from_disk
    monkeypatch.undo()
    assert lib.search("take the green cube")[0].skill.name == "pick"


def test_changed_description_triggers_rebuild(embedder: Embedder, tmp_path: Path) -> None:
    SkillLibrary(SKILLS, index_dir=tmp_path, embedder=embedder)
    changed = list(SKILLS)
    changed[2] = _skill("push", "sweep an object across the table with the side of the gripper",
                        *SKILLS[2].phrasings)
    counting = CountingEmbedder(embedder)
    lib = SkillLibrary(changed, index_dir=tmp_path, embedder=counting)
    assert not lib.loaded_from_disk and counting.encoded  # the skills were embedded again
    assert lib.get("push").description.startswith("sweep")
    # and the rebuilt index is the one now cached
    assert SkillLibrary(changed, index_dir=tmp_path, embedder=embedder).loaded_from_disk


def test_changed_skill_set_or_model_triggers_rebuild(embedder: Embedder, tmp_path: Path) -> None:
    SkillLibrary(SKILLS, index_dir=tmp_path, embedder=embedder)
    assert not SkillLibrary(SKILLS[:-1], index_dir=tmp_path, embedder=embedder).loaded_from_disk
    SkillLibrary(SKILLS, index_dir=tmp_path, embedder=embedder)
    other_model = CountingEmbedder(embedder, model_id="some-other-model")
    assert not SkillLibrary(SKILLS, index_dir=tmp_path, embedder=other_model).loaded_from_disk
    assert other_model.encoded


@pytest.mark.parametrize("damage", ["garbage", "truncate", "empty", "bad_manifest", "manifest_not_a_dict"])
def test_corrupt_index_is_rebuilt(embedder: Embedder, tmp_path: Path, damage: str) -> None:
    SkillLibrary(SKILLS, index_dir=tmp_path, embedder=embedder)
    index_file, manifest_file = tmp_path / INDEX_FILE, tmp_path / MANIFEST_FILE
    if damage == "garbage":
        index_file.write_bytes(b"not a faiss index" * 100)
    elif damage == "truncate":
        index_file.write_bytes(index_file.read_bytes()[:1000])
    elif damage == "empty":
        index_file.write_bytes(b"")
    elif damage == "bad_manifest":
        manifest_file.write_text("{ half a manifest")
    else:
        manifest_file.write_text("[1, 2, 3]")
    lib = SkillLibrary(SKILLS, index_dir=tmp_path, embedder=embedder)
    assert not lib.loaded_from_disk
    assert lib.search("nudge the cube sideways")[0].skill.name == "push"
    assert SkillLibrary(SKILLS, index_dir=tmp_path, embedder=embedder).loaded_from_disk  # repaired on disk


def test_text_weight_blends_full_text_row(embedder: Embedder, tmp_path: Path) -> None:
    only_text = SkillLibrary(SKILLS, index_dir=tmp_path, embedder=embedder, text_weight=1.0)
    query = "take the green cube"
    hit = only_text.search(query, k=1)[0]
    q, t = embedder.encode([query, hit.skill.embedding_text()])
    assert hit.score == pytest.approx(float(q @ t), abs=1e-5)
    with pytest.raises(ValueError):
        SkillLibrary(SKILLS, index_dir=tmp_path, embedder=embedder, text_weight=1.5)


def test_match_result_type(library: SkillLibrary) -> None:
    hit = library.match("shove the cube to the right")
    assert isinstance(hit, SkillMatch) and hit.skill.name == "push" and 0.45 <= hit.score <= 1.0
    assert library.match("shove the cube to the right", threshold=1.01) is None


# The project's real skills, if present: paraphrases (none of them a phrasing of any skill).
DEFAULT_PARAPHRASES = {
    "take the green cube": "pick",
    "lift the blue cube": "pick",
    "get hold of the brick": "pick",
    "put the block in the bowl": "place",
    "place the cube on the plate": "place",
    "lay it on the shelf": "place",
    "nudge the cube sideways": "push",
    "shove the cube to the right": "push",
    "hover above the tray": "move_to",
    "move over the green cube": "move_to",
    "position yourself above the bowl": "move_to",
    "let go of it": "open_gripper",
    "open the fingers": "open_gripper",
    "close the fingers": "close_gripper",
    "shut the gripper": "close_gripper",
}


@pytest.fixture(scope="module")
def default_library(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> SkillLibrary:
    skills_mod = pytest.importorskip("skill_lib.skills")
    if not hasattr(skills_mod, "default_skills"):
        pytest.skip("skill_lib.skills.default_skills() does not exist yet")
    return SkillLibrary(skills_mod.default_skills(), index_dir=tmp_path_factory.mktemp("default_index"),
                        embedder=embedder)


@pytest.mark.parametrize("query,expected", sorted(DEFAULT_PARAPHRASES.items()))
def test_default_skills_retrieved_for_paraphrases(default_library: SkillLibrary, query: str,
                                                  expected: str) -> None:
    phrasings = {p.lower() for s in default_library for p in s.phrasings}
    assert query not in phrasings, "a test query must be a paraphrase, not a stored phrasing"
    hits = default_library.search(query, k=3)
    assert hits[0].skill.name == expected, [(h.skill.name, round(h.score, 3)) for h in hits]


@pytest.mark.parametrize("query", UNRELATED)
def test_default_skills_abstain_on_unrelated(default_library: SkillLibrary, query: str) -> None:
    assert default_library.match(query) is None
