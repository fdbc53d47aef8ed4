"""Hybrid retrieval: dense (FAISS) + keyword (BM25 over jieba tokens), fused, restricted to the
report(s) the question is about."""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from .config import RetrievalConfig
from .index import KnowledgeBase
from .generic_search import fuse_generic
from .keywords import bm25_scores, tokenize_zh
from .kinds import REPORT
from .query import Question, coverage, section_time
from .schema import Passage
from .vector_index import ann_search

# One query at a time: FAISS's OpenMP threads, and OpenBLAS's, which spin for a while after each
# product, only fight the question embedder's for the cores (at 1000x: whole-index p95 with the
# question's embedding 139-160 ms, 36 ms with the vector given; docs/measurements.md).
faiss.omp_set_num_threads(1)
threadpool_limits(1, user_api="blas")


@dataclass
class Hit:
    row: int
    score: float  # fused
    dense: float  # dense score (cosines, generic vectors discounted)
    keyword: float  # BM25 score
    dense_rank: int | None
    keyword_rank: int | None


def candidate_rows(kb: KnowledgeBase, cities: tuple[str, ...]) -> np.ndarray | None:
    """Rows of the named cities' reports, or None for the whole index. Naming a city restricts
    reports only: generic documents stay candidates."""
    if not cities:
        return None
    parts = [kb.rows_by_city[c] for c in cities if c in kb.rows_by_city] + [kb.generic_rows]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _ann_search(index, query: np.ndarray, n: int, cfg: RetrievalConfig) -> np.ndarray:
    """Ids of the (approximately) n nearest vectors of the whole index."""
    return ann_search(index, query, n, cfg.ivf_nprobe, cfg.refine_factor)


def _sentences_of(kb: KnowledgeBase, rows: np.ndarray) -> np.ndarray:
    starts, ends = kb.first_sentence[rows], kb.first_sentence[rows + 1]
    return np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)]) if len(rows) else np.zeros(0, np.int64)


def ranking_query(kb: KnowledgeBase, query_vector: np.ndarray, cfg: RetrievalConfig) -> np.ndarray:
    """Ranking by cos(q, v) - hub_penalty * cos(v, centroid) is ranking by v · this vector."""
    return query_vector.astype(np.float32) - cfg.hub_penalty * kb.centroid


def dense_search(kb: KnowledgeBase, query_vector: np.ndarray, rows: np.ndarray | None, n: int,
                 cfg: RetrievalConfig) -> tuple[np.ndarray, np.ndarray, dict[int, float]]:
    """(rows, scores, sentence similarities) of the n best passages by meaning.

    A passage scores by its vector (the mean of its sentences') and, more, by its best sentence:
    a question about one fact matches that fact's sentence better than a whole passage. Inside named
    reports every passage is scored exactly (a few hundred vectors); over the whole index the
    candidates come from the FAISS indexes (exact below FLAT_MAX_VECTORS, approximate above)."""
    query = query_vector.astype(np.float32)
    ranking = ranking_query(kb, query, cfg)
    if rows is not None:
        candidates = np.unique(rows)
    else:
        top_sentences = _ann_search(kb.sentence_index, ranking, 4 * n, cfg)
        candidates = np.unique(np.concatenate([_ann_search(kb.faiss_index, ranking, n, cfg),
                                               kb.sentences[top_sentences, 0]]))
    if not len(candidates):
        return candidates, np.zeros(0, np.float32), {}
    passage_scores = kb.faiss_index.reconstruct_batch(candidates) @ ranking
    srows = _sentences_of(kb, candidates)
    sentence_vectors = kb.sentence_index.reconstruct_batch(srows)
    best = np.full(len(candidates), -np.inf, dtype=np.float32)
    np.maximum.at(best, np.searchsorted(candidates, kb.sentences[srows, 0]), sentence_vectors @ ranking)
    scores = cfg.passage_weight * passage_scores + (1 - cfg.passage_weight) * best
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


def fuse(dense: tuple[np.ndarray, np.ndarray], keyword: tuple[np.ndarray, np.ndarray], keyword_weight: float,
         cfg: RetrievalConfig) -> list[Hit]:
    """Dense score plus weighted max-normalised BM25 (default), or reciprocal rank fusion."""
    hits: dict[int, Hit] = {}
    for rank, (row, s) in enumerate(zip(*dense)):
        hits[int(row)] = Hit(int(row), 0.0, float(s), 0.0, rank, None)
    for rank, (row, s) in enumerate(zip(*keyword)):
        hit = hits.setdefault(int(row), Hit(int(row), 0.0, 0.0, 0.0, None, None))
        hit.keyword, hit.keyword_rank = float(s), rank
    kw_max = float(keyword[1].max()) if len(keyword[1]) else 1.0
    rrf = lambda rank: 1 / (cfg.rrf_k + rank) if rank is not None else 0.0  # noqa: E731
    for hit in hits.values():
        if cfg.fusion == "rrf":
            hit.score = rrf(hit.dense_rank) + keyword_weight * rrf(hit.keyword_rank)
        else:
            hit.score = hit.dense + keyword_weight * hit.keyword / max(kw_max, 1e-9)
    return sorted(hits.values(), key=lambda h: -h.score)


@dataclass
class SearchResult:
    hits: list[Hit]
    sentence_sims: dict[int, float]  # srow -> cosine with the question, for the answer step


def search(kb: KnowledgeBase, embedder, question: Question, k: int, cfg: RetrievalConfig = RetrievalConfig()) -> SearchResult:
    """The k best hits for an analysed question. A city filter in the record wins over the cities
    the question names; the cities named restrict the search only when `cfg.report_aware`."""
    scope = question.city_filter or (question.cities if cfg.report_aware else ())
    rows = candidate_rows(kb, scope)
    n = max(cfg.candidates, k)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.float32))
    sentence_sims: dict[int, float] = {}
    dense = empty
    query_vector = None
    if cfg.dense:
        # Inside the named reports the city name says nothing and only pulls towards passages
        # that happen to repeat it (measured: hit@1 0.81 -> 0.83 on dev).
        text = question.scoped_text if rows is not None and scope == question.cities else question.text
        query_vector = embedder.embed_queries([text])[0]
        dense_rows, dense_scores, sentence_sims = dense_search(kb, query_vector, rows, n, cfg)
        dense = (dense_rows, dense_scores)
    keyword = keyword_search(kb, question.keyword_text, rows, n) if cfg.keyword else empty
    weight = cfg.keyword_weight
    if len(keyword[0]) and cfg.adaptive_keyword_weight:
        # Trust keywords as far as the best keyword match covers the question's topic: a
        # question paraphrased in everyday words only matches filler words.
        weight *= coverage(kb.passages[int(keyword[0][0])].text, question.topic)
    hits = fuse(dense, keyword, weight, cfg)
    if len(kb.generic_rows):
        ranking = None if query_vector is None else ranking_query(kb, query_vector, cfg)
        hits = fuse_generic(kb, question.text, hits, ranking, rows, n)
    if cfg.report_aware and question.time_focus:
        for hit in hits:
            passage = kb.passages[hit.row]
            if passage.kind != REPORT:
                continue  # the year's sections are a report prior
            kind = section_time(passage.section, passage.year)
            hit.score += cfg.year_prior * ((kind == question.time_focus) - (kind is not None and kind != question.time_focus))
        hits.sort(key=lambda h: -h.score)
    if cfg.rerank_model:
        hits = rerank(_cross_encoder(cfg.rerank_model), question.text, kb, hits, cfg.rerank_candidates)
    return SearchResult(hits[:k], sentence_sims)


@lru_cache(maxsize=2)
def _cross_encoder(name: str):
    """A sentence-transformers CrossEncoder (local folder, or a hub name where a hub is reachable)."""
    from sentence_transformers import CrossEncoder

    return CrossEncoder(name, device="cpu")


def rerank(reranker, question: str, kb: KnowledgeBase, hits: list[Hit], head_size: int) -> list[Hit]:
    """Reorder the first head_size hits by the cross-encoder's score of (question, passage)."""
    head, tail = hits[:head_size], hits[head_size:]
    if not head:
        return hits
    scores = reranker.predict([(question, kb.passages[h.row].text) for h in head])
    for hit, score in zip(head, scores):
        hit.score = float(score)
    return sorted(head, key=lambda h: -h.score) + tail


def word_standout(kb: KnowledgeBase, embedder, words: tuple[str, ...], srows: list[int], max_words: int,
                  min_sentences: int) -> list[float]:
    """For each sentence of `srows`, how far it stands out as meaning one of `words`: the largest
    z-score, over the words, of its cosine with the word alone among the sentences of its report
    in `srows` (0 where a report has fewer than min_sentences of them). A question word no report
    uses (「臭水沟」) can only be matched by meaning, and the whole question's embedding leans
    towards generic sentences; the word alone singles out the one about 污水."""
    standout = np.zeros(len(srows), np.float32)
    if not words or not srows:
        return standout.tolist()
    srows = np.asarray(srows, np.int64)
    reports = np.array([kb.passages[row].doc_id for row in kb.sentences[srows, 0]])
    groups = [mine for doc in np.unique(reports) if (mine := reports == doc).sum() >= min_sentences]
    if not groups:
        return standout.tolist()
    sims = kb.sentence_index.reconstruct_batch(srows) @ embedder.embed_queries(list(words[:max_words])).T
    for mine in groups:
        own = sims[mine]
        standout[mine] = ((own - own.mean(0)) / np.maximum(own.std(0), 1e-6)).max(1)
    return standout.tolist()


def to_passages(kb: KnowledgeBase, hits: list[Hit]) -> list[Passage]:
    return [replace(kb.passages[h.row], score=round(h.score, 6)) for h in hits]
