"""Retrieval variants for generic documents, on a CMRC-style question file (tuning set):
keyword tokens (jieba words, character bigrams, both), keyword weight, RRF, and, when an
embedding cache holding their vectors is given, per-sentence vectors.

    .venv/bin/python scripts/generic_ablation.py eval/external/cmrc2018/questions_trial.jsonl \
        [--kb kb/cmrc2018] [--sentence-cache FILE]

Every passage is scored exactly (the corpus is small), so the variants differ only in scoring.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

from qa.chunking import sentence_embedding_text
from qa.text import split_sentences
from qa.evaluate import load_items
from qa.external_eval import corpus_of, default_kb_for, gold_rank, open_benchmark_kb
from qa.generic_search import char_bigrams, generic_keyword_text, generic_tokens
from qa.index import EmbeddingCache, text_hash
from qa.keywords import STOPWORDS, bm25_scores, build_bm25, tokenize_zh
from qa.pipeline import get_embedder
from qa.retrieval import HUB_PENALTY


def metrics(ranks):
    n = len(ranks)
    return (sum(1 for r in ranks if r == 1) / n, sum(1 for r in ranks if r and r <= 5) / n,
            sum(1 / r for r in ranks if r and r <= 10) / n)


def ranks_of(scores: np.ndarray, doc_ids: np.ndarray, items) -> list:
    out = []
    for s, item in zip(scores, items):
        top = np.argsort(-s)[:10]
        out.append(gold_rank(list(doc_ids[top]), item["gold_doc_ids"]))
    return out


def keyword_matrix(kb, tokenizer, questions) -> np.ndarray:
    bm25 = build_bm25([tokenizer(generic_keyword_text(p)) for p in kb.passages])
    rows = [bm25_scores(bm25, tokenizer(q)) for q in questions]
    m = np.vstack(rows).astype(np.float32)
    return m / np.maximum(m.max(axis=1, keepdims=True), 1e-9)


def sentence_scores(kb, cache_path: Path, embedder, qvecs: np.ndarray) -> np.ndarray | None:
    """Best-sentence cosine per passage from cached sentence vectors (title + sentence), or None."""
    texts, owners = [], []
    for row, p in enumerate(kb.passages):
        for a, b in split_sentences(p.text):
            texts.append(sentence_embedding_text(p, p.text[a:b]))
            owners.append(row)
    cache = EmbeddingCache(cache_path)
    found = cache.get_many(embedder.model_id, list({text_hash(t) for t in texts}))
    cache.close()
    missing = sum(text_hash(t) not in found for t in texts)
    if missing:
        print(f"sentence cache lacks {missing} of {len(texts)} sentences; skipping the sentence variants", file=sys.stderr)
        return None
    vecs = np.vstack([found[text_hash(t)] for t in texts]).astype(np.float32)
    sims = qvecs @ vecs.T
    best = np.full((len(qvecs), len(kb.passages)), -np.inf, np.float32)
    owners = np.asarray(owners)
    for j in range(len(owners)):
        np.maximum(best[:, owners[j]], sims[:, j], out=best[:, owners[j]])
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("questions")
    ap.add_argument("--kb")
    ap.add_argument("--sentence-cache")
    args = ap.parse_args()
    items = load_items(Path(args.questions))
    corpus = corpus_of(Path(args.questions))
    kb = open_benchmark_kb(corpus, Path(args.kb).resolve() if args.kb else default_kb_for(corpus)).kb
    embedder = get_embedder()
    questions = [it["question"] for it in items]
    qvecs = embedder.embed_queries(questions)
    pvecs = kb.faiss_index.reconstruct_n(0, kb.faiss_index.ntotal)
    dense = qvecs @ pvecs.T - HUB_PENALTY * (pvecs @ kb.centroid)[None, :]
    doc_ids = np.array([p.doc_id for p in kb.passages])
    kw = {
        "jieba words": keyword_matrix(kb, tokenize_zh, questions),
        "char bigrams": keyword_matrix(kb, lambda t: [b for b in char_bigrams(t) if b not in STOPWORDS], questions),
        "words + bigrams": keyword_matrix(kb, generic_tokens, questions),
    }
    print(f"{len(items)} questions, {len(kb.passages)} passages")
    print("| variant | hit@1 | hit@5 | MRR@10 |\n|---|---|---|---|")

    def show(name, scores):
        h1, h5, mrr = metrics(ranks_of(scores, doc_ids, items))
        print(f"| {name} | {h1:.3f} | {h5:.3f} | {mrr:.3f} |", flush=True)

    show("dense only (passage vectors)", dense)
    show("dense only, no hub discount", qvecs @ pvecs.T)
    for name, m in kw.items():
        show(f"keyword only, {name}", m)
    for name, m in kw.items():
        for w in (0.05, 0.1, 0.2, 0.3, 0.5):
            show(f"dense + {w} x {name}", dense + w * m)
    # reciprocal rank fusion of dense and words + bigrams
    rd = np.argsort(np.argsort(-dense, axis=1), axis=1)
    rk = np.argsort(np.argsort(-kw["words + bigrams"], axis=1), axis=1)
    show("RRF(dense, words + bigrams)", 1 / (60 + rd) + 1 / (60 + rk))
    if args.sentence_cache:
        best = sentence_scores(kb, Path(args.sentence_cache), embedder, qvecs)
        if best is not None:
            show("sentence vectors: best sentence only", best)
            mixed = 0.3 * (qvecs @ pvecs.T) + 0.7 * best
            show("0.3 passage + 0.7 best sentence", mixed)
            for w in (0.1, 0.2, 0.3):
                show(f"0.3 passage + 0.7 best sentence + {w} x words + bigrams", mixed + w * kw["words + bigrams"])


if __name__ == "__main__":
    main()
