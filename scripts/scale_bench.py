"""Scale benchmark: the pipeline on a corpus N times the bundled one (default 100x).

    .venv/bin/python scripts/scale_bench.py --factor 100

The corpus: synthetic copies of the bundled reports with every city name replaced by a made-up
two-character name (same length, so every offset stays valid). Embedding 100x the corpus on 2 cores
would take about 3 hours (about 75 sentences/s, docs/measurements.md), so a copy reuses the real
vectors of its original sentences, slightly perturbed and re-normalised, and its passage vectors are
their means. Everything else is the real code: FAISS index choice and build, BM25 over jieba tokens
of all the text, the SQLite store, loading, and queries through `qa.retrieval.search` with the real
embedder. The IVF index used above FLAT_MAX_VECTORS is compared with exact (flat) search on the same
vectors.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import faiss
import numpy as np

from qa.chunking import ChunkConfig
from qa.config import RetrievalConfig
from qa.evaluate import load_items, percentile
from qa.index import Manifest, load, write_build
from qa.pipeline import get_embedder, open_kb
from qa.query import analyze, city_aliases
from qa.retrieval import _ann_search, ranking_query, search

POOL = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥东西南北春夏秋冬金木水火土日月星云山川江河湖海松竹梅兰菊桃李杏"


def synthetic_names(n: int, taken: set[str]) -> list[str]:
    names = ("".join(p) for p in itertools.product(POOL, repeat=2))
    return list(itertools.islice((x for x in names if x not in taken), n))


def perturbed(vectors: np.ndarray, rng: np.random.Generator, sigma: float = 0.02) -> np.ndarray:
    out = vectors + rng.normal(0, sigma / np.sqrt(vectors.shape[1]), vectors.shape).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--factor", type=int, default=100)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "qa-scale-kb")
    args = ap.parse_args()
    base = open_kb()
    embedder = get_embedder()
    rng = np.random.default_rng(0)
    S = base.sentence_index.reconstruct_n(0, base.sentence_index.ntotal)
    docs = list(base.documents.values())
    aliases = {d.city: [a for a in city_aliases(d.city) if len(a) == 2][0] for d in docs if d.city}
    names = synthetic_names(len(aliases) * args.factor, set(aliases.values()))
    t0 = time.perf_counter()

    documents, passages, sentences, svecs = [], [], [], []
    for copy in range(args.factor):
        rename = {} if copy == 0 else {old: names[copy * len(aliases) + j] for j, old in enumerate(aliases.values())}
        def sub(text: str) -> str:
            for old, new in rename.items():
                text = text.replace(old, new)
            return text
        new_docs = {}
        for d in docs:
            title = sub(d.title)
            new_docs[d.doc_id] = replace(d, doc_id=title, title=title, text=sub(d.text), city=sub(d.city) if d.city else None)
        documents.extend(new_docs.values())
        offset = len(passages)
        for p in base.passages:
            nd = new_docs[p.doc_id]
            passages.append(replace(p, id=f"{nd.doc_id}:{p.start}-{p.end}", doc_id=nd.doc_id, title=nd.title, city=nd.city,
                                    section=sub(p.section), text=nd.text[p.start:p.end]))
        sentences.extend((int(r) + offset, int(a), int(b)) for r, a, b in base.sentences)
        svecs.append(S if copy == 0 else perturbed(S, rng))  # passage vectors: their sentences' mean, as in a real build
    S_all = np.vstack(svecs)
    del svecs
    out = {"factor": args.factor, "documents": len(documents), "passages": len(passages), "sentences": len(sentences),
           "corpus_chars": sum(len(d.text) for d in documents), "synthesis_s": round(time.perf_counter() - t0, 1)}

    # The real build writer (FAISS indexes, SQLite store, BM25 over jieba tokens, manifest, atomic swap).
    root = args.out
    t = time.perf_counter()
    manifest = write_build(root, documents, passages, sentences, S_all,
                           Manifest.describe(embedder.model_id, ChunkConfig(), "synthetic"))
    out["index_build_s (no embedding)"] = round(time.perf_counter() - t, 1)
    out["faiss_index"] = manifest.faiss_index
    out["index_size_mb"] = round(sum(f.stat().st_size for f in (root / "current").resolve().rglob("*") if f.is_file()) / 1e6, 1)
    del passages, documents, sentences

    t = time.perf_counter()
    kb = load(root)
    out["load_s"] = round(time.perf_counter() - t, 1)
    questions = [it["question"] for it in load_items(Path(__file__).resolve().parent.parent / "eval" / "dev.jsonl")]
    records = [analyze(q, kb.cities, kb.default_year) for q in questions]
    search(kb, embedder, records[0], 5)
    for label, settings in (("city-scoped", RetrievalConfig()), ("whole index", RetrievalConfig(report_aware=False))):
        ms = []
        for q in records:
            t = time.perf_counter()
            search(kb, embedder, q, 5, settings)
            ms.append((time.perf_counter() - t) * 1000)
        out[f"query {label} p50/p95 ms"] = f"{percentile(ms, 50):.1f} / {percentile(ms, 95):.1f}"

    # Approximate vs exact: recall of the IVF indexes against flat search on the same vectors,
    # with the query vectors retrieval searches with (generic directions discounted).
    cfg = RetrievalConfig()
    qv = np.stack([ranking_query(kb, v, cfg) for v in embedder.embed_queries(questions)])
    P_all = kb.faiss_index.reconstruct_n(0, kb.faiss_index.ntotal)
    for label, index, vectors in (("passages", kb.faiss_index, P_all), ("sentences", kb.sentence_index, S_all)):
        if not isinstance(index, faiss.IndexIVF):
            out[f"recall@10 {label}"] = "flat (exact)"
            continue
        flat = faiss.IndexFlatIP(vectors.shape[1])
        flat.add(vectors)
        _, exact = flat.search(qv, 10)
        found = [set(_ann_search(index, q, 10, cfg.ivf_nprobe).tolist()) for q in qv]
        out[f"recall@10 {label} (IVF nprobe vs flat)"] = round(float(np.mean([len(f & set(e)) / 10 for f, e in zip(found, exact)])), 3)
    out["peak_rss_mb"] = round(rss_mb())
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
