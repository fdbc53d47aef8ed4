"""Retrieval for generic documents (qa.kinds.GENERIC): passage vectors and a keyword index of
their own (jieba words plus character bigrams, bm25s), fused by a weight that assumes nothing
about reports. Report passages keep the report-aware scoring of qa.retrieval untouched; in a
mixed collection both kinds are ranked together by their fused scores."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .keywords import STOPWORDS, bm25_scores, build_bm25, load_bm25, save_bm25, tokenize_zh
from .text import normalize_zh
from .kinds import GENERIC
from .schema import Passage

# Fused score of a generic passage: dense score + GENERIC_KEYWORD_WEIGHT * BM25 / best BM25 of the
# question. Chosen on the CMRC 2018 trial questions (docs/measurements.md), not on its dev set.
GENERIC_KEYWORD_WEIGHT = 0.1
FOLDER = "bm25_generic"

_HAN_RUN_RE = re.compile(r"[\u4e00-\u9fff]+")


def char_bigrams(text: str) -> list[str]:
    """Overlapping character pairs of each run of Chinese characters (「光荣开发」 -> 光荣 荣开 开发):
    jieba's words miss names and terms it does not know; the pairs do not."""
    return [run[i : i + 2] for run in _HAN_RUN_RE.findall(normalize_zh(text)) for i in range(len(run) - 1)]


def generic_tokens(text: str) -> list[str]:
    """Keyword tokens of generic text: jieba words (and their parts) plus character bigrams."""
    return tokenize_zh(text) + [b for b in char_bigrams(text) if b not in STOPWORDS]


def generic_keyword_text(passage: Passage) -> str:
    return f"{passage.title}\n{passage.text}"


def build_generic_keywords(generic: list[Passage], folder: Path) -> None:
    """The keyword index of the generic passages (given in row order), saved in folder; none without them."""
    if generic:
        save_bm25(build_bm25([generic_tokens(generic_keyword_text(p)) for p in generic]), folder)


def load_generic_keywords(folder: Path):
    return load_bm25(folder) if folder.is_dir() else None


def keyword_search(kb, question: str, rows: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(passage rows, BM25 scores) of the n best generic passages for the question's words."""
    if kb.generic_bm25 is None:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    scores = bm25_scores(kb.generic_bm25, generic_tokens(question))
    if rows is not None:
        scores = np.where(np.isin(kb.generic_rows, rows), scores, 0.0)
    n = min(n, int((scores > 0).sum()))
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    top = np.argpartition(-scores, n - 1)[:n]
    top = top[np.argsort(-scores[top], kind="stable")]
    return kb.generic_rows[top], scores[top].astype(np.float32)


def fuse_generic(kb, question: str, hits: list, ranking_query: np.ndarray | None, rows: np.ndarray | None, n: int,
                 weight: float = GENERIC_KEYWORD_WEIGHT) -> list:
    """`hits` (qa.retrieval.Hit, any kind) with every generic passage scored anew: its dense score
    (cosine with the question, less the hub discount) plus `weight` times its BM25 over words and
    character bigrams, divided by the question's best. Generic passages found by keywords alone
    join the candidates. Report passages keep their scores."""
    from .retrieval import Hit

    kw_rows, kw_scores = keyword_search(kb, question, rows, n)
    keyword = {int(r): (float(s), rank) for rank, (r, s) in enumerate(zip(kw_rows, kw_scores))}
    kw_max = float(kw_scores[0]) if len(kw_scores) else 1.0
    by_row = {h.row: h for h in hits}
    for row in keyword:
        by_row.setdefault(row, Hit(row, 0.0, 0.0, 0.0, None, None))
    generic = np.array([r for r in by_row if kb.passages[r].kind == GENERIC], dtype=np.int64)
    if len(generic):
        dense = (kb.faiss_index.reconstruct_batch(generic) @ ranking_query if ranking_query is not None
                 else np.zeros(len(generic), np.float32))
        for row, d in zip(generic.tolist(), dense.tolist()):
            hit = by_row[row]
            hit.keyword, hit.keyword_rank = keyword.get(row, (0.0, None))
            hit.dense = d
            hit.score = d + weight * hit.keyword / max(kw_max, 1e-9)
    return sorted(by_row.values(), key=lambda h: -h.score)
