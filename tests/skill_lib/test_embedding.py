"""The embedding backends: MiniLM through ONNX Runtime (exported at install time) against torch, the
fallback without the export, and the query cache. Real models throughout."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from skill_lib import embedding
from skill_lib.embedding import Embedder, TorchEmbedder
from skill_lib.embedding_onnx import OnnxEmbedder, exported_model

TEXTS = ["pick up the red cube", "grasp it 1 cm lower", "put the small blue cube in the tray, then stack it",
         "skill pick; object cube red large; task 'tidy up the table'; correction: approach from the side",
         "", "ok", "the " * 300]  # empty, one token, past the 256-token truncation


@pytest.fixture(scope="module")
def torch_vectors():
    return TorchEmbedder().encode(TEXTS)


def test_the_install_step_exported_the_packaged_weights_and_onnx_agrees_with_torch(torch_vectors):
    model = exported_model()
    assert model is not None, "no ONNX export: run `python -m skill_lib.embedding_onnx` (make does)"
    onnx = OnnxEmbedder(model)
    vectors = onnx.encode(TEXTS)
    assert vectors.shape == torch_vectors.shape and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert float(np.min(np.sum(vectors * torch_vectors, axis=1))) >= 0.99
    # one at a time (no padding) gives what a padded batch gives
    assert np.allclose(onnx.encode(TEXTS[:1])[0], vectors[0], atol=1e-5)
    default = Embedder()  # the default backend, under the torch model's id: their indexes are interchangeable
    assert default.backend == "onnx" and default.model_id == embedding.default_model_id()


def test_without_the_export_it_falls_back_to_torch_and_says_so_once(tmp_path, monkeypatch, caplog, torch_vectors):
    monkeypatch.setenv("SKILL_STACK_ONNX_DIR", str(tmp_path))
    monkeypatch.setattr(embedding, "_fallback_logged", False)
    with caplog.at_level(logging.WARNING, logger="skill_lib.embedding"):
        first, second = Embedder(), Embedder()
    assert first.backend == second.backend == "torch"
    assert [r.message for r in caplog.records if "torch" in r.message] and len(caplog.records) == 1
    assert str(tmp_path) in caplog.records[0].message
    assert np.allclose(first.encode(TEXTS), torch_vectors, atol=1e-5)
    with pytest.raises(RuntimeError, match="SKILL_STACK_EMBEDDING=onnx but no ONNX export"):
        Embedder("onnx")
    with pytest.raises(ValueError, match="must be auto, onnx or torch"):
        Embedder("tensorflow")


def test_a_repeated_query_is_answered_from_the_cache(torch_vectors):
    embedder = Embedder(cache_size=2)
    first = embedder.encode([TEXTS[0]])
    first[0, 0] = 42.0  # the caller's copy: the cache must not change with it
    again = embedder.encode([TEXTS[0]])
    assert (embedder.cache_hits, embedder.cache_misses) == (1, 1) and again[0, 0] != 42.0
    assert float(again[0] @ torch_vectors[0]) >= 0.99
    embedder.encode([TEXTS[1]]), embedder.encode([TEXTS[2]])  # evicts TEXTS[0] (least recently used)
    embedder.encode([TEXTS[0]])
    assert (embedder.cache_hits, embedder.cache_misses) == (1, 4)
    embedder.encode(TEXTS[:3])  # bulk calls bypass the cache
    assert (embedder.cache_hits, embedder.cache_misses) == (1, 4)


def test_queries_known_early_are_embedded_in_one_batch_and_then_cached(torch_vectors, monkeypatch):
    embedder = Embedder()
    batches: list[list[str]] = []
    run = embedder._backend.encode
    monkeypatch.setattr(embedder._backend, "encode", lambda texts: batches.append(list(texts)) or run(texts))
    embedder.encode([TEXTS[0]])
    embedder.warm([TEXTS[0], TEXTS[1], TEXTS[2], TEXTS[1]])
    assert batches == [[TEXTS[0]], [TEXTS[1], TEXTS[2]]]  # one batch of what was not cached, each text once
    vectors = np.concatenate([embedder.encode([text]) for text in TEXTS[:3]])
    assert len(batches) == 2 and (embedder.cache_hits, embedder.cache_misses) == (3, 1)
    assert vectors.shape == (3, embedder.dim) and float(np.min(np.sum(vectors * torch_vectors[:3], axis=1))) >= 0.99
