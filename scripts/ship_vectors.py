"""Regenerate the shipped sentence vectors of the bundled reports (data/reports/vectors/).

    python scripts/ship_vectors.py [--backend torch --precision fp32] [--cache kb/ship_cache.sqlite]

Embeds every sentence the build embeds for data/reports (same chunking, same texts) with the
reference backend (torch, float32: every other backend is measured against it) and writes them
as float16 rows with their key list (qa/shipped_vectors.py). Run it after a change to the
chunker, the sentence texts, the model or its prompts; tests/test_shipped_vectors.py fails until then.
The cache file (git-ignored) lets an interrupted run resume.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from embeddings import load_embedder  # noqa: E402
from qa.chunking import chunk_document  # noqa: E402
from qa.index import DEFAULT_DATA_DIR, PROJECT_DIR, EmbeddingCache, text_hash, embed_with_cache  # noqa: E402
from qa.kinds import embedding_units  # noqa: E402
from qa.ingest import load_documents  # noqa: E402
from qa.shipped_vectors import SHIPPED_DIR, load_shipped, write_shipped  # noqa: E402


def bundled_texts() -> list[str]:
    """The distinct sentence texts a default build of data/reports embeds, in corpus order."""
    docs = load_documents([DEFAULT_DATA_DIR]).documents
    passages = [p for d in docs for p in chunk_document(d)]
    _, texts = embedding_units(passages)
    return list(dict.fromkeys(texts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="torch")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--cache", type=Path, default=PROJECT_DIR / "kb" / "ship_cache.sqlite")
    ap.add_argument("--out", type=Path, default=SHIPPED_DIR)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    embedder = load_embedder(backend=args.backend, precision=args.precision)
    texts = bundled_texts()
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    cache = EmbeddingCache(args.cache)
    t0 = time.perf_counter()
    try:
        vectors, n = embed_with_cache(embedder, texts, cache, progress=lambda f, m: print(m, flush=True))
    finally:
        cache.close()
    write_shipped(args.out, embedder.model_id, embedder.cache_key, [text_hash(t) for t in texts], vectors)
    shipped = load_shipped(args.out)
    assert shipped is not None and len(shipped.rows) == len(texts)
    size = sum((args.out / f).stat().st_size for f in ("sentences.npy", "sentences.json"))
    print(f"{len(texts)} sentences ({n} embedded now, {time.perf_counter() - t0:.1f} s) by {embedder.cache_key}"
          f" -> {args.out} ({size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
