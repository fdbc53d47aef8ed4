"""Retrieval ablation on a question file: which part of retrieval earns what.

    .venv/bin/python scripts/ablation.py eval/dev.jsonl
"""
import sys
from pathlib import Path

from qa.config import RetrievalConfig as Settings
from qa.evaluate import evaluate_retrieval, load_items
from qa.pipeline import get_embedder, open_kb
from qa.query import analyze
from qa.retrieval import search, to_passages

VARIANTS = {
    "dense only (passage + sentence vectors)": Settings(keyword=False, report_aware=False),
    "keyword only (BM25, jieba)": Settings(dense=False, report_aware=False),
    "hybrid (weighted fusion)": Settings(report_aware=False),
    "hybrid, RRF fusion": Settings(report_aware=False, fusion="rrf", keyword_weight=1.0, adaptive_keyword_weight=False),
    "dense + report awareness": Settings(keyword=False),
    "hybrid + report awareness (default)": Settings(),
    "hybrid + report awareness, fixed keyword weight": Settings(adaptive_keyword_weight=False),
}


def main(path: str) -> None:
    items = load_items(Path(path))
    kb, embedder = open_kb(), get_embedder()
    def ranked(question: str, settings: Settings):
        q = analyze(question, kb.cities, kb.default_year)
        return to_passages(kb, search(kb, embedder, q, 10, settings).hits)

    ranked(items[0]["question"], Settings())  # warm-up
    print("| variant | hit@1 | hit@5 | MRR@10 | semantic hit@5 | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for name, settings in VARIANTS.items():
        report = evaluate_retrieval(items, lambda q: ranked(q, settings))
        o, lat = report["overall"], report["latency_ms"]
        sem = report["by_type"].get("semantic", {}).get("hit@5", float("nan"))
        print(f"| {name} | {o['hit@1']:.3f} | {o['hit@5']:.3f} | {o['mrr@10']:.3f} | {sem:.3f} | {lat['p50']:.1f} | {lat['p95']:.1f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "eval/dev.jsonl")
