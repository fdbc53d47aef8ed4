"""Build the plain LangChain recipe (same code as `--baseline`), time it, and save the FAISS index and
its row -> doc_id map (JSON, no pickle) for querying in a separate single-threaded process."""
import json, sys, time
from pathlib import Path
import faiss
from qa.external_eval import build_baseline, corpus_of
from qa.pipeline import get_embedder
path = Path(sys.argv[1]); out = Path(sys.argv[2]); out.mkdir(parents=True, exist_ok=True)
store, seconds, n = build_baseline(corpus_of(path), get_embedder())
faiss.write_index(store.index, str(out / "index.faiss"))
ids = [store.docstore.search(store.index_to_docstore_id[i]).metadata["doc_id"] for i in range(store.index.ntotal)]
(out / "doc_ids.json").write_text(json.dumps(ids))
print(json.dumps({"chunks": n, "build_seconds": round(seconds, 1), "index": type(store.index).__name__}))
