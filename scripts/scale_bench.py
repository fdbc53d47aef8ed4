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
import uuid
from dataclasses import replace
from pathlib import Path

import faiss
import numpy as np

from qa.chunking import CHUNKER_VERSION, keyword_text
from qa.evaluate import load_items, percentile
from qa.index import _atomic_write, _swap_current, _write_store, build_bm25, centroid_for_manifest, load, make_faiss_index, mean_vectors, save_bm25
from qa.keywords import tokenize_zh
from qa.pipeline import get_embedder, open_kb
from qa.query import city_aliases
from qa.retrieval import HUB_PENALTY, SearchSettings, _ann_search, search

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
    P = base.faiss_index.reconstruct_n(0, base.faiss_index.ntotal)
    S = base.sentence_index.reconstruct_n(0, base.sentence_index.ntotal)
    docs = list(base.documents.values())
    aliases = {d.city: [a for a in city_aliases(d.city) if len(a) == 2][0] for d in docs if d.city}
    names = synthetic_names(len(aliases) * args.factor, set(aliases.values()))
    t0 = time.perf_counter()

    documents, passages, sentences, pvecs, svecs = [], [], [], [], []
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
        S_copy = S if copy == 0 else perturbed(S, rng)
        svecs.append(S_copy)  # a passage's vector is the mean of its sentences', as in a real build
        pvecs.append(P if copy == 0 else mean_vectors(S_copy, base.sentences[:, 0], len(base.passages)))
    P_all, S_all = np.vstack(pvecs), np.vstack(svecs)
    del pvecs, svecs
    out = {"factor": args.factor, "documents": len(documents), "passages": len(passages), "sentences": len(sentences),
           "corpus_chars": sum(len(d.text) for d in documents), "synthesis_s": round(time.perf_counter() - t0, 1)}

    root = args.out
    (root / "builds").mkdir(parents=True, exist_ok=True)
    build_dir = root / "builds" / uuid.uuid4().hex[:8]
    build_dir.mkdir()
    t = time.perf_counter()
    pindex = make_faiss_index(P_all)
    faiss.write_index(pindex, str(build_dir / "index.faiss"))
    out["faiss_passages"] = f"{type(pindex).__name__} {time.perf_counter() - t:.1f} s"
    t = time.perf_counter()
    sindex = make_faiss_index(S_all)
    faiss.write_index(sindex, str(build_dir / "sentences.faiss"))
    out["faiss_sentences"] = f"{type(sindex).__name__} {time.perf_counter() - t:.1f} s"
    t = time.perf_counter()
    save_bm25(build_bm25([tokenize_zh(keyword_text(p)) for p in passages]), build_dir / "bm25")
    out["bm25_build_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    _write_store(build_dir / "store.sqlite", documents, passages, sentences)
    out["store_write_s"] = round(time.perf_counter() - t, 1)
    manifest = {"format_version": base.manifest["format_version"], "embed_model": embedder.model_id, "dim": embedder.dim,
                "sentence_centroid": centroid_for_manifest(S_all.mean(axis=0)),
                "chunker_version": CHUNKER_VERSION, "chunk_config": base.manifest["chunk_config"], "corpus_hash": "synthetic",
                "faiss_index": type(pindex).__name__, "documents": len(documents), "passages": len(passages)}
    _atomic_write(build_dir / "manifest.json", json.dumps(manifest))
    _swap_current(root, build_dir)
    out["index_build_s (no embedding)"] = round(time.perf_counter() - t0, 1)
    out["index_size_mb"] = round(sum(f.stat().st_size for f in build_dir.rglob("*") if f.is_file()) / 1e6, 1)
    del pindex, sindex, passages, documents, sentences

    t = time.perf_counter()
    kb = load(root)
    out["load_s"] = round(time.perf_counter() - t, 1)
    questions = [it["question"] for it in load_items(Path(__file__).resolve().parent.parent / "eval" / "dev.jsonl")]
    search(kb, embedder, questions[0])
    for label, settings in (("city-scoped", SearchSettings()), ("whole index", SearchSettings(report_aware=False))):
        ms = []
        for q in questions:
            t = time.perf_counter()
            search(kb, embedder, q, k=5, settings=settings)
            ms.append((time.perf_counter() - t) * 1000)
        out[f"query {label} p50/p95 ms"] = f"{percentile(ms, 50):.1f} / {percentile(ms, 95):.1f}"

    # Approximate vs exact: recall of the IVF indexes against flat search on the same vectors,
    # with the query vectors retrieval searches with (generic directions discounted).
    qv = embedder.embed_queries(questions) - HUB_PENALTY * kb.centroid
    for label, index, vectors in (("passages", kb.faiss_index, P_all), ("sentences", kb.sentence_index, S_all)):
        if not isinstance(index, faiss.IndexIVF):
            out[f"recall@10 {label}"] = "flat (exact)"
            continue
        flat = faiss.IndexFlatIP(vectors.shape[1])
        flat.add(vectors)
        _, exact = flat.search(qv, 10)
        found = [set(_ann_search(index, q, 10).tolist()) for q in qv]
        out[f"recall@10 {label} (IVF nprobe vs flat)"] = round(float(np.mean([len(f & set(e)) / 10 for f, e in zip(found, exact)])), 3)
    out["peak_rss_mb"] = round(rss_mb())
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
