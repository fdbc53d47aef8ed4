"""Hybrid retrieval: dense (FAISS) + keyword (BM25 over jieba tokens), fused, restricted to the
report(s) the question is about."""
from __future__ import annotations

from dataclasses import dataclass, replace

import faiss
import numpy as np

from .index import KnowledgeBase
from .keywords import bm25_scores, tokenize_zh
from .query import QueryAnalysis, analyze
from .schema import Passage

MAX_QUESTION_CHARS = 2000
CANDIDATES = 50  # per retriever, before fusion
RRF_K = 60


class QuestionError(ValueError):
    """A question that cannot be searched (empty, too long); the message says why."""


@dataclass
class Hit:
    row: int
    score: float  # fused
    dense: float  # cosine similarity
    keyword: float  # BM25 score
    dense_rank: int | None
    keyword_rank: int | None


def check_question(question: str) -> str:
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("问题为空：请输入一个问题。")
    question = question.strip()
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(f"问题太长（{len(question)} 字）：请控制在 {MAX_QUESTION_CHARS} 字以内。")
    return question


def candidate_rows(kb: KnowledgeBase, cities: list[str] | None) -> np.ndarray | None:
    """Rows of the named cities' reports, or None for the whole index."""
    if not cities:
        return None
    parts = [kb.rows_by_city[c] for c in cities if c in kb.rows_by_city]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def dense_search(kb: KnowledgeBase, query_vector: np.ndarray, rows: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cosines) of the n nearest passages, restricted to rows when given."""
    total = kb.faiss_index.ntotal if rows is None else len(rows)
    n = min(n, total)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    params = None
    if rows is not None:
        selector = faiss.IDSelectorBatch(rows)
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(64, n)) if isinstance(kb.faiss_index, faiss.IndexHNSW) else faiss.SearchParameters(sel=selector)
    elif isinstance(kb.faiss_index, faiss.IndexHNSW):
        params = faiss.SearchParametersHNSW(efSearch=max(64, n))
    scores, ids = kb.faiss_index.search(query_vector.reshape(1, -1).astype(np.float32), n, params=params)
    keep = ids[0] >= 0
    return ids[0][keep], scores[0][keep]


def keyword_search(kb: KnowledgeBase, text: str, rows: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    scores = bm25_scores(kb.bm25, tokenize_zh(text))
    if rows is not None:
        masked = np.full_like(scores, -1.0)
        masked[rows] = scores[rows]
        scores = masked
    n = min(n, int((scores > 0).sum()))
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    top = np.argpartition(-scores, n - 1)[:n]
    top = top[np.argsort(-scores[top], kind="stable")]
    return top, scores[top]


def fuse(dense: tuple[np.ndarray, np.ndarray], keyword: tuple[np.ndarray, np.ndarray], method: str = "rrf", keyword_weight: float = 1.0) -> list[Hit]:
    """Reciprocal rank fusion (default) or a weighted sum of max-normalised scores."""
    hits: dict[int, Hit] = {}
    for rank, (row, s) in enumerate(zip(*dense)):
        hits[int(row)] = Hit(int(row), 0.0, float(s), 0.0, rank, None)
    for rank, (row, s) in enumerate(zip(*keyword)):
        hit = hits.setdefault(int(row), Hit(int(row), 0.0, 0.0, 0.0, None, None))
        hit.keyword, hit.keyword_rank = float(s), rank
    kw_max = float(keyword[1].max()) if len(keyword[1]) else 1.0
    for hit in hits.values():
        if method == "rrf":
            hit.score = (1 / (RRF_K + hit.dense_rank) if hit.dense_rank is not None else 0.0) + keyword_weight * (
                1 / (RRF_K + hit.keyword_rank) if hit.keyword_rank is not None else 0.0)
        else:
            hit.score = hit.dense + keyword_weight * 0.1 * hit.keyword / max(kw_max, 1e-9)
    return sorted(hits.values(), key=lambda h: -h.score)


@dataclass
class SearchSettings:
    """Which parts of retrieval run: the ablation study turns them off one by one."""

    dense: bool = True
    keyword: bool = True
    report_aware: bool = True
    fusion: str = "rrf"
    keyword_weight: float = 1.0


def search(
    kb: KnowledgeBase,
    embedder,
    question: str,
    k: int = 5,
    cities: list[str] | None = None,
    settings: SearchSettings = SearchSettings(),
) -> tuple[list[Hit], QueryAnalysis]:
    """Ranked hits for a question. Explicit `cities` win over cities named in the question."""
    question = check_question(question)
    analysis = analyze(question, kb.cities, kb.default_year)
    scope = cities or (analysis.cities if settings.report_aware else None)
    rows = candidate_rows(kb, scope)
    n = max(CANDIDATES, k)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.float32))
    dense = dense_search(kb, embedder.embed_queries([analysis.dense_text])[0], rows, n) if settings.dense else empty
    keyword = keyword_search(kb, analysis.keyword_text, rows, n) if settings.keyword else empty
    return fuse(dense, keyword, settings.fusion, settings.keyword_weight)[:k], analysis


def to_passages(kb: KnowledgeBase, hits: list[Hit]) -> list[Passage]:
    return [replace(kb.passages[h.row], score=round(h.score, 6)) for h in hits]
