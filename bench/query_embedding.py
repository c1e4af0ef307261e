"""What one never-seen query costs to embed (#19 item 4): the shipped ONNX MiniLM session beside the session
options one could change and int8 weights, each on the same unseen texts, with its cosine to the torch embedding and
how many of each text's nearest neighbours among the others it keeps.

    python bench/query_embedding.py [--texts 200]

Texts are retrieval query contexts as CorrectionMemory embeds them (bench/_correction_scale.py's generated
contexts), each embedded once per variant: nothing comes from a cache. Variants run round-robin text by text,
so a change in the machine's load touches them alike. Needs the install step's ONNX export.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime

from _correction_scale import as_query, contexts  # bench/ is on the path of a script run from it
from skill_lib.embedding import TorchEmbedder
from skill_lib.embedding_onnx import MAX_TOKENS, _weights_path, exported_model

Variant = Callable[[list[int]], np.ndarray]


def session(model: Path, *, threads: int = 1, level: str = "ORT_ENABLE_ALL", spin: bool = True
            ) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.graph_optimization_level = getattr(onnxruntime.GraphOptimizationLevel, level)
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def plain(s: onnxruntime.InferenceSession) -> Variant:
    def run(ids: list[int]) -> np.ndarray:
        tokens = np.asarray([ids], dtype=np.int64)
        return s.run(None, {"input_ids": tokens, "attention_mask": np.ones_like(tokens)})[0][0]
    return run


def bound(s: onnxruntime.InferenceSession) -> Variant:
    """IO binding: inputs bound as they are, the output into a buffer allocated once."""
    out = np.empty((1, s.get_outputs()[0].shape[-1]), dtype=np.float32)
    binding = s.io_binding()

    def run(ids: list[int]) -> np.ndarray:
        tokens = np.asarray([ids], dtype=np.int64)
        binding.bind_cpu_input("input_ids", tokens)
        binding.bind_cpu_input("attention_mask", np.ones_like(tokens))
        binding.bind_output("embedding", "cpu", 0, np.float32, list(out.shape), out.ctypes.data)
        s.run_with_iobinding(binding)
        return out[0].copy()
    return run


def fused_model(model: Path, directory: Path) -> Path:
    """ONNX Runtime's offline transformer optimiser (attention, LayerNorm, GELU fusions), fp32."""
    from onnxruntime.transformers import optimizer

    optimized = optimizer.optimize_model(str(model), model_type="bert", num_heads=12, hidden_size=384,
                                         use_gpu=False, opt_level=1)
    print(f"fused graph: {optimized.get_fused_operator_statistics()}")
    target = directory / "minilm.fused.onnx"
    optimized.save_model_to_file(str(target))
    return target


def int8_model(model: Path, directory: Path, per_channel: bool) -> Path:
    """Dynamic int8 quantisation of the MatMul weights only (the embedding table, LayerNorm and the rest stay fp32):
    a quarter of the bytes the model streams per query."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = directory / f"minilm.int8.{'channel' if per_channel else 'tensor'}.onnx"
    quantize_dynamic(str(model), str(target), weight_type=QuantType.QInt8, per_channel=per_channel,
                     op_types_to_quantize=["MatMul"])
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=200)
    args = parser.parse_args()
    model = exported_model()
    if model is None:
        sys.exit("no ONNX export: run `python -m skill_lib.embedding_onnx` first")
    print(f"query embedding benchmark, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; {platform.platform()}, "
          f"{os.cpu_count()} CPUs; onnxruntime {onnxruntime.__version__}")
    print(f"load average before the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(_weights_path() / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()  # tokenizer.json pads to 128: one query runs at its own length, as the embedder does
    texts = [as_query(r).text() for r in contexts(args.texts, seed=2026)]
    t0 = time.perf_counter()
    ids = [tokenizer.encode(t).ids for t in texts]
    tokenise = (time.perf_counter() - t0) / len(texts)
    print(f"{len(texts)} unseen query contexts, {np.median([len(i) for i in ids]):.0f} tokens median "
          f"(one text: no padding), tokenising {tokenise * 1e3:.3f} ms each")
    reference = TorchEmbedder().encode(texts)
    with tempfile.TemporaryDirectory() as tmp:
        fused = fused_model(model, Path(tmp))
        variants: dict[str, Variant] = {
            "shipped: ORT_ENABLE_ALL, 1 intra-op thread": plain(session(model)),
            "the same again (a second session: the noise)": plain(session(model)),
            "2 intra-op threads": plain(session(model, threads=2)),
            "2 intra-op threads, no spinning": plain(session(model, threads=2, spin=False)),
            "ORT_ENABLE_BASIC": plain(session(model, level="ORT_ENABLE_BASIC")),
            "optimisations off": plain(session(model, level="ORT_DISABLE_ALL")),
            "IO binding": bound(session(model)),
            "offline transformer fusion (fp32)": plain(session(fused)),
            "int8 MatMul weights, per channel": plain(session(int8_model(model, Path(tmp), per_channel=True))),
            "int8 MatMul weights, per tensor": plain(session(int8_model(model, Path(tmp), per_channel=False))),
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        cpu: dict[str, list[float]] = {name: [] for name in variants}
        vectors: dict[str, list[np.ndarray]] = {name: [] for name in variants}
        for run in variants.values():  # first calls allocate: not part of a query's cost
            run(ids[0])
        rng = random.Random(0)
        for text_ids in ids:
            order = rng.sample(list(variants), len(variants))  # a new order per text: no variant always first
            for name in order:
                t0, c0 = time.perf_counter(), time.process_time()
                vectors[name].append(variants[name](text_ids))
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
    print("\n| variant | wall ms p50 / p99 (model run, tokens given) | CPU ms p50 (all threads) | min cosine to torch "
          "| top-10 neighbours shared with torch's |")
    print("|---|---|---|---|---|")
    for name in variants:
        found = np.asarray(vectors[name])
        cosine = np.einsum("ij,ij->i", found, reference).min()
        shared = shared_neighbours(found, reference)
        print(f"| {name} | {np.percentile(times[name], 50) * 1e3:.2f} / {np.percentile(times[name], 99) * 1e3:.2f} "
              f"| {np.percentile(cpu[name], 50) * 1e3:.2f} | {cosine:.5f} | {shared:.3f} |")
    plan_batches(model, texts)
    print(f"load average after the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def shared_neighbours(found: np.ndarray, reference: np.ndarray, k: int = 10) -> float:
    """Mean share of each text's k nearest other texts (cosine) that `found` and `reference` agree on: whether the
    ranking survives, which a cosine close to 1 alone does not say."""
    def nearest(vectors: np.ndarray) -> np.ndarray:
        unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        similarity = unit @ unit.T
        np.fill_diagonal(similarity, -np.inf)
        return np.argsort(-similarity, axis=1)[:, :k]

    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(nearest(found), nearest(reference))]))


def plan_batches(model: Path, texts: list[str]) -> None:
    """What CorrectionMemory.prepare does when a plan is made: its skill calls' contexts in one batch
    (Embedder.warm), against one model run per call when each skill starts."""
    from skill_lib.embedding_onnx import OnnxEmbedder

    embedder = OnnxEmbedder(model)
    embedder.encode(texts[:2])
    print("\n| skill calls in the plan | one batch at planning, ms p50 | one run per call, ms p50 (sum) |")
    print("|---|---|---|")
    rng = random.Random(1)
    for size in (2, 4, 6):
        batched, single = [], []
        for start in range(0, min(len(texts), 60 * size), size):
            group = texts[start:start + size]
            for how in rng.sample(["batch", "single"], 2):
                t0 = time.perf_counter()
                if how == "batch":
                    embedder.encode(group)
                    batched.append(time.perf_counter() - t0)
                else:
                    for text in group:
                        embedder.encode([text])
                    single.append(time.perf_counter() - t0)
        print(f"| {size} | {np.median(batched) * 1e3:.1f} | {np.median(single) * 1e3:.1f} |")


if __name__ == "__main__":
    main()
