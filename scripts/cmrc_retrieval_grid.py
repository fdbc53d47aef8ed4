"""Generic retrieval weights on a CMRC-style file, with the dense side taken from an index built
before issue 17 (commit 940f70c: every passage = mean of its title+sentence vectors, and its best
sentence), so that sentence vectors and passage-mean vectors compare without re-embedding:

    python scripts/cmrc_retrieval_grid.py eval/external/cmrc2018/questions_trial.jsonl   # reads kb/cmrc2018_today
"""
import json, sys
from pathlib import Path
import numpy as np, faiss
from qa.ingest import load_documents
from qa.chunking import chunk_document
from qa.generic_search import generic_tokens, generic_keyword_text, char_bigrams
from qa.keywords import build_bm25, bm25_scores, tokenize_zh, STOPWORDS
from qa.pipeline import get_embedder
from qa.external_eval import gold_rank
root = Path('kb/cmrc2018_today/current').resolve()
pvecs = faiss.read_index(str(root / 'index.faiss')); pvecs = pvecs.reconstruct_n(0, pvecs.ntotal)
svi = faiss.read_index(str(root / 'sentences.faiss')); svecs = svi.reconstruct_n(0, svi.ntotal)
import sqlite3
srows = np.array(sqlite3.connect(str(root / 'store.sqlite')).execute('select row from sentences order by srow').fetchall())[:, 0]
cent = np.array(json.load(open(root / 'manifest.json'))['sentence_centroid'], np.float32)
docs = load_documents([Path('eval/external/cmrc2018/corpus.jsonl')]).documents
ps = [p for d in docs for p in chunk_document(d)]
assert len(ps) == len(pvecs)
doc_ids = np.array([p.doc_id for p in ps])
items = [json.loads(l) for l in open(sys.argv[1])]
qs = [it["question"] for it in items]
e = get_embedder(); Q = e.embed_queries(qs)
rq = Q - 0.1 * cent
dense_p = rq @ pvecs.T
S = rq @ svecs.T
best = np.full((len(qs), len(ps)), -np.inf, np.float32)
for j in np.unique(srows):
    pass
order = np.argsort(srows, kind='stable')
bounds = np.searchsorted(srows, np.arange(len(ps) + 1))
for r in range(len(ps)):
    best[:, r] = S[:, bounds[r]:bounds[r + 1]].max(axis=1)
dense_s = 0.3 * dense_p + 0.7 * best
def kwm(tok):
    bm = build_bm25([tok(generic_keyword_text(p)) for p in ps])
    m = np.vstack([bm25_scores(bm, tok(q)) for q in qs]).astype(np.float32)
    return m / np.maximum(m.max(1, keepdims=True), 1e-9)
kw = {"words": kwm(tokenize_zh), "bigrams": kwm(lambda t: [b for b in char_bigrams(t) if b not in STOPWORDS]), "both": kwm(generic_tokens)}
def show(name, sc):
    ranks = [gold_rank(list(doc_ids[np.argsort(-s)[:10]]), it["gold_doc_ids"]) for s, it in zip(sc, items)]
    n = len(ranks)
    print(f"| {name} | {sum(r == 1 for r in ranks)/n:.3f} | {sum(1 for r in ranks if r and r <= 5)/n:.3f} | {sum(1/r for r in ranks if r)/n:.3f} |", flush=True)
print("| variant | hit@1 | hit@5 | MRR@10 |\n|---|---|---|---|")
show("dense: passage = mean of sentence vectors", dense_p)
show("dense: 0.3 passage + 0.7 best sentence (today)", dense_s)
for k, m in kw.items(): show(f"keyword only: {k}", m)
for k, m in kw.items():
    for w in (0.05, 0.1, 0.2, 0.3, 0.5):
        show(f"mean-of-sentences dense + {w} x {k}", dense_p + w * m)
for w in (0.1, 0.2, 0.3):
    show(f"today dense + {w} x both", dense_s + w * kw["both"])
