"""Query the saved baseline index exactly as FAISS.similarity_search does (embed_query, index.search, k=10)."""
import json, sys
from pathlib import Path
import faiss, numpy as np
from qa.evaluate import load_items
from qa.external_eval import score_retrieval
from embeddings import LangChainEmbeddings
out = Path(sys.argv[1]); index = faiss.read_index(str(out / "index.faiss")); ids = json.loads((out / "doc_ids.json").read_text())
emb = LangChainEmbeddings()
def search(q):
    v = np.asarray([emb.embed_query(q)], dtype=np.float32)
    _, found = index.search(v, 10)
    return [ids[i] for i in found[0] if i >= 0]
for f in sys.argv[2:]:
    r, _ = score_retrieval(load_items(Path(f)), search)
    print(json.dumps({"file": f, "retrieval": r}), flush=True)
