"""The generic reader alone on the CMRC sets, passages from BM25 (jieba words + character bigrams,
top 6; no model): answer containment, refusals and median answer length per set.

Sets: trial (questions_trial.jsonl, tuning), tune (dev questions whose paragraph number % 5 == 0,
tuning), heldout (the other dev questions: measured, never looked into), unans (the 24 written
unanswerable questions used in tuning), unans2 (24 more, kept untouched until the end).

    python scripts/cmrc_reader_eval.py trial,tune,unans [--misses trial]
"""
import json
import statistics
import sys
from pathlib import Path

import numpy as np

import qa.generic_answer as ga
from qa.chunking import chunk_document
from qa.external_eval import contains_answer
from qa.generic_search import generic_keyword_text, generic_tokens
from qa.ingest import load_documents
from qa.keywords import bm25_scores, build_bm25

HERE = Path("eval/external/cmrc2018")


def paragraph_number(item: dict) -> int:
    return int(item["gold_doc_ids"][0].split("_")[1])


def load_sets(names: list[str]) -> dict[str, list[dict]]:
    read = lambda f: [json.loads(line) for line in open(HERE / f, encoding="utf-8") if line.strip()]
    sets = {}
    for name in names:
        if name == "trial":
            sets[name] = read("questions_trial.jsonl")
        elif name in ("tune", "heldout", "dev"):
            dev = read("questions.jsonl")
            keep = {"tune": lambda n: n % 5 == 0, "heldout": lambda n: n % 5 != 0, "dev": lambda n: True}[name]
            sets[name] = [it for it in dev if keep(paragraph_number(it))]
        elif name == "unans":
            sets[name] = read("unanswerable_written.jsonl")
        elif name == "unans2":
            sets[name] = read("unanswerable_written_2.jsonl")
    return sets


def main() -> None:
    names = sys.argv[1].split(",")
    show = sys.argv[sys.argv.index("--misses") + 1].split(",") if "--misses" in sys.argv else []
    docs = load_documents([HERE / "corpus.jsonl"]).documents
    passages = [p for d in docs for p in chunk_document(d)]
    bm = build_bm25([generic_tokens(generic_keyword_text(p)) for p in passages])

    def top(q: str, k: int = 6) -> list:
        s = bm25_scores(bm, generic_tokens(q))
        return [passages[i] for i in np.argsort(-s, kind="stable")[:k]]

    for name, items in load_sets(names).items():
        ok = refused = answered_unans = 0
        lens = []
        for it in items:
            a = ga.generic_answer(it["question"], top(it["question"]))
            if not it["answers"]:
                refused += a.refused
                if not a.refused and name in show:
                    print(f"  ANSWERED {it['question']} -> {a.text[:150]}")
                continue
            if a.refused:
                refused += 1
            else:
                lens.append(len(a.text))
            hit = not a.refused and contains_answer(a.text, it["answers"])
            ok += hit
            if not hit and name in show:
                print(f"  MISS {it['id']} {it['question']} | {it['answers'][:2]} | {'REFUSED' if a.refused else a.text[:300]}")
        n = len(items)
        if items and not items[0]["answers"]:
            print(f"{name} ({n}): refused {refused}/{n}", flush=True)
        else:
            print(f"{name} ({n}): contained {ok / n:.3f} ({ok}) | refused {refused / n:.3f} ({refused}) | "
                  f"median chars {statistics.median(lens) if lens else 0}", flush=True)


if __name__ == "__main__":
    main()
