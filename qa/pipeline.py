"""The one path from files to answers: open (or build) the knowledge base, retrieve, answer.

    files --ingest--> Documents --chunking--> Passages --embeddings/BM25--> index (disk)
    question --query--> cities, years, synonyms --retrieve--> Passages --answer--> Answer
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from .index import IndexCorruptError, KnowledgeBase, build, default_kb_dir, load, staleness
from .retrieval import SearchSettings, search, to_passages
from .schema import Passage

log = logging.getLogger(__name__)

_loaded: dict[Path, KnowledgeBase] = {}
_lock = threading.Lock()


def get_embedder():
    from embeddings import load_embedder

    return load_embedder()


def open_kb(kb_dir: str | Path | None = None, progress=None) -> KnowledgeBase:
    """The knowledge base at kb_dir ($QA_KB_DIR, else the bundled reports' one), loaded once per
    process; built first when it is missing, stale (sources, model or chunker changed) or corrupt."""
    root = Path(kb_dir or default_kb_dir()).resolve()
    with _lock:
        if root in _loaded:
            return _loaded[root]
        embedder = get_embedder()
        why = staleness(root, embedder.model_id)
        if why:
            log.warning("building the index at %s (%s)", root, why)
            kb, errors = build(root, embedder=embedder, progress=progress)
            for name, reason in errors:
                log.warning("skipped %s: %s", name, reason)
        else:
            try:
                kb = load(root)
            except IndexCorruptError as exc:
                log.warning("%s; rebuilding", exc)
                kb, _ = build(root, embedder=embedder, progress=progress)
        _loaded[root] = kb
        return kb


def forget_kb(kb_dir: str | Path | None = None) -> None:
    """Drop the cached knowledge base so the next call reloads it (after a rebuild)."""
    with _lock:
        _loaded.pop(Path(kb_dir or default_kb_dir()).resolve(), None)


def retrieve(
    question: str,
    k: int = 5,
    city: str | list[str] | None = None,
    kb_dir: str | Path | None = None,
    settings: SearchSettings = SearchSettings(),
) -> list[Passage]:
    """The k best passages for a question, best first. `city` restricts the search to those
    reports (「彬州市」 or a list); otherwise a city named in the question does."""
    kb = open_kb(kb_dir)
    cities = [city] if isinstance(city, str) else city
    result = search(kb, get_embedder(), question, k=k, cities=cities, settings=settings)
    return to_passages(kb, result.hits)
