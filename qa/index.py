"""The knowledge base on disk: passages (SQLite), vectors (FAISS), keywords (bm25s), manifest.

Layout of a knowledge-base folder:

    config.json          sources to index and reports excluded from them (user-editable)
    uploads/             files added through the app
    embed_cache.sqlite   sentence vectors by (model + prompts + backend + precision, content hash): a
                         rebuild embeds only what changed; the bundled reports' vectors ship in
                         data/reports/vectors/ (qa/shipped_vectors.py), so they are never embedded
    current -> builds/X  the index in use; a build writes builds/Y, then swaps this link atomically,
    builds/X/            so an interrupted build leaves the previous index usable
        manifest.json    model id and dimension, the sentence centroid, chunker version and
                         settings, corpus hash
        index.faiss      passage vectors (the mean of their sentences'), inner product = cosine
        sentences.faiss  sentence vectors (each embedded after its city name)
        store.sqlite     documents, passages, sentences and the reports' facts (no pickle anywhere)
        bm25/            bm25s arrays + JSON vocabulary
        bm25_generic/    keyword index of the generic documents' passages (words + character bigrams)
"""
from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import logging
import os
import shutil
import sqlite3
import time
import uuid
from array import array
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterable, Iterator

import faiss
import numpy as np

from .chunking import CHUNKER_VERSION, ChunkConfig, chunk_document, keyword_text
from .config import DEFAULT_DATA_DIR, PROJECT_DIR, from_env
from .errors import IndexCorruptError, IndexMissingError, KnowledgeBaseError
from .facts import FACTS_VERSION, REGISTRY_FILE, Fact, FactTable, extract_facts, read_facts, write_facts
from .generic_search import FOLDER as GENERIC_KEYWORDS, build_generic_keywords, load_generic_keywords
from .ingest import label_versions, list_files, load_documents
from .keywords import add_words, build_bm25, in_vocabulary, load_bm25, save_bm25, tokenize_zh
from .kinds import GENERIC, REPORT, embedding_units
from .passage_table import PassageTable
from .query import city_aliases, synonym_groups
from .schema import Document, Passage
from .shipped_vectors import ShippedVectors, load_shipped
from .vector_index import FLAT_MAX_VECTORS, read_vector_index, write_vector_index  # noqa: F401 (re-exported)

log = logging.getLogger(__name__)

FORMAT_VERSION = 8  # 4: only sentences are embedded (after their city); a passage's vector is their mean
# 5: the manifest holds the sentences' centroid (retrieval discounts generic sentences by it)
# 6: documents have a kind (report / generic); generic passages are embedded whole and have
#    their own keyword index (bm25_generic/)
# 7: the store holds the reports' facts (qa/facts.py)
# 8: the manifest holds the sha256 of every index file and of itself, verified at load

Progress = Callable[[float, str], None]


REBUILD = "请用 `python -m qa index` 重建索引"
CONFIG_FORM = ('请修正它，应为 {"sources": ["来源文件夹或文件", …], "excluded": ["不收录的报告", …]}；'
               "或用 `python -m qa --kb 知识库文件夹 index 来源` 重新指定来源并重建")


def default_kb_dir() -> Path:
    return from_env().kb_dir


@dataclass
class KBConfig:
    sources: list[str] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)  # doc_ids left out of the index

    @classmethod
    def read(cls, root: Path) -> "KBConfig":
        path = root / "config.json"
        if not path.exists():
            return cls(sources=[str(DEFAULT_DATA_DIR)])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexCorruptError(f"{path} 不是有效的 JSON（{exc}）：{CONFIG_FORM}") from exc
        lists = [data.get(key, []) if isinstance(data, dict) else None for key in ("sources", "excluded")]
        if not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in lists):
            raise IndexCorruptError(f"{path} 的内容不对：{CONFIG_FORM}")
        return cls(sources=lists[0], excluded=lists[1])

    def write(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        _atomic_write(root / "config.json", json.dumps(asdict(self), ensure_ascii=False, indent=2))

    def source_paths(self, root: Path) -> list[Path]:
        paths = [Path(s) if Path(s).is_absolute() else root / s for s in self.sources]
        uploads = root / "uploads"
        if uploads.is_dir():
            paths.append(uploads)
        return paths


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def corpus_hash(paths: list[Path], excluded: list[str]) -> str:
    """Content hash of every source file (and the exclusions): any edit makes the index stale."""
    h = hashlib.sha256()
    for f in list_files(paths):
        h.update(str(f.name).encode())
        try:
            with open(f, "rb") as fh:
                h.update(hashlib.file_digest(fh, "sha256").digest())
        except OSError:
            h.update(b"unreadable")  # reported by name when the build reads it
    h.update(json.dumps(sorted(excluded)).encode())
    return h.hexdigest()


class EmbeddingCache:
    """SQLite map (model id, sha256 of embedded text) -> float32 vector."""

    def __init__(self, path: Path):
        try:
            self.conn = self._open(path)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                # Held by another program (an SQLite browser, a backup): build without it, rather
                # than fail or take a healthy cache for a damaged one.
                log.warning("嵌入缓存 %s 被其他程序占用（%s），本次不使用缓存：新文本的向量都要重新计算", path, exc)
                self.conn = self._open(":memory:")
                return
            # Only a cache: set the damaged file aside (for inspection) and start an empty one,
            # so the build re-embeds instead of failing on every rebuild, add and remove.
            aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:4]}")
            os.replace(path, aside)
            log.warning("嵌入缓存 %s 已损坏（%s），已移到 %s，将重新计算向量", path, exc, aside.name)
            self.conn = self._open(path)

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        conn = sqlite3.connect(path)
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, vec BLOB, PRIMARY KEY (model, hash))")
            conn.execute("SELECT count(*) FROM vectors").fetchone()
            return conn
        except sqlite3.DatabaseError:
            conn.close()
            raise

    def get_many(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        found = {}
        for i in range(0, len(hashes), 500):
            part = hashes[i : i + 500]
            q = f"SELECT hash, vec FROM vectors WHERE model=? AND hash IN ({','.join('?' * len(part))})"
            for hsh, blob in self.conn.execute(q, [model, *part]):
                found[hsh] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, model: str, items: list[tuple[str, np.ndarray]]) -> None:
        self.conn.executemany(
            "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
            [(model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items],
        )
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def embed_with_cache(embedder, texts: list[str], cache: EmbeddingCache, progress: Progress | None = None,
                     shipped: ShippedVectors | None = None) -> tuple[np.ndarray, int]:
    """Vectors for texts, embedding only those neither cached nor shipped. Returns (vectors, how
    many were embedded). The cache is keyed by the embedder's cache_key (model, prompts, backend,
    precision); shipped vectors are taken for the same model and prompts (qa/shipped_vectors.py)."""
    key = getattr(embedder, "cache_key", embedder.model_id)
    hashes = [text_hash(t) for t in texts]
    cached = cache.get_many(key, list(set(hashes)))
    if shipped is not None:
        cached.update(shipped.get_many(embedder.model_id, [h for h in set(hashes) if h not in cached]))
    # Length-sorted batches pad little: twice the throughput of batches in corpus order.
    todo = sorted({h: t for h, t in zip(hashes, texts) if h not in cached}.items(), key=lambda item: len(item[1]))
    step, t0 = 256, time.perf_counter()
    chars_total, chars_done = sum(len(t) for _, t in todo), 0
    for i in range(0, len(todo), step):
        part = todo[i : i + step]
        vecs = embedder.embed_passages([t for _, t in part])
        cache.put_many(key, [(h, v) for (h, _), v in zip(part, vecs)])
        cached.update({h: v for (h, _), v in zip(part, vecs)})
        chars_done += sum(len(t) for _, t in part)
        if progress:
            done, seconds = i + len(part), time.perf_counter() - t0
            left = seconds * (chars_total - chars_done) / chars_done  # by characters: the longest come last
            progress(min(1.0, done / len(todo)), embed_progress(done, len(todo), seconds, left))
    dim = embedder.dim
    matrix = np.vstack([cached[h] for h in hashes]).astype(np.float32) if texts else np.zeros((0, dim), np.float32)
    return matrix, len(todo)


def embed_progress(done: int, total: int, seconds: float, seconds_left: float) -> str:
    """「嵌入文本 512/8222，每秒 60 句，约剩 2 分 8 秒」"""
    left = round(seconds_left)
    eta = f"{left // 60} 分 {left % 60} 秒" if left >= 60 else f"{left} 秒"
    return f"嵌入文本 {done}/{total}，每秒 {done / max(seconds, 1e-9):.0f} 句，约剩 {eta}"


def mean_vectors(vectors: np.ndarray, owners: np.ndarray, n: int, chunk: int = 500_000) -> np.ndarray:
    """Row i: the normalized mean of the vectors owned by i; every i must own at least one.
    Read a chunk at a time (vectors may be a memmap); owners in order (sentences are stored
    passage by passage) sum by runs, much faster than np.add.at."""
    if n and np.bincount(owners, minlength=n).min() == 0:
        raise ValueError("every passage needs at least one sentence vector")
    means = np.zeros((n, vectors.shape[1]), np.float32)
    for i in range(0, len(owners), chunk):
        own, part = owners[i : i + chunk], np.asarray(vectors[i : i + chunk], dtype=np.float32)
        if np.all(own[1:] >= own[:-1]):
            starts = np.flatnonzero(np.r_[True, own[1:] != own[:-1]])
            means[own[starts]] += np.add.reduceat(part, starts, axis=0)
        else:
            np.add.at(means, own, part)
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    return means


def mean_vector(vectors: np.ndarray, chunk: int = 500_000) -> np.ndarray:
    """The mean of the rows, a chunk at a time (vectors may be a memmap)."""
    total = np.zeros(vectors.shape[1], np.float64)
    for i in range(0, len(vectors), chunk):
        total += np.asarray(vectors[i : i + chunk], dtype=np.float32).sum(axis=0, dtype=np.float64)
    return (total / max(len(vectors), 1)).astype(np.float32)


def centroid_for_manifest(mean_vector: np.ndarray) -> list[float]:
    """The sentences' mean direction, unit length, as JSON numbers."""
    return [round(float(x), 6) for x in mean_vector / max(float(np.linalg.norm(mean_vector)), 1e-12)]


@dataclass
class KnowledgeBase:
    """A loaded index: everything retrieval needs, in memory."""

    root: Path
    manifest: Manifest
    documents: dict[str, Document]
    passages: PassageTable  # row i <-> FAISS id i <-> BM25 doc i
    faiss_index: faiss.Index
    bm25: object
    rows_by_city: dict[str | None, np.ndarray]
    sentence_index: faiss.Index  # sentence vectors, id = srow
    sentences: np.ndarray  # srow -> (passage row, start, end) in the document
    first_sentence: np.ndarray  # passage row -> its first srow (and row+1 -> one past its last)
    centroid: np.ndarray  # unit mean direction of the sentence vectors
    facts: list[Fact] = field(default_factory=list)  # every statistic the reports state

    def passage_at(self, doc_id: str, offset: int) -> Passage:
        """The passage of a document that holds a character offset."""
        starts, rows = self._passage_starts[doc_id]
        return self.passages[int(rows[np.searchsorted(starts, offset, side="right") - 1])]

    @cached_property
    def fact_table(self) -> FactTable:
        """The facts grouped by indicator, city and report (what answers read)."""
        return FactTable(self.facts)

    @cached_property
    def _passage_starts(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return self.passages.starts_by_doc()

    # Rows of generic passages (embedded whole: one "sentence" each) and their keyword index.
    generic_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    generic_bm25: object = None

    @property
    def cities(self) -> list[str]:
        return sorted(c for c in self.rows_by_city if c)

    def uses(self, word: str) -> bool:
        """Does a report use this word: a jieba word of its passages, or a compound that jieba
        cuts (「消费券」) found in its text?"""
        return in_vocabulary(self.bm25, word) or bool(word) and any(word in d.text for d in self.documents.values())

    @property
    def default_year(self) -> int | None:
        years = [d.year for d in self.documents.values() if d.year and d.kind == REPORT]
        return max(set(years), key=lambda y: (years.count(y), y)) if years else None


def facts_version() -> str:
    """The fact extractor and its registry: a changed indicators.toml extracts the facts anew."""
    return f"{FACTS_VERSION}:{hashlib.sha256(REGISTRY_FILE.read_bytes()).hexdigest()[:12]}"


def tokenizer_words_hash() -> str:
    """The synonym table's words are jieba words: a changed table tokenizes the passages anew."""
    return hashlib.sha256(json.dumps(synonym_groups(), ensure_ascii=False).encode()).hexdigest()[:16]


def _teach_tokenizer(documents) -> None:
    add_words(a for d in documents if d.city for a in city_aliases(d.city))
    add_words(t for g in synonym_groups() for t in g)


def build(
    root: Path | None = None,
    sources: list[Path] | None = None,
    embedder=None,
    chunk_config: ChunkConfig = ChunkConfig(),
    progress: Progress | None = None,
    use_shipped: bool = True,
) -> tuple[KnowledgeBase, list[tuple[str, str]]]:
    """(Re)build the knowledge base at root from its sources. Returns (kb, file errors).
    One build at a time per folder, across processes (a lock file), so two never clash.
    use_shipped=False embeds the bundled reports' sentences too (to measure a backend)."""
    root = Path(root or default_kb_dir())
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(root, sources, embedder, chunk_config, progress, use_shipped)


def _build_locked(root: Path, sources, embedder, chunk_config: ChunkConfig, progress: Progress | None, use_shipped: bool = True):
    config = KBConfig.read(root)
    if sources is not None:
        config.sources = [str(Path(s).resolve()) for s in sources]
    say = progress or (lambda f, m: None)
    t0 = time.perf_counter()

    say(0.0, "读取文件")
    paths = config.source_paths(root)
    source_hash = corpus_hash(paths, config.excluded)  # before reading: an edit during the build makes it stale
    result = load_documents(paths)
    excluded = set(config.excluded)
    documents = label_versions([d for d in result.documents if d.doc_id not in excluded])
    if not documents:
        reasons = "；".join(r for _, r in result.errors) or "没有可读的文件（.txt .md .pdf .docx .jsonl）"
        raise KnowledgeBaseError(f"{'、'.join(map(str, paths))} 里没有可以建索引的内容：{reasons}", code="nothing_to_index")
    _teach_tokenizer(documents)

    say(0.05, "切分段落")
    by_document = {d.doc_id: chunk_document(d, chunk_config) for d in documents}
    passages = [p for d in documents for p in by_document[d.doc_id]]
    if not passages:
        raise KnowledgeBaseError("文件里只有标题，没有可以建索引的正文", code="nothing_to_index")
    facts = [f for d in documents for f in extract_facts(d, by_document[d.doc_id])]
    if embedder is None:
        from embeddings import load_embedder

        embedder = load_embedder()
    # In reports only sentences are embedded: a question about one fact matches its sentence far
    # better than a 300-character passage, and a passage's vector is the mean of its sentences'
    # vectors (measured better on dev than embedding passages too, at less than half the build
    # time). A generic passage is embedded whole, as its one "sentence" (qa.kinds).
    sentences, texts = embedding_units(passages)
    cache = EmbeddingCache(root / "embed_cache.sqlite")
    try:
        sentence_vectors, n_embedded = embed_with_cache(embedder, texts, cache, progress=lambda f, m: say(0.1 + 0.8 * f, m),
                                                        shipped=load_shipped() if use_shipped else None)
    finally:
        cache.close()

    say(0.9, "写入索引")
    manifest = Manifest.describe(embedder.model_id, chunk_config, source_hash, embedded_now=n_embedded,
                                 embed_backend=f"{getattr(embedder, 'backend', '?')}/{getattr(embedder, 'precision', '?')}")
    manifest = write_build(root, [Part(documents, passages, sentences, facts)], sentence_vectors, manifest, started=t0)
    # Only after the swap: a failed or killed build leaves the sources (and so the staleness of
    # the old index) as they were; a kill in between is repaired by the next open (sources stale).
    config.write(root)
    say(1.0, f"完成：{len(documents)} 份报告，{len(passages)} 个段落")
    log.info("built %s: %d documents, %d passages, %d embedded", root, len(documents), len(passages), n_embedded)
    return load(root), result.errors


@dataclass(frozen=True)
class Manifest:
    """What a build is: the settings that make it current (model, chunker, tokenizer words,
    sources) and what it holds. Written as manifest.json beside the index files."""

    embed_model: str
    chunk_config: dict
    corpus_hash: str
    format_version: int = FORMAT_VERSION
    chunker_version: str = CHUNKER_VERSION
    tokenizer_words: str = ""
    facts_version: str = ""
    embed_backend: str = ""  # what embedded this build's new text (backend/precision); not part of staleness
    dim: int = 0
    sentence_centroid: tuple[float, ...] = ()
    faiss_index: str = ""
    documents: int = 0
    kinds: dict = field(default_factory=dict)  # documents per kind (report / generic)
    passages: int = 0
    embedded_now: int = 0
    build_seconds: float = 0.0
    built_at: str = ""
    files: dict = field(default_factory=dict)  # index file (relative path) -> sha256
    checksum: str = ""  # sha256 of this manifest's JSON with checksum "" (an edited centroid shows)

    @classmethod
    def describe(cls, embed_model: str, chunk_config: ChunkConfig, corpus_hash: str, embedded_now: int = 0,
                 embed_backend: str = "") -> "Manifest":
        """The manifest of a build about to be written (write_build fills in what it holds)."""
        return cls(embed_model, asdict(chunk_config), corpus_hash, tokenizer_words=tokenizer_words_hash(),
                   facts_version=facts_version(), embed_backend=embed_backend, embedded_now=embedded_now)

    @classmethod
    def read(cls, path: Path) -> "Manifest":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            known = {f.name for f in fields(cls)}
            manifest = cls(**{k: v for k, v in data.items() if k in known})
        except (OSError, json.JSONDecodeError, UnicodeDecodeError, TypeError, AttributeError) as exc:
            raise IndexCorruptError(f"{path} 已损坏（{exc}）；{REBUILD}") from exc
        return replace(manifest, sentence_centroid=tuple(manifest.sentence_centroid or ()))

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    def own_checksum(self) -> str:
        body = json.dumps({**asdict(self), "checksum": ""}, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(body.encode("utf-8")).hexdigest()

    def sealed(self, build_dir: Path) -> "Manifest":
        """This manifest with the checksums of the files in build_dir and of itself."""
        with_files = replace(self, files=file_checksums(build_dir), checksum="")
        return replace(with_files, checksum=with_files.own_checksum())


def file_checksums(build_dir: Path) -> dict[str, str]:
    """sha256 of every file of a build except the manifest, by path relative to the build."""
    out = {}
    for path in sorted(build_dir.rglob("*")):
        if path.is_file() and path.name != "manifest.json":
            with open(path, "rb") as fh:
                out[path.relative_to(build_dir).as_posix()] = hashlib.file_digest(fh, "sha256").hexdigest()
    return out


def verify_build(build_dir: Path, manifest: Manifest) -> None:
    """IndexCorruptError unless the manifest and every file are as written: a figure edited in
    the store, bytes changed in the vectors or an edited centroid would otherwise be served."""
    if not manifest.checksum or manifest.own_checksum() != manifest.checksum:
        raise IndexCorruptError(f"{build_dir / 'manifest.json'} 的校验和不符（被修改或损坏）；{REBUILD}")
    actual = file_checksums(build_dir)
    changed = sorted(name for name in manifest.files.keys() | actual.keys() if manifest.files.get(name) != actual.get(name))
    if changed:
        raise IndexCorruptError(f"{build_dir}：{'、'.join(changed[:5])} 的校验和不符（被修改、缺失或损坏）；{REBUILD}")


@dataclass(frozen=True)
class Part:
    """Some documents and what a build writes of them; a large collection is written part by part
    (never all its passages and facts in memory at once). Sentence rows are (passage row within
    the part, start, end), in passage order; sentence vectors follow the parts' sentences in order."""

    documents: list[Document]
    passages: list[Passage]
    sentences: list[tuple[int, int, int]]
    facts: list[Fact] = ()


@dataclass
class _Written:
    """What the store pass leaves for the rest of the build."""

    owners: array = field(default_factory=lambda: array("q"))  # passage row of each sentence
    generic: list[Passage] = field(default_factory=list)  # generic passages, in row order
    kinds: dict = field(default_factory=dict)  # documents per kind
    passages: int = 0


def write_build(root: Path, parts: Iterable[Part], sentence_vectors: np.ndarray, manifest: Manifest,
                started: float | None = None) -> Manifest:
    """Write a complete index (store, keywords, vectors, facts, manifest) into a new build folder,
    then make it current atomically and remove older builds: readers see the old or the new index,
    never a partial one. Parts are read once. Passage vectors are the means of their sentences'.
    Returns the manifest."""
    started = time.perf_counter() if started is None else started
    builds = root / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    build_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    tmp = builds / f".tmp-{build_id}"
    tmp.mkdir()
    written = _Written()
    conn = sqlite3.connect(tmp / "store.sqlite")
    try:
        # One pass: each part is stored, then its passages' words go to the keyword index.
        save_bm25(build_bm25(tokenize_zh(keyword_text(p)) for p in _write_store(conn, parts, written)), tmp / "bm25")
    finally:
        conn.close()
    build_generic_keywords(written.generic, tmp / GENERIC_KEYWORDS)
    owners = np.frombuffer(written.owners, dtype=np.int64)
    if len(owners) != len(sentence_vectors):
        raise ValueError(f"{len(owners)} sentences but {len(sentence_vectors)} sentence vectors")
    vectors = mean_vectors(sentence_vectors, owners, written.passages)
    dim = int(vectors.shape[1])
    index_kind = write_vector_index(vectors, tmp / "index.faiss")
    del vectors
    write_vector_index(sentence_vectors, tmp / "sentences.faiss")
    manifest = replace(manifest, dim=dim, sentence_centroid=tuple(centroid_for_manifest(mean_vector(sentence_vectors))),
                       faiss_index=index_kind, documents=sum(written.kinds.values()), kinds=dict(sorted(written.kinds.items())),
                       passages=written.passages, build_seconds=round(time.perf_counter() - started, 2),
                       built_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
    manifest = manifest.sealed(tmp)
    _atomic_write(tmp / "manifest.json", manifest.to_json())
    final = builds / build_id
    os.rename(tmp, final)
    _swap_current(root, final)
    _remove_old_builds(builds, keep=final)
    return manifest


def _write_store(conn: sqlite3.Connection, parts: Iterable[Part], written: _Written) -> Iterator[Passage]:
    """Store each part's documents, passages, sentences and facts, then yield its passages."""
    conn.execute("CREATE TABLE documents (doc_id TEXT PRIMARY KEY, title TEXT, city TEXT, year INTEGER, source TEXT, text TEXT, kind TEXT)")
    conn.execute("CREATE TABLE passages (row INTEGER PRIMARY KEY, id TEXT, doc_id TEXT, section TEXT, start INTEGER, end INTEGER)")
    conn.execute("CREATE TABLE sentences (srow INTEGER PRIMARY KEY, row INTEGER, start INTEGER, end INTEGER)")
    write_facts(conn, [])
    for part in parts:
        first, srow = written.passages, len(written.owners)
        with conn:
            conn.executemany("INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)",
                             ((d.doc_id, d.title, d.city, d.year, d.source, d.text, d.kind) for d in part.documents))
            conn.executemany("INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?)",
                             ((first + i, p.id, p.doc_id, p.section, p.start, p.end) for i, p in enumerate(part.passages)))
            conn.executemany("INSERT INTO sentences VALUES (?, ?, ?, ?)",
                             ((srow + i, first + r, a, b) for i, (r, a, b) in enumerate(part.sentences)))
            write_facts(conn, part.facts)
        written.owners.extend(first + r for r, _, _ in part.sentences)
        written.generic.extend(p for p in part.passages if p.kind == GENERIC)
        for d in part.documents:
            written.kinds[d.kind] = written.kinds.get(d.kind, 0) + 1
        written.passages += len(part.passages)
        yield from part.passages


def _swap_current(root: Path, target: Path) -> None:
    current = root / "current"
    if current.is_dir() and not current.is_symlink():  # a copy made without links: a build of its own
        current.rename(target.parent / f"copied-{uuid.uuid4().hex[:6]}")  # removed with the old builds
    link = root / f".current-{uuid.uuid4().hex}"
    link.symlink_to(Path("builds") / target.name)
    os.replace(link, root / "current")  # atomic: readers see the old or the new build, never none


def _remove_old_builds(builds: Path, keep: Path) -> None:
    for old in builds.iterdir():
        if old != keep:
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)


def read_manifest(root: Path) -> Manifest:
    """The manifest of the current build. IndexCorruptError when `current` leads outside the
    knowledge base (another one's build would answer as this one); IndexMissingError when it
    leads nowhere or there is no index yet."""
    current = root / "current"
    if current.is_symlink() or current.exists():
        build = current.resolve()
        # inside the folder, or inside its builds/ (which may be a link to another disk)
        if not any(build.is_relative_to(folder.resolve()) for folder in (root, root / "builds")):
            raise IndexCorruptError(f"{current} 指向知识库以外的 {build}，不是本知识库的索引；{REBUILD}")
        if not (current / "manifest.json").exists():
            raise IndexMissingError(f"{current} 指向的索引不存在或不完整（没有 manifest.json，可能被删除）；{REBUILD}")
    path = current / "manifest.json"
    if not path.exists():
        raise IndexMissingError(f"{root} 还没有索引：请用 `python -m qa index` 建立")
    return Manifest.read(path)


def load(root: Path | None = None) -> KnowledgeBase:
    """Load the current index from disk. Raises IndexMissingError / IndexCorruptError."""
    root = Path(root or default_kb_dir())
    manifest = read_manifest(root)
    build_dir = (root / "current").resolve()
    verify_build(build_dir, manifest)
    faiss_index, sentence_index = (_read_faiss(build_dir / name) for name in ("index.faiss", "sentences.faiss"))
    try:
        conn = sqlite3.connect(f"file:{build_dir / 'store.sqlite'}?mode=ro", uri=True)
        documents = {
            r[0]: Document(doc_id=r[0], title=r[1], city=r[2], year=r[3], source=r[4], text=r[5], kind=r[6])
            for r in conn.execute("SELECT doc_id, title, city, year, source, text, kind FROM documents")
        }
        try:
            passages = PassageTable.from_rows(conn.execute("SELECT id, doc_id, section, start, end FROM passages ORDER BY row"), documents)
        except ValueError as exc:
            raise IndexCorruptError(f"{build_dir / 'store.sqlite'} 已损坏（{exc}）；{REBUILD}") from exc
        # np.fromiter: no list of row tuples (≈ 1 GB at 8 M sentences)
        cursor = conn.execute("SELECT row, start, end FROM sentences ORDER BY srow")
        sentence_rows = np.fromiter(itertools.chain.from_iterable(cursor), dtype=np.int64).reshape(-1, 3)
        facts = read_facts(conn)
        conn.close()
    except sqlite3.DatabaseError as exc:
        raise IndexCorruptError(f"{build_dir / 'store.sqlite'} 已损坏（{exc}）；{REBUILD}") from exc
    centroid = np.asarray(manifest.sentence_centroid, dtype=np.float32)
    if centroid.shape != (faiss_index.d,) or not np.isfinite(centroid).all():
        raise IndexCorruptError(f"{build_dir / 'manifest.json'} 缺少 {faiss_index.d} 维的句向量中心；{REBUILD}")
    if (faiss_index.ntotal != len(passages) or faiss_index.d != manifest.dim or sentence_index.ntotal != len(sentence_rows)
            or sentence_index.d != manifest.dim):
        raise IndexCorruptError(f"{build_dir}：索引有 {faiss_index.ntotal} 个 {faiss_index.d} 维向量（句向量 "
                                f"{sentence_index.ntotal} 个 {sentence_index.d} 维），但库中有 {len(passages)} 个段落、"
                                f"{len(sentence_rows)} 个句子（清单记录 {manifest.dim} 维）；{REBUILD}")
    try:
        bm25 = load_bm25(build_dir / "bm25", mmap=len(passages) > FLAT_MAX_VECTORS)
        generic_bm25 = load_generic_keywords(build_dir / GENERIC_KEYWORDS)
    except (OSError, ValueError, KeyError) as exc:
        raise IndexCorruptError(f"{build_dir / 'bm25'} 已损坏（{exc}）；{REBUILD}") from exc
    _teach_tokenizer(documents.values())
    # Sentences are stored passage by passage: passage row r owns sentences [first[r], first[r+1]).
    first = np.searchsorted(sentence_rows[:, 0], np.arange(len(passages) + 1))
    kb = KnowledgeBase(root, manifest, documents, passages, faiss_index, bm25, passages.rows_by(lambda d: d.city),
                       sentence_index, sentence_rows, first, centroid, facts,
                       passages.rows_where(lambda d: d.kind == GENERIC), generic_bm25)
    kb.fact_table, kb._passage_starts  # noqa: B018  built now, not at the first question (seconds at 1000x)
    return kb


def _read_faiss(path: Path):
    try:
        return read_vector_index(path)
    except (RuntimeError, ValueError) as exc:
        raise IndexCorruptError(f"{path} 已损坏（{str(exc).splitlines()[0][:200]}）；{REBUILD}") from exc


def staleness(root: Path, embed_model_id: str, chunk_config: ChunkConfig = ChunkConfig()) -> str | None:
    """Why the index at root must be rebuilt, or None when it is current."""
    try:
        manifest = read_manifest(root)
    except KnowledgeBaseError as exc:
        return str(exc)
    config = KBConfig.read(root)
    checks = [
        (manifest.format_version == FORMAT_VERSION, "索引格式已更新"),
        (manifest.embed_model == embed_model_id, f"嵌入模型已更换（{manifest.embed_model} -> {embed_model_id}）"),
        (manifest.chunker_version == CHUNKER_VERSION, "分段程序已更新"),
        (manifest.chunk_config == asdict(chunk_config), "分段设置已改变"),
        (manifest.tokenizer_words == tokenizer_words_hash(), "同义词表（关键词分词用词）已改变或未记录"),
        (manifest.facts_version == facts_version(), "指标抽取程序或指标表已改变"),
        (manifest.corpus_hash == corpus_hash(config.source_paths(root), config.excluded), "来源文件已改变"),
    ]
    return next((why for ok, why in checks if not ok), None)
