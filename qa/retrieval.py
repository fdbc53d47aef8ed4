"""Hybrid retrieval: dense (FAISS) + keyword (BM25 over jieba tokens), fused, restricted to the
report(s) the question is about."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import lru_cache

import faiss
import numpy as np

from .index import KnowledgeBase
from .extract import MIN_SENTENCES_FOR_Z, coverage, topic_terms
from .generic_search import fuse_generic
from .keywords import bm25_scores, tokenize_zh
from .kinds import REPORT
from .query import QueryAnalysis, analyze, resolve_cities, section_time
from .schema import Passage

# One query at a time: FAISS's OpenMP threads only fight the embedder's for the 2 cores.
faiss.omp_set_num_threads(1)

MAX_QUESTION_CHARS = 2000
CANDIDATES = 50  # per retriever, before fusion
IVF_NPROBE = 32
RRF_K = 60
PASSAGE_WEIGHT = 0.3  # dense score = 0.3 passage + 0.7 best sentence (ablation in docs/measurements.md)
KEYWORD_WEIGHT = 0.1  # weighted fusion: dense score + 0.1 * topic coverage * BM25 / max BM25
# Ranking discounts a vector's cosine with the corpus centroid by this much: short generic sentences
# (slogans, one-line headings) are close to every question (hubness). Dev: 0.1-0.25 all lift hit@5.
HUB_PENALTY = 0.1
YEAR_PRIOR = 0.02  # bonus for passages in the section of the year asked about (review vs plans)


class QuestionError(ValueError):
    """A question that cannot be searched (empty, too long); the message says why."""


@dataclass
class Hit:
    row: int
    score: float  # fused
    dense: float  # dense score (cosines, generic vectors discounted)
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
    """Rows of the named cities' reports, or None for the whole index. Naming a city restricts
    reports only: generic documents stay candidates."""
    if not cities:
        return None
    parts = [kb.rows_by_city[c] for c in cities if c in kb.rows_by_city] + [kb.generic_rows]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _ann_search(index: faiss.Index, query: np.ndarray, n: int) -> np.ndarray:
    """Ids of the (approximately) n nearest vectors of the whole index."""
    n = min(n, index.ntotal)
    if n == 0:
        return np.zeros(0, np.int64)
    params = faiss.SearchParametersIVF(nprobe=IVF_NPROBE) if isinstance(index, faiss.IndexIVF) else None
    _, found = index.search(query.reshape(1, -1), n, params=params)
    return found[0][found[0] >= 0]


def _sentences_of(kb: KnowledgeBase, rows: np.ndarray) -> np.ndarray:
    starts, ends = kb.first_sentence[rows], kb.first_sentence[rows + 1]
    return np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)]) if len(rows) else np.zeros(0, np.int64)


def dense_search(kb: KnowledgeBase, query_vector: np.ndarray, rows: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray, dict[int, float]]:
    """(rows, scores, sentence similarities) of the n best passages by meaning.

    A passage scores by its vector (the mean of its sentences') and, more, by its best sentence:
    a question about one fact matches that fact's sentence better than a whole passage. Inside named
    reports every passage is scored exactly (a few hundred vectors); over the whole index the
    candidates come from the FAISS indexes (exact below FLAT_MAX_VECTORS, approximate above)."""
    query = query_vector.astype(np.float32)
    # Ranking by cos(q, v) - HUB_PENALTY * cos(v, centroid) is ranking by v · ranking_query.
    ranking_query = query - HUB_PENALTY * kb.centroid
    if rows is not None:
        candidates = np.unique(rows)
    else:
        top_sentences = _ann_search(kb.sentence_index, ranking_query, 4 * n)
        candidates = np.unique(np.concatenate([_ann_search(kb.faiss_index, ranking_query, n), kb.sentences[top_sentences, 0]]))
    if not len(candidates):
        return candidates, np.zeros(0, np.float32), {}
    passage_scores = kb.faiss_index.reconstruct_batch(candidates) @ ranking_query
    srows = _sentences_of(kb, candidates)
    sentence_vectors = kb.sentence_index.reconstruct_batch(srows)
    best = np.full(len(candidates), -np.inf, dtype=np.float32)
    np.maximum.at(best, np.searchsorted(candidates, kb.sentences[srows, 0]), sentence_vectors @ ranking_query)
    scores = PASSAGE_WEIGHT * passage_scores + (1 - PASSAGE_WEIGHT) * best
    order = np.argsort(-scores)[:n]
    sentence_sims = sentence_vectors @ query  # plain cosines: the answer step's thresholds are in these
    return candidates[order], scores[order], dict(zip(srows.tolist(), sentence_sims.tolist()))


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


def fuse(dense: tuple[np.ndarray, np.ndarray], keyword: tuple[np.ndarray, np.ndarray], method: str = "weighted",
         keyword_weight: float = KEYWORD_WEIGHT) -> list[Hit]:
    """Dense score plus weighted max-normalised BM25 (default), or reciprocal rank fusion."""
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
            hit.score = hit.dense + keyword_weight * hit.keyword / max(kw_max, 1e-9)
    return sorted(hits.values(), key=lambda h: -h.score)


@dataclass
class SearchSettings:
    """Which parts of retrieval run: the ablation study turns them off one by one."""

    dense: bool = True
    keyword: bool = True
    report_aware: bool = True  # restrict to the cities named, prefer the year's section
    fusion: str = "weighted"
    keyword_weight: float = KEYWORD_WEIGHT
    adaptive_keyword_weight: bool = True


@dataclass
class SearchResult:
    hits: list[Hit]
    analysis: QueryAnalysis
    sentence_sims: dict[int, float]  # srow -> cosine with the question, for the answer step


def search(
    kb: KnowledgeBase,
    embedder,
    question: str,
    k: int = 5,
    cities: list[str] | None = None,
    settings: SearchSettings = SearchSettings(),
) -> SearchResult:
    """Ranked hits for a question. Explicit `cities` win over cities named in the question."""
    question = check_question(question)
    analysis = analyze(question, kb.cities, kb.default_year)
    if cities:
        cities = resolve_cities(cities, kb.cities)
    scope = cities or (analysis.cities if settings.report_aware else None)
    rows = candidate_rows(kb, scope)
    n = max(CANDIDATES, k)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.float32))
    sentence_sims: dict[int, float] = {}
    dense = empty
    query_vector = None
    if settings.dense:
        # Inside the named reports the city name says nothing and only pulls towards passages
        # that happen to repeat it (measured: hit@1 0.81 -> 0.83 on dev).
        text = analysis.scoped_dense_text if rows is not None and scope == analysis.cities else analysis.question
        query_vector = embedder.embed_queries([text])[0]
        dense_rows, dense_scores, sentence_sims = dense_search(kb, query_vector, rows, n)
        dense = (dense_rows, dense_scores)
    keyword = keyword_search(kb, analysis.keyword_text, rows, n) if settings.keyword else empty
    weight = settings.keyword_weight
    if len(keyword[0]) and settings.adaptive_keyword_weight:
        # Trust keywords as far as the best keyword match covers the question's topic: a
        # question paraphrased in everyday words only matches filler words.
        weight *= coverage(kb.passages[int(keyword[0][0])].text, topic_terms(question, analysis))
    hits = fuse(dense, keyword, settings.fusion, weight)
    if len(kb.generic_rows):
        ranking_query = None if query_vector is None else query_vector.astype(np.float32) - HUB_PENALTY * kb.centroid
        hits = fuse_generic(kb, question, hits, ranking_query, rows, n)
    if settings.report_aware and analysis.time_focus:
        for hit in hits:
            if kb.passages[hit.row].kind != REPORT:
                continue  # the year's sections are a report prior
            kind = section_time(kb.passages[hit.row].section)
            hit.score += YEAR_PRIOR * ((kind == analysis.time_focus) - (kind is not None and kind != analysis.time_focus))
        hits.sort(key=lambda h: -h.score)
    reranker = load_reranker()
    if reranker is not None:
        hits = rerank(reranker, question, kb, hits)
    return SearchResult(hits[:k], analysis, sentence_sims)


RERANK_CANDIDATES = 20


@lru_cache(maxsize=2)
def _cross_encoder(name: str):
    from sentence_transformers import CrossEncoder

    return CrossEncoder(name, device="cpu")


def load_reranker():
    """The cross-encoder named by $QA_RERANK_MODEL (a sentence-transformers CrossEncoder: local
    folder, or a hub name where a hub is reachable), or None: none ships with the project."""
    name = os.environ.get("QA_RERANK_MODEL")
    return _cross_encoder(name) if name else None


def rerank(reranker, question: str, kb: KnowledgeBase, hits: list[Hit]) -> list[Hit]:
    """Reorder the first RERANK_CANDIDATES hits by the cross-encoder's score of (question, passage)."""
    head, tail = hits[:RERANK_CANDIDATES], hits[RERANK_CANDIDATES:]
    if not head:
        return hits
    scores = reranker.predict([(question, kb.passages[h.row].text) for h in head])
    for hit, score in zip(head, scores):
        hit.score = float(score)
    return sorted(head, key=lambda h: -h.score) + tail


MAX_STANDOUT_WORDS = 3  # each word costs an embedding (≈ 4-8 ms)


def word_standout(kb: KnowledgeBase, embedder, words: list[str], srows: list[int]) -> list[float]:
    """For each sentence of `srows`, how far it stands out as meaning one of `words`: the largest
    z-score, over the words, of its cosine with the word alone among the sentences of its report
    in `srows` (0 where a report has too few of them to tell). A question word no report uses
    (「臭水沟」) can only be matched by meaning, and the whole question's embedding leans towards
    generic sentences; the word alone singles out the one about 污水. Computed here, beside the
    question's cosines, since both come from the index's sentence vectors."""
    standout = np.zeros(len(srows), np.float32)
    if not words or not srows:
        return standout.tolist()
    srows = np.asarray(srows, np.int64)
    reports = np.array([kb.passages[row].doc_id for row in kb.sentences[srows, 0]])
    groups = [mine for doc in np.unique(reports) if (mine := reports == doc).sum() >= MIN_SENTENCES_FOR_Z]
    if not groups:
        return standout.tolist()
    sims = kb.sentence_index.reconstruct_batch(srows) @ embedder.embed_queries(words[:MAX_STANDOUT_WORDS]).T
    for mine in groups:
        own = sims[mine]
        standout[mine] = ((own - own.mean(0)) / np.maximum(own.std(0), 1e-6)).max(1)
    return standout.tolist()


def to_passages(kb: KnowledgeBase, hits: list[Hit]) -> list[Passage]:
    return [replace(kb.passages[h.row], score=round(h.score, 6)) for h in hits]
