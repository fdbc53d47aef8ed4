"""`python -m qa eval` on an external span-extraction benchmark in the CMRC 2018 layout
(eval/external/cmrc2018/): `corpus.jsonl` ({"doc_id","title","text"}) beside question files whose
items carry "question", "answers" (reference spans, any one is right) and "gold_doc_ids".

A knowledge base is built from the corpus (or reused when current), then scored:
- retrieval: rank of the first passage of a gold document among the top 10 (hit@1/5, MRR@10);
- answers (extractive): does some reference span occur in the answer text; refusals counted;
- `--baseline`: the plain LangChain recipe on the same corpus with the same e5 model
  (RecursiveCharacterTextSplitter -> FAISS -> similarity_search), side by side.
"""
from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .evaluate import normalize_for_match, percentile, print_report
from .index import PROJECT_DIR

BASELINE_CHUNK_CHARS = 500
BASELINE_OVERLAP = 50
# Paragraph, line, then Chinese (and ASCII) sentence ends, then clause marks.
BASELINE_SEPARATORS = ["\n\n", "\n", "。", "！", "？", "；", "!", "?", ";", "，", ",", " ", ""]


def is_span_benchmark(items: list[dict]) -> bool:
    """A CMRC-style item names its gold paragraph(s)."""
    return bool(items) and "gold_doc_ids" in items[0]


def corpus_of(questions: Path) -> Path:
    corpus = Path(questions).resolve().parent / "corpus.jsonl"
    if not corpus.is_file():
        raise FileNotFoundError(f"{corpus}: the corpus of {Path(questions).name} must lie beside it")
    return corpus


def default_kb_for(corpus: Path) -> Path:
    """kb/<benchmark folder name> under the project (git-ignored)."""
    return PROJECT_DIR / "kb" / corpus.parent.name


@dataclass
class Built:
    kb: object
    seconds: float  # build time in this run, or as recorded in the manifest when reused
    reused: bool


def open_benchmark_kb(corpus: Path, kb_dir: Path, cold: bool = False) -> Built:
    """The knowledge base of the corpus at kb_dir: reused when current, else built (from an empty
    embedding cache when `cold`, so that its build time compares with the baseline's)."""
    from .index import KBConfig, build, staleness
    from .pipeline import forget_kb, get_embedder, open_kb

    embedder = get_embedder()
    config_file = kb_dir / "config.json"
    same_source = config_file.exists() and KBConfig.read(kb_dir).sources == [str(corpus.resolve())]
    if not cold and same_source and staleness(kb_dir, embedder.model_id) is None:
        kb = open_kb(kb_dir)
        return Built(kb, float(kb.manifest.build_seconds), True)
    if cold:
        (kb_dir / "embed_cache.sqlite").unlink(missing_ok=True)
    t0 = time.perf_counter()
    kb, errors = build(kb_dir, sources=[corpus], embedder=embedder)
    seconds = time.perf_counter() - t0
    for name, reason in errors:
        print(f"skipped {name}: {reason}")
    forget_kb(kb_dir)
    return Built(open_kb(kb_dir), seconds, False)


def gold_rank(doc_ids: list[str], gold: list[str], k: int = 10) -> int | None:
    """1-based rank of the first retrieved passage from a gold document, within the top k."""
    return next((i + 1 for i, d in enumerate(doc_ids[:k]) if d in gold), None)


def retrieval_summary(ranks: list[int | None], latencies_ms: list[float]) -> dict:
    n = len(ranks) or 1
    return {
        "n": len(ranks),
        "hit@1": sum(1 for r in ranks if r and r <= 1) / n,
        "hit@5": sum(1 for r in ranks if r and r <= 5) / n,
        "mrr@10": sum(1 / r for r in ranks if r and r <= 10) / n,
        "p50_ms": percentile(latencies_ms, 50),
        "p95_ms": percentile(latencies_ms, 95),
    }


def score_retrieval(items: list[dict], retrieve_ids: Callable[[str], list[str]]) -> tuple[dict, list[dict]]:
    ranks, latencies, misses = [], [], []
    for item in (it for it in items if it["gold_doc_ids"]):  # a question no paragraph answers has no rank
        t0 = time.perf_counter()
        ids = retrieve_ids(item["question"])
        latencies.append((time.perf_counter() - t0) * 1000)
        rank = gold_rank(ids, item["gold_doc_ids"])
        ranks.append(rank)
        if rank != 1:
            misses.append({"id": item.get("id"), "rank": rank, "question": item["question"], "top": ids[:3]})
    return retrieval_summary(ranks, latencies), misses


def contains_answer(text: str, answers: list[str]) -> bool:
    """Some reference span occurs in the text (NFKC, whitespace ignored)."""
    norm = normalize_for_match(text)
    return any((a := normalize_for_match(ans)) and a in norm for ans in answers)


def score_answers(items: list[dict], ask: Callable) -> tuple[dict, list[dict]]:
    """Answerable items (with reference spans): containment, refusals, gold paragraph cited.
    Items without references: how many were refused."""
    rows, unanswerable, misses = [], [], []
    for item in items:
        t0 = time.perf_counter()
        ans = ask(item["question"])
        ms = (time.perf_counter() - t0) * 1000
        if not item["answers"]:
            unanswerable.append((ans.refused, ms))
            if not ans.refused:
                misses.append({"id": item.get("id"), "question": item["question"], "answer": ans.text[:200]})
            continue
        contained = not ans.refused and contains_answer(ans.text, item["answers"])
        cited = any(p.doc_id in item["gold_doc_ids"] for p in (c.passage for c in ans.citations))
        rows.append((contained, ans.refused, cited, ms, len(ans.text)))
        if not contained:
            misses.append({"id": item.get("id"), "question": item["question"], "answers": item["answers"][:2],
                           "refused": ans.refused, "answer": ans.text[:200]})
    n = len(rows) or 1
    answered = [r for r in rows if not r[1]]
    ms = [r[3] for r in rows] + [m for _, m in unanswerable]
    return {
        "n": len(rows),
        "containment": sum(r[0] for r in rows) / n,
        "refused": sum(r[1] for r in rows) / n,
        "cited_gold": sum(r[2] for r in answered) / (len(answered) or 1),
        "answer_chars_median": statistics.median([r[4] for r in answered]) if answered else 0,
        "unanswerable": len(unanswerable),
        "refusal_recall": sum(r for r, _ in unanswerable) / (len(unanswerable) or 1),
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
    }, misses


# ---------------------------------------------------------------- the plain LangChain recipe


def load_corpus(corpus: Path) -> list[dict]:
    return [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()]


def build_baseline(corpus: Path, embedder) -> tuple[object, float, int]:
    """RecursiveCharacterTextSplitter (Chinese separators, 500 characters, 50 overlap) -> FAISS with
    the same e5 model. Returns (vector store, build seconds, chunks)."""
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document as LCDocument
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from embeddings import LangChainEmbeddings

    t0 = time.perf_counter()
    docs = [LCDocument(page_content=row["text"], metadata={"doc_id": row["doc_id"], "title": row.get("title", "")})
            for row in load_corpus(corpus)]
    splitter = RecursiveCharacterTextSplitter(chunk_size=BASELINE_CHUNK_CHARS, chunk_overlap=BASELINE_OVERLAP,
                                              separators=BASELINE_SEPARATORS, keep_separator="end")
    chunks = splitter.split_documents(docs)
    store = FAISS.from_documents(chunks, LangChainEmbeddings(embedder))
    return store, time.perf_counter() - t0, len(chunks)


# ---------------------------------------------------------------- the command


def _row(name: str, r: dict, build_s: float, note: str = "") -> str:
    return (f"{name:22}{r['hit@1']:7.3f}{r['hit@5']:7.3f}{r['mrr@10']:8.3f}{r['p50_ms']:9.1f}{r['p95_ms']:9.1f}"
            f"{build_s:10.1f}  {note}")


def run_span_benchmark(path: Path, kb_dir=None, with_answers: bool = True, baseline: bool = False, cold: bool = False,
                       limit: int | None = None, show_misses: bool = False, as_json: bool = False) -> int:
    from .answer import ask
    from .evaluate import load_items
    from .pipeline import get_embedder, retrieve

    loaded = load_items(path)[:limit]
    items = [it for it in loaded if it["question"].strip()]  # CMRC's trial file has two empty questions
    corpus = corpus_of(path)
    root = Path(kb_dir).resolve() if kb_dir else default_kb_for(corpus)
    built = open_benchmark_kb(corpus, root, cold=cold)
    kb = built.kb
    retrieve(items[0]["question"], kb_dir=root)  # warm-up: the first query loads the model
    ours, misses = score_retrieval(items, lambda q: [p.doc_id for p in retrieve(q, k=10, kb_dir=root)])
    retrieval_rows = ours["n"] > 0
    out: dict = {"questions": str(path), "corpus_documents": len(kb.documents), "passages": len(kb.passages),
                 "kinds": _kinds(kb), "build_seconds": round(built.seconds, 1), "build_reused": built.reused,
                 "retrieval": ours}
    note = f"{len(kb.passages)} passages, " + ("reused (recorded build time)" if built.reused else "built now")
    skipped = f" ({len(loaded) - len(items)} empty questions skipped)" if len(loaded) > len(items) else ""
    lines = [f"== {Path(path).name}: {len(items)} questions{skipped}, corpus {len(kb.documents)} documents ({_kinds(kb)})",
             f"{'':22}{'hit@1':>7}{'hit@5':>7}{'MRR@10':>8}{'p50 ms':>9}{'p95 ms':>9}{'build s':>10}",
             _row("report-qa", ours, built.seconds, note)]
    if not retrieval_rows:
        lines[1:] = [f"no question names a gold paragraph; index: {note}, {built.seconds:.1f} s"]
    if baseline and retrieval_rows:
        embedder = get_embedder()
        store, seconds, n_chunks = build_baseline(corpus, embedder)
        store.similarity_search(items[0]["question"], k=10)  # warm-up
        base, _ = score_retrieval(items, lambda q: [d.metadata["doc_id"] for d in store.similarity_search(q, k=10)])
        out["baseline"] = {"retrieval": base, "build_seconds": round(seconds, 1), "chunks": n_chunks}
        lines.append(_row("LangChain recipe", base, seconds, f"{n_chunks} chunks, built now"))
    if with_answers:
        answers, answer_misses = score_answers(items, lambda q: ask(q, kb_dir=root, mode="extractive"))
        out["answers"] = answers
        misses += answer_misses
        if answers["n"]:
            lines.append(f"answers (extractive, {answers['n']}): containment {answers['containment']:.3f} | refused "
                         f"{answers['refused']:.3f} | cited gold paragraph {answers['cited_gold']:.3f} | median answer "
                         f"{answers['answer_chars_median']:.0f} chars")
        if answers["unanswerable"]:
            lines.append(f"unanswerable ({answers['unanswerable']}): refused {answers['refusal_recall']:.3f}")
        lines.append(f"ask p50 {answers['p50_ms']:.1f} ms, p95 {answers['p95_ms']:.1f} ms")
    return print_report(out, lines, misses, show_misses, as_json)


def _kinds(kb) -> str:
    kinds: dict[str, int] = {}
    for d in kb.documents.values():
        kind = getattr(d, "kind", "") or "?"
        kinds[kind] = kinds.get(kind, 0) + 1
    return ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
