"""The one path from files to answers: open (or build) the knowledge base, retrieve, answer.

    files --ingest--> Documents --chunking--> Passages --embeddings/BM25--> index (disk)
    question --query--> Question record --retrieval--> Passages --answer--> Answer (citations with spans)
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from .config import Config, EmbeddingConfig, from_env
from .errors import IndexCorruptError, IndexMissingError, KnowledgeBaseError
from .facts import Fact, select_facts
from .index import KnowledgeBase, build, load, staleness
from .query import analyze, check_k, check_question
from .retrieval import search, to_passages
from .schema import Passage

log = logging.getLogger(__name__)

_loaded: dict[Path, KnowledgeBase] = {}
_lock = threading.Lock()


def get_embedder(config: Config | EmbeddingConfig | None = None):
    """The embedder of the configured model, loaded once per process and setting."""
    from embeddings import load_embedder

    settings = config.embedding if isinstance(config, Config) else config
    return load_embedder(settings or from_env().embedding)


def kb_root(kb_dir: str | Path | None, config: Config | None = None) -> Path:
    return Path(kb_dir or (config or from_env()).kb_dir).resolve()


def open_kb(kb_dir: str | Path | None = None, progress=None, config: Config | None = None) -> KnowledgeBase:
    """The knowledge base at kb_dir ($QA_KB_DIR, else the bundled reports' one), loaded once per
    process; built first when it is missing, stale (sources, model or chunker changed) or corrupt."""
    config = config or from_env()
    root = kb_root(kb_dir, config)
    with _lock:
        if root in _loaded:
            return _loaded[root]
        check_is_kb(root, config)
        from .manage import recover_interrupted  # a removal killed mid-rebuild (manage imports this module)

        recover_interrupted(root)
        embedder = get_embedder(config)
        why = staleness(root, embedder.model_id)
        if why:
            log.warning("正在建立索引 %s（%s）", root, why)
            try:
                kb, errors = build(root, embedder=embedder, progress=progress)
            except KnowledgeBaseError as exc:
                if isinstance(exc, IndexCorruptError) or not (root / "current").exists():
                    raise
                # The sources cannot be indexed now (a folder gone, files emptied): the previous
                # build is intact, and answering from it beats failing every question.
                log.warning("cannot rebuild %s (%s); answering from the previous build", root, exc)
                kb, errors = load(root), []
            for name, reason in errors:
                log.warning("skipped %s: %s", name, reason)
        else:
            try:
                kb = load(root)
            except IndexCorruptError as exc:
                log.warning("%s。正在自动重建", exc)
                kb, _ = build(root, embedder=embedder, progress=progress)
        _loaded[root] = kb
        return kb


def check_is_kb(root: Path, config: Config) -> None:
    """IndexMissingError for a folder that is not a knowledge base (a mistyped --kb or QA_KB_DIR):
    only the default one is built from the bundled reports on first use; another is created
    with its sources named, by `python -m qa --kb DIR index PATH`."""
    default = Path(type(config)().kb_dir).resolve()
    if root == default or (root / "config.json").exists():
        return
    if not (root / "current").exists() and not (root / "current").is_symlink():
        raise IndexMissingError(f"{root} 不是知识库（没有 config.json 和索引）：请检查路径；"
                                f"新建知识库请写明来源：python -m qa --kb {root} index 文件夹或文件", code="not_a_kb")
    # An index without config.json (deleted, or its first build killed before writing it): its
    # sources are unknown, and rebuilding from the bundled reports would silently change it.
    raise IndexMissingError(f"{root / 'config.json'} 不见了，不知道这个知识库的来源：请用 "
                            f"python -m qa --kb {root} index 文件夹或文件 写明来源并重建", code="no_config")


def forget_kb(kb_dir: str | Path | None = None) -> None:
    """Drop the cached knowledge base so the next call reloads it (after a rebuild)."""
    with _lock:
        _loaded.pop(kb_root(kb_dir), None)


def retrieve(question: str, k: int = 5, city: str | list[str] | None = None, kb_dir: str | Path | None = None,
             config: Config | None = None) -> list[Passage]:
    """The k best passages for a question, best first. `city` restricts the search to those
    reports (「彬州市」 or a list); otherwise a city named in the question does."""
    config = config or from_env()
    check_k(k, 100)
    question = check_question(question, config.max_question_chars)
    kb = open_kb(kb_dir, config=config)
    q = analyze(question, kb.cities, kb.default_year, city_filter=[city] if isinstance(city, str) else city)
    return to_passages(kb, search(kb, get_embedder(config), q, k, config.retrieval).hits)


def facts(indicator: str | None = None, city: str | None = None, period: str | None = None,
          kb_dir: str | Path | None = None, config: Config | None = None) -> list[Fact]:
    """The headline statistics the reports state, filtered: `indicator` in any wording (「生产总值增速」
    is 地区生产总值, growth), `city` full or short (「铜川」), `period` "2022", "2023" or "五年"."""
    return select_facts(open_kb(kb_dir, config=config).facts, indicator, city, period)
