"""The generic reader alone on a CMRC-style file (passages: top 6 of BM25 over jieba words + character
bigrams; no model): containment, refusals, and the written unanswerable questions, over a grid of
refusal threshold x second-sentence margin x sentences kept.

    python scripts/cmrc_reader_grid.py eval/external/cmrc2018/questions_trial.jsonl [0.4,0.2,3]
"""
import json, sys, statistics
from pathlib import Path
import numpy as np
import qa.generic_answer as ga
from qa.ingest import load_documents
from qa.chunking import chunk_document
from qa.external_eval import contains_answer
from qa.generic_search import generic_tokens, generic_keyword_text
from qa.keywords import build_bm25, bm25_scores
docs = load_documents([Path('eval/external/cmrc2018/corpus.jsonl')]).documents
ps = [p for d in docs for p in chunk_document(d)]
bm = build_bm25([generic_tokens(generic_keyword_text(p)) for p in ps])
def top(q, k=6):
    s = bm25_scores(bm, generic_tokens(q)); return [ps[i] for i in np.argsort(-s)[:k]]
items = [json.loads(l) for l in open(sys.argv[1])]
unans = [json.loads(l) for l in open('eval/external/cmrc2018/unanswerable_written.jsonl')]
cand = [(it, top(it["question"])) for it in items]
ucand = [(it, top(it["question"])) for it in unans]
grid = [(mo, m, x) for mo in (0.3, 0.35, 0.4) for m in (0.1, 0.2) for x in (2, 3)]
if len(sys.argv) > 2: grid = [tuple(map(float, sys.argv[2].split(",")))]
for mo, margin, maxs in grid:
    ga.MIN_COVERAGE, ga.SECOND_MARGIN, ga.MAX_SENTENCES = mo, margin, int(maxs)
    ok = ref = 0; lens = []
    for it, p in cand:
        a = ga.generic_answer(it["question"], p)
        if a.refused: ref += 1; continue
        lens.append(len(a.text)); ok += contains_answer(a.text, it["answers"])
    ur = sum(ga.generic_answer(it["question"], p).refused for it, p in ucand)
    print(f"min_overlap {mo} margin {margin} max {maxs}: contained {ok/len(items):.3f} refused {ref/len(items):.3f} median chars {statistics.median(lens)} | unanswerable refused {ur}/{len(unans)}", flush=True)
