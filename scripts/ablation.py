"""Retrieval ablation on a question file: which part of retrieval earns what.

    .venv/bin/python scripts/ablation.py eval/dev.jsonl
"""
import sys
from pathlib import Path

from qa.evaluate import evaluate_retrieval, load_items
from qa.pipeline import get_embedder, open_kb
from qa.retrieval import SearchSettings, search, to_passages

VARIANTS = {
    "dense only (passage + sentence vectors)": SearchSettings(keyword=False, report_aware=False),
    "keyword only (BM25, jieba)": SearchSettings(dense=False, report_aware=False),
    "hybrid (weighted fusion)": SearchSettings(report_aware=False),
    "hybrid, RRF fusion": SearchSettings(report_aware=False, fusion="rrf", keyword_weight=1.0, adaptive_keyword_weight=False),
    "dense + report awareness": SearchSettings(keyword=False),
    "hybrid + report awareness (default)": SearchSettings(),
    "hybrid + report awareness, fixed keyword weight": SearchSettings(adaptive_keyword_weight=False),
}


def main(path: str) -> None:
    items = load_items(Path(path))
    kb, embedder = open_kb(), get_embedder()
    search(kb, embedder, items[0]["question"])  # warm-up
    print("| variant | hit@1 | hit@5 | MRR@10 | semantic hit@5 | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|")
    for name, settings in VARIANTS.items():
        report = evaluate_retrieval(items, lambda q: to_passages(kb, search(kb, embedder, q, k=10, settings=settings).hits))
        o, lat = report["overall"], report["latency_ms"]
        sem = report["by_type"].get("semantic", {}).get("hit@5", float("nan"))
        print(f"| {name} | {o['hit@1']:.3f} | {o['hit@5']:.3f} | {o['mrr@10']:.3f} | {sem:.3f} | {lat['p50']:.1f} | {lat['p95']:.1f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "eval/dev.jsonl")
