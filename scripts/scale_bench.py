"""Scale benchmark: the pipeline on a corpus N times the bundled one (default 100x).

    .venv/bin/python scripts/scale_bench.py --factor 100
    .venv/bin/python scripts/scale_bench.py --factor 1000 --out DIR --build-only   # then:
    .venv/bin/python scripts/scale_bench.py --factor 1000 --out DIR --query-only [--skip-recall]

The corpus: synthetic copies of the bundled reports with every city name replaced by a made-up
two-character name (same length, so every offset stays valid). Embedding 100x the corpus on 2 cores
would take hours, so a copy reuses the real vectors of its original sentences, slightly perturbed
and re-normalised (written to a file on disk, a copy at a time: 1000x is 12.6 GB), its passage
vectors are their means, and its facts are the originals' with the report renamed. Everything
else is the real code: index choice and build (qa.index.write_build, a copy per qa.index.Part, made
as the build reads it), BM25 over jieba tokens of all the text, the SQLite store, loading, queries
through `qa.retrieval.search` with the real embedder, and qa.ask's answer steps on the fact questions.

Loading and queries run in a fresh process (`--query-only`), so its resident memory is what a
server holding this index needs, not what the build left behind. Recall@10 of the approximate
indexes is measured against exact search computed in chunks from the stored vectors, for the dev
questions (used to choose nprobe and the refine factor) and for held-apart questions (never used
for tuning), with the query vectors retrieval searches with (generic directions discounted).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import faiss
import numpy as np

from qa.chunking import ChunkConfig
from qa.answer import extractive_answer, fact_answer, gather
from qa.config import RetrievalConfig, from_env
from qa.evaluate import load_items, percentile
from qa.index import Manifest, Part, load, mean_vectors, write_build
from qa.pipeline import get_embedder, open_kb
from qa.query import analyze, city_aliases
from qa.retrieval import _ann_search, dense_search, ranking_query, search
from qa import vector_index
from qa.vector_index import RefinedIndex, exact_top, read_vector_index, write_npy, write_vector_index

# 157 characters: 24,649 two-character names, enough for 1000 copies of 24 cities
POOL = "".join(dict.fromkeys(
    "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥东西南北春夏秋冬金木水火土日月星云山川江河湖海松竹梅兰菊桃李杏"
    "仁义礼智信忠孝廉勇温良恭俭让宽敏惠慈和顺泰康宁安平昌盛兴隆荣华富贵吉祥瑞福禄寿喜乐嘉庆丰登鸿鹏鹤凤麟龙虎豹"
    "鹿雁燕莺鹊鸥桐柳杨榆槐柏枫樟楠桂荷莲芷兰蕙苓菱藻蒲苇芦萍蓉芙薇蔷霞霜雪露雷电风雨晴岚峰岭峪崖岩石玉珠琳琅"))[:160]
EVAL = Path(__file__).resolve().parent.parent / "eval"
TUNING = ("dev",)  # nprobe and the refine factor were chosen on these
HELD_APART = ("semantic_extra", "howto_extra", "unanswerable_extra", "facts_single", "facts_compare", "facts_absent")


def synthetic_names(n: int, taken: set[str]) -> list[str]:
    names = ("".join(p) for p in itertools.product(POOL, repeat=2))
    return list(itertools.islice((x for x in names if x not in taken), n))


def perturbed(vectors: np.ndarray, rng: np.random.Generator, sigma: float = 0.02) -> np.ndarray:
    out = vectors + rng.normal(0, sigma / np.sqrt(vectors.shape[1]), vectors.shape).astype(np.float32)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def memory_mb() -> dict:
    """Resident memory now and at peak (VmHWM); RssAnon is the process's own memory, RssFile the
    memory-mapped files' pages (page cache the kernel can drop)."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {k: round(int(status[k].split()[0]) / 1024) for k in ("VmRSS", "RssAnon", "RssFile", "VmHWM")}


class PeakOwnMemory:
    """The highest RssAnon seen (sampled every 0.2 s): VmHWM also counts the pages of memory-mapped
    files, which the kernel drops under pressure (reading 12.7 GB of mapped vectors once puts them
    all in VmHWM)."""

    def __init__(self):
        self.peak_mb, self._stop = 0, threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_mb = max(self.peak_mb, memory_mb()["RssAnon"])


def machine() -> dict:
    flags = subprocess.run("lscpu | grep -o -E 'avx512_bf16|avx512f|avx2|amx_bf16' | sort -u", shell=True,
                           capture_output=True, text=True).stdout.split()
    return {"cpu_flags": " ".join(flags), "uptime": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()}


def synthesize(factor: int, vectors_path: Path):
    """The sentence vectors of `factor` copies (written to a .npy file) and the copies themselves,
    one qa.index.Part each, made as the build reads them (never all in memory)."""
    base = open_kb()
    rng = np.random.default_rng(0)
    S = base.sentence_index.reconstruct_n(0, base.sentence_index.ntotal)
    docs = list(base.documents.values())
    aliases = {d.city: [a for a in city_aliases(d.city) if len(a) == 2][0] for d in docs if d.city}
    names = synthetic_names(len(aliases) * factor, set(aliases.values()))
    write_npy(vectors_path, (S if copy == 0 else perturbed(S, rng) for copy in range(factor)), (len(S) * factor, S.shape[1]))
    sentences = [(int(r), int(a), int(b)) for r, a, b in base.sentences]

    def copies():
        for copy in range(factor):
            rename = {} if copy == 0 else {old: names[copy * len(aliases) + j] for j, old in enumerate(aliases.values())}
            new_docs = {d.doc_id: _renamed_document(d, rename) for d in docs}
            passages = [replace(p, id=f"{new_docs[p.doc_id].doc_id}:{p.start}-{p.end}", doc_id=new_docs[p.doc_id].doc_id,
                                title=new_docs[p.doc_id].title, city=new_docs[p.doc_id].city,
                                section=_renamed(p.section, rename), text=new_docs[p.doc_id].text[p.start:p.end])
                        for p in base.passages]
            facts = [replace(f, doc_id=new_docs[f.doc_id].doc_id, city=new_docs[f.doc_id].city) for f in base.facts]
            yield Part(list(new_docs.values()), passages, sentences, facts)

    counts = {"documents": len(docs) * factor, "passages": len(base.passages) * factor,
              "sentences": len(sentences) * factor, "facts": len(base.facts) * factor,
              "corpus_chars": sum(len(d.text) for d in docs) * factor}
    return counts, copies(), np.load(vectors_path, mmap_mode="r")


def _renamed_document(d, rename: dict[str, str]):
    title = _renamed(d.title, rename)
    return replace(d, doc_id=title, title=title, text=_renamed(d.text, rename), city=_renamed(d.city, rename) if d.city else None)


def _renamed(text: str, rename: dict[str, str]) -> str:
    for old, new in rename.items():
        text = text.replace(old, new)
    return text


def build(args) -> dict:
    root = args.out
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    embedder = get_embedder()
    own = PeakOwnMemory()
    t0 = time.perf_counter()
    counts, parts, svecs = synthesize(args.factor, root / "synthetic_vectors.npy")
    out = {"factor": args.factor, **counts, "vector synthesis_s": round(time.perf_counter() - t0, 1),
           "memory_after_vector_synthesis_mb": memory_mb()}
    t = time.perf_counter()
    manifest = write_build(root, parts, svecs, Manifest.describe(embedder.model_id, ChunkConfig(), "synthetic"))
    out["index_build_s (no embedding; copies made as it reads them)"] = round(time.perf_counter() - t, 1)
    out["build_peak_rss_mb (synthesis + build; VmHWM, mapped files included)"] = memory_mb()["VmHWM"]
    out["build_peak_own_memory_mb (RssAnon, sampled)"] = own.peak_mb
    out["faiss_index"] = manifest.faiss_index
    build_dir = (root / "current").resolve()
    out["index_size_mb"] = {f.name: round(f.stat().st_size / 1e6) for f in sorted(build_dir.iterdir()) if f.is_file()}
    out["index_size_mb"]["bm25/"] = round(sum(f.stat().st_size for f in (build_dir / "bm25").rglob("*")) / 1e6)
    out["index_size_mb"]["total"] = round(sum(f.stat().st_size for f in build_dir.rglob("*") if f.is_file()) / 1e6)
    return out


def questions(sets) -> list[str]:
    return [it["question"] for name in sets for it in load_items(EVAL / f"{name}.jsonl") if "question" in it]


def recall_at_10(kb, embedder, cfg: RetrievalConfig) -> dict:
    """Recall@10 of the approximate whole-index search against exact search, from the stored vectors."""
    out = {}
    for part, sets in (("tuning (dev)", TUNING), ("held-apart", HELD_APART)):
        qs = questions(sets)
        qv = np.stack([ranking_query(kb, v, cfg) for v in embedder.embed_queries(qs)]).astype(np.float32)
        for label, index in (("passages", kb.faiss_index), ("sentences", kb.sentence_index)):
            if isinstance(index, faiss.IndexFlat):
                out[f"recall@10 {label} {part}"] = "flat (exact)"
                continue
            t = time.perf_counter()
            exact = exact_top(_Rows(index), qv, 10)
            exact_s = time.perf_counter() - t
            for nprobe, k_factor in ((16, 1), (32, 1), (32, 2), (64, 2), (32, 4)):
                if k_factor > 1 and not isinstance(index, RefinedIndex):
                    continue
                c = replace(cfg, ivf_nprobe=nprobe, refine_factor=k_factor)
                ms, found = [], []
                for q in qv:
                    t = time.perf_counter()
                    found.append(set(_ann_search(index, q, 10, c).tolist()))
                    ms.append((time.perf_counter() - t) * 1000)
                r = float(np.mean([len(f & set(e)) / 10 for f, e in zip(found, exact)]))
                out[f"recall@10 {label} {part} nprobe={nprobe} refine={k_factor}"] = (
                    f"{r:.3f} (ann p50/p95 {percentile(ms, 50):.1f}/{percentile(ms, 95):.1f} ms)")
            out[f"exact search from stored vectors, {label}, {len(qs)} queries"] = f"{exact_s:.1f} s"
    return out


class Embedded:
    """The embedder with the questions' vectors computed beforehand (to time retrieval alone)."""

    def __init__(self, embedder, texts: list[str]):
        texts = list(dict.fromkeys(texts))
        self.vectors = dict(zip(texts, embedder.embed_queries(texts)))

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])


class _Rows:
    """Row access for exact_top: a chunk of stored vectors at a time."""

    def __init__(self, index):
        self.index, self.shape = index, (index.ntotal, index.d)

    def __len__(self) -> int:
        return self.index.ntotal

    def __getitem__(self, rows: slice) -> np.ndarray:
        start, stop, _ = rows.indices(self.index.ntotal)
        return self.index.reconstruct_n(start, stop - start)


def query_phase(args) -> dict:
    own = PeakOwnMemory()
    out = {"memory_before_load_mb": memory_mb()}
    t = time.perf_counter()
    kb = load(args.out)
    out["load_s"] = round(time.perf_counter() - t, 1)
    out["memory_after_load_mb"] = memory_mb()
    embedder = get_embedder()
    records = [analyze(q, kb.cities, kb.default_year) for q in questions(TUNING + HELD_APART)]
    search(kb, embedder, records[0], 5)
    # Retrieval alone too: on a busy machine the question's embedding is most of the time.
    known = Embedded(embedder, [t for r in records for t in (r.text, r.scoped_text)])
    # The first pass after loading reads the mapped files' pages from disk or page cache; the
    # second finds them mapped (a server's steady state).
    for label, settings in (("city-scoped", RetrievalConfig()), ("whole index", RetrievalConfig(report_aware=False))):
        for what, emb in (("qa.retrieval.search, first pass", embedder), ("qa.retrieval.search, second pass", embedder),
                          ("the same, question vector given", known)):
            ms = []
            for q in records:
                t = time.perf_counter()
                search(kb, emb, q, 5, settings)
                ms.append((time.perf_counter() - t) * 1000)
            out[f"query {label} p50/p95 ms ({len(ms)} questions, {what})"] = f"{percentile(ms, 50):.1f} / {percentile(ms, 95):.1f}"
    out.update(answer_times(kb, embedder))
    out["memory_after_queries_mb"] = memory_mb()
    out["peak_own_memory_mb through the queries (RssAnon, sampled)"] = own.peak_mb
    if not args.skip_recall:
        out.update(recall_at_10(kb, embedder, RetrievalConfig()))
    out["memory_at_end_mb"] = memory_mb()
    return out


def answer_times(kb, embedder) -> dict:
    """qa.ask's steps on the report-fact questions (single, compare, whole-KB rankings, absent):
    evidence and the passage answer, then the facts answer."""
    config = from_env()
    qs = questions(("facts_single", "facts_compare", "facts_absent"))
    step, total = [], []
    for q in qs:
        t0 = time.perf_counter()
        e = gather(q, 5, None, kb, embedder, config)
        passage_answer = extractive_answer(e, config.answer)
        t1 = time.perf_counter()
        fact_answer(e.question, kb, passage_answer)
        t2 = time.perf_counter()
        step.append((t2 - t1) * 1000)
        total.append((t2 - t0) * 1000)
    return {f"answer ({len(qs)} fact questions) p50/p95 ms": f"{percentile(total, 50):.1f} / {percentile(total, 95):.1f}",
            "of which the facts step p50/p95 ms": f"{percentile(step, 50):.1f} / {percentile(step, 95):.1f}"}


def build_vectors_only(args) -> dict:
    """Only the vector side of `factor` copies: the passage and sentence indexes as write_build
    writes them, and the sentence rows (no text, keywords or store), for factors whose text side
    does not fit the time at hand."""
    root = args.out
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    base = open_kb()
    rng = np.random.default_rng(0)
    S = base.sentence_index.reconstruct_n(0, base.sentence_index.ntotal)
    n_p = len(base.passages)
    t = time.perf_counter()
    write_npy(root / "synthetic_vectors.npy", (S if c == 0 else perturbed(S, rng) for c in range(args.factor)),
              (len(S) * args.factor, S.shape[1]))
    rows = np.vstack([base.sentences + np.array([c * n_p, 0, 0]) for c in range(args.factor)])
    np.save(root / "sentence_rows.npy", rows)
    np.save(root / "centroid.npy", base.centroid)
    svecs = np.load(root / "synthetic_vectors.npy", mmap_mode="r")
    out = {"factor": args.factor, "passages": n_p * args.factor, "sentences": len(rows), "synthesis_s": round(time.perf_counter() - t, 1)}
    t = time.perf_counter()
    passage_vectors = mean_vectors(svecs, rows[:, 0], n_p * args.factor)
    out["passage means_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    out["passage index"] = write_vector_index(passage_vectors, root / "index.faiss")
    out["passage index build_s"] = round(time.perf_counter() - t, 1)
    del passage_vectors
    t = time.perf_counter()
    out["sentence index"] = write_vector_index(svecs, root / "sentences.faiss")
    out["sentence index build_s"] = round(time.perf_counter() - t, 1)
    out["build_peak_rss_mb"] = memory_mb()["VmHWM"]
    del svecs
    (root / "synthetic_vectors.npy").unlink()
    out["index_size_mb"] = {f.name: round(f.stat().st_size / 1e6) for f in sorted(root.iterdir()) if f.is_file()}
    return out


def query_vectors_only(args) -> dict:
    """Whole-index dense search (qa.retrieval.dense_search) and recall on the vector side alone."""
    out = {"memory_before_load_mb": memory_mb()}
    t = time.perf_counter()
    rows = np.load(args.out / "sentence_rows.npy")
    n_p = int(rows[-1, 0]) + 1
    kb = SimpleNamespace(faiss_index=read_vector_index(args.out / "index.faiss"),
                         sentence_index=read_vector_index(args.out / "sentences.faiss"), sentences=rows,
                         first_sentence=np.searchsorted(rows[:, 0], np.arange(n_p + 1)),
                         centroid=np.load(args.out / "centroid.npy"))
    out["load_s"] = round(time.perf_counter() - t, 1)
    out["memory_after_load_mb"] = memory_mb()
    embedder = get_embedder()
    cfg = RetrievalConfig()
    qvs = embedder.embed_queries(questions(TUNING + HELD_APART))
    dense_search(kb, qvs[0], None, cfg.candidates, cfg)
    ms = []
    for q in qvs:
        t = time.perf_counter()
        dense_search(kb, q, None, cfg.candidates, cfg)
        ms.append((time.perf_counter() - t) * 1000)
    out[f"dense_search whole index p50/p95 ms ({len(ms)} questions, query embedding excluded)"] = (
        f"{percentile(ms, 50):.1f} / {percentile(ms, 95):.1f}")
    out["memory_after_queries_mb"] = memory_mb()
    out.update(recall_at_10(kb, embedder, cfg))
    out["memory_at_end_mb"] = memory_mb()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--factor", type=int, default=100)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "qa-scale-kb")
    ap.add_argument("--query-only", action="store_true", help="load the index at --out and query it (a fresh process)")
    ap.add_argument("--keep", action="store_true", help="keep the index and the synthetic vectors afterwards")
    ap.add_argument("--compress-min", type=int, default=None,
                    help="compress vector indexes above this many vectors (default qa.vector_index.COMPRESS_MIN_VECTORS)")
    ap.add_argument("--vectors-only", action="store_true", help="only the vector indexes (no text, keywords, store)")
    ap.add_argument("--build-only", action="store_true", help="build and keep the index; query it later with --query-only")
    ap.add_argument("--skip-recall", action="store_true", help="with --query-only: latency and memory only")
    args = ap.parse_args()
    if args.compress_min is not None:  # to compare index types on one corpus (the break-even points)
        vector_index.COMPRESS_MIN_VECTORS = args.compress_min
    if args.query_only:
        print(json.dumps(query_vectors_only(args) if args.vectors_only else query_phase(args), ensure_ascii=False))
        return
    if args.vectors_only:
        out = {**machine(), **build_vectors_only(args)}
    else:
        out = {**machine(), **build(args)}
        (args.out / "synthetic_vectors.npy").unlink()
    print(json.dumps(out, ensure_ascii=False, indent=1), flush=True)
    if args.build_only:
        return
    child = subprocess.run([sys.executable, __file__, "--query-only", "--out", str(args.out)]
                           + ["--vectors-only"] * args.vectors_only, capture_output=True, text=True)
    if child.returncode:
        raise SystemExit(child.stderr)
    out.update(json.loads(child.stdout.strip().splitlines()[-1]))
    out.update({f"{k} (end)": v for k, v in machine().items()})
    print(json.dumps(out, ensure_ascii=False, indent=1))
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
