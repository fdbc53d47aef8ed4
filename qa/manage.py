"""Knowledge-base management for the app: list reports, add files, remove a report, rebuild.

Added files are copied into `<kb>/uploads/` (under a safe name, never outside that folder) and
the index is rebuilt; the embedding cache makes that rebuild embed only the new sentences.
Removing a report deletes its file when it came from a single-report upload, and otherwise
adds its doc_id to `KBConfig.excluded` (the bundled collection is one file with 24 reports).
Every change ends with `forget_kb`, so the next `open_kb` loads the new index.

Uploads are limited by what they expand to, not only by their size: MAX_FILE_BYTES per file,
ingest.MAX_FILE_CHARS / MAX_DOCX_XML_BYTES per file as read, MAX_FILE_PASSAGES per file and
MAX_KB_CHARS for the whole knowledge base.

A report that claims the city and year of one already in the knowledge base (「2023年彬州市政府
工作报告」 a second time) is never added silently, or it would answer as the official report.
`find_duplicates(paths)` lists such files for a dialog; `add_files(..., on_duplicate=...)` takes
the user's choice:
    "ask"      (default) the file is not added; its error asks for a choice
    "replace"  the existing report of that city and year is removed, the upload takes its place
    "keep"     both stay as separate versions; every title of that city and year then names its
               file (「2023年彬州市政府工作报告（彬州.txt）」), so answers say which version they cite
    "cancel"   the file is not added
A removal killed mid-rebuild leaves `uploads/.trash-*`; `recover_interrupted` (run by `open_kb`
and every change) puts it back or finishes it, according to the index in use.

All messages meant for users are plain Chinese; errors are returned per file as (name, reason).
"""
from __future__ import annotations

import hashlib
import logging
import re
import shutil
import sqlite3
import threading
import unicodedata
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .chunking import chunk_document
from .errors import IngestError, KnowledgeBaseError, ManageError
from .index import KBConfig, KnowledgeBase, build
from .ingest import SUPPORTED_SUFFIXES, read_file, version_title
from .pipeline import forget_kb, kb_root, open_kb
from .schema import Document

log = logging.getLogger(__name__)

ALLOWED_SUFFIXES = tuple(sorted(SUPPORTED_SUFFIXES))
MAX_FILE_BYTES = 20 * 1024 * 1024  # per file
MAX_NAME_CHARS = 80  # of the stem of a stored file name
# ... and its UTF-8 bytes: 80 CJK characters are 240 bytes, and with the temporary name's
# prefix and suffix that passed the file system's 255-byte limit (「File name too long」).
MAX_NAME_BYTES = 150
MAX_FILE_PASSAGES = 5_000  # the 24 bundled reports make 1,801
MAX_KB_CHARS = 5_000_000  # ≈ 300 reports (the 24 bundled: 0.37 M); the index grows ≈ 80 MB per M
DUPLICATE_CHOICES = ("ask", "replace", "keep", "cancel")

Progress = Callable[[float, str], None]
FileErrors = list[tuple[str, str]]  # (file name, reason in Chinese)

_lock = threading.Lock()  # one change to a knowledge base at a time (per process)


def uploads_dir(kb_dir: str | Path | None = None) -> Path:
    return kb_root(kb_dir) / "uploads"


# ---------------------------------------------------------------- listing


def list_reports(kb: KnowledgeBase) -> list[dict]:
    """One dict per report in the index: doc_id, title, city, year, chars, passages, source,
    uploaded (its file is in the KB's uploads folder); sorted by city then title."""
    counts = Counter(p.doc_id for p in kb.passages)
    uploads = kb.root / "uploads"
    rows = [
        {
            "doc_id": d.doc_id,
            "title": d.title,
            "city": d.city or "",
            "year": d.year,
            "chars": len(d.text),
            "passages": counts.get(d.doc_id, 0),
            "source": d.source,
            "uploaded": (uploads / d.source).is_file(),
        }
        for d in kb.documents.values()
    ]
    return sorted(rows, key=lambda r: (r["city"] == "", r["city"], r["title"]))


# ---------------------------------------------------------------- checks


def _check_file(path: Path) -> str | None:
    """Why the file cannot be added (Chinese), or None when it is fine."""
    return _read_upload(path)[0]


def _read_upload(path: Path) -> tuple[str | None, list[Document]]:
    """(why the file cannot be added or None, its documents)."""
    reason = _check_upload(path)
    if reason:
        return reason, []
    try:
        docs = read_file(path)  # rejects what expands too far (ingest.MAX_FILE_CHARS, .docx bombs)
    except IngestError as exc:
        return exc.reason, []
    passages = sum(len(chunk_document(d)) for d in docs)
    if passages > MAX_FILE_PASSAGES:
        return f"文件展开后太大（{passages} 个段落），每个文件不能超过 {MAX_FILE_PASSAGES} 个段落", []
    return None, docs


def _check_upload(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix == ".doc":
        return "不支持旧版 Word（.doc）文件，请在 Word 中另存为 .docx 后再上传"
    if suffix not in ALLOWED_SUFFIXES:
        shown = suffix or "（无扩展名）"
        return f"不支持 {shown} 文件，只能上传 {' '.join(ALLOWED_SUFFIXES)} 文件"
    if not path.is_file():
        return "找不到这个文件（上传可能没有完成）"
    size = path.stat().st_size
    if size == 0:
        return "文件是空的"
    if size > MAX_FILE_BYTES:
        return f"文件太大（{size / 1024 / 1024:.1f} MB），每个文件不能超过 {MAX_FILE_BYTES // 1024 // 1024} MB"
    return None


# ---------------------------------------------------------------- safe names

_UNSAFE_RE = re.compile(r"[^\w\u3400-\u9fff\uf900-\ufaff（）()【】《》·.\-+]+")


def safe_name(name: str) -> str:
    """A file name that is safe to create inside the uploads folder: no folders, no hidden
    or reserved names, no control or shell characters, bounded length; the suffix is kept."""
    base = unicodedata.normalize("NFC", name.replace("\\", "/").split("/")[-1]).strip()
    stem, suffix = (base.rsplit(".", 1) + [""])[:2] if "." in base else (base, "")
    suffix = re.sub(r"[^A-Za-z0-9]", "", suffix).lower()[:8]
    stem = _UNSAFE_RE.sub("_", stem).strip("._- ")[:MAX_NAME_CHARS].strip("._- ")
    while len(stem.encode("utf-8")) > MAX_NAME_BYTES:
        stem = stem[:-1]
    if not stem or stem.upper() in {"CON", "PRN", "AUX", "NUL"}:
        stem = f"report-{uuid.uuid4().hex[:8]}"
    return f"{stem}.{suffix}" if suffix else stem


def _unique_target(folder: Path, name: str) -> Path:
    target = folder / name
    stem, suffix = target.stem, target.suffix
    n = 2
    while target.exists():
        target = folder / f"{stem}-{n}{suffix}"
        n += 1
    return target


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _digest(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


# ---------------------------------------------------------------- changes


def _rebuild(root: Path, progress: Progress | None) -> tuple[KnowledgeBase, FileErrors]:
    try:
        kb, errors = build(root, progress=progress)
    finally:
        forget_kb(root)
    return kb, [(Path(name).name, reason) for name, reason in errors]


def rebuild(kb_dir: str | Path | None = None, progress: Progress | None = None) -> tuple[KnowledgeBase, FileErrors]:
    """Rebuild the index from the configured sources and uploads. Returns (kb, per-file errors)."""
    root = kb_root(kb_dir)
    with _lock:
        recover_interrupted(root)
        return _rebuild(root, progress)


@dataclass(frozen=True)
class Duplicate:
    """An upload holding a report whose city and year a report in the knowledge base already has."""

    file: str  # the upload's name
    title: str  # the report in the upload
    city: str
    year: int
    existing: tuple[str, ...]  # doc_ids of the reports of that city and year in the knowledge base
    existing_titles: tuple[str, ...]

    def reason(self) -> str:
        shown = "、".join(f"《{t}》" for t in self.existing_titles)
        return (f"知识库里已有{self.year}年{self.city}的报告 {shown}；为免新文件冒充原报告回答问题，"
                "请选择：替换原报告、保留两个版本，或取消")


def _duplicates_of(name: str, docs: list[Document], kb: KnowledgeBase) -> list[Duplicate]:
    found = []
    for doc in docs:
        same = [d for d in kb.documents.values() if doc.city and d.city == doc.city and d.year == doc.year]
        if same:
            found.append(Duplicate(name, doc.title, doc.city, doc.year, tuple(d.doc_id for d in same),
                                   tuple(d.title for d in same)))
    return found


def find_duplicates(paths: list[str | Path], kb_dir: str | Path | None = None) -> list[Duplicate]:
    """The uploads among paths that claim the city and year of a report already in the knowledge
    base (for a dialog: replace, keep both, or cancel; then `add_files(..., on_duplicate=...)`)."""
    kb = open_kb(kb_root(kb_dir))
    found = []
    for raw in paths:
        reason, docs = _read_upload(Path(raw))
        if reason is None:
            found += _duplicates_of(Path(raw).name, docs, kb)
    return found


def add_files(
    paths: list[str | Path],
    kb_dir: str | Path | None = None,
    progress: Progress | None = None,
    on_duplicate: str = "ask",
) -> tuple[KnowledgeBase, FileErrors]:
    """Copy the acceptable files into `<kb>/uploads/` and rebuild. Returns (kb, errors), one
    (file name, Chinese reason) per rejected file; with nothing acceptable nothing is rebuilt.
    `on_duplicate` says what to do with a report whose city and year are already in the
    knowledge base: "ask" (not added, the reason asks for a choice), "replace", "keep", "cancel"."""
    if on_duplicate not in DUPLICATE_CHOICES:
        raise ManageError(f"on_duplicate 只能是 {' / '.join(DUPLICATE_CHOICES)}，不是 {on_duplicate!r}")
    root = kb_root(kb_dir)
    errors: FileErrors = []
    with _lock:
        recover_interrupted(root)
        kb = open_kb(root)
        uploads = root / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        existing = {_digest(f): f.name for f in uploads.iterdir() if f.is_file() and not f.name.startswith(".")}
        room = MAX_KB_CHARS - sum(len(d.text) for d in kb.documents.values())
        added: list[Path] = []
        replaced: list[Duplicate] = []
        for raw in paths:
            source = Path(raw)
            shown = source.name
            reason, docs = _read_upload(source)
            digest = _digest(source) if reason is None else ""
            if reason is None and digest in existing:
                reason = f"与已添加的文件 {existing[digest]} 内容相同，已跳过"
            chars = sum(len(d.text) for d in docs)
            if reason is None and chars > room:
                reason = (f"知识库的文字总量将超过上限（{MAX_KB_CHARS:,} 字，还能加 {max(room, 0):,} 字，"
                          f"这个文件有 {chars:,} 字）：请先删除一些报告")
            dups = _duplicates_of(shown, docs, kb) if reason is None else []
            if dups and on_duplicate in ("ask", "cancel"):
                reason = dups[0].reason() if on_duplicate == "ask" else "有同城市同年份的报告，已按选择取消"
            if reason:
                errors.append((shown, reason))
                continue
            target = _unique_target(uploads, safe_name(shown))
            if not _inside(target, uploads) or target.parent.resolve() != uploads.resolve():
                errors.append((shown, "文件名不安全，已拒绝"))
                continue
            _copy_in(source, target)
            existing[digest] = target.name
            room -= chars
            added.append(target)
            replaced += dups if on_duplicate == "replace" else []
        if not added:
            return kb, errors
        kb, build_errors = _rebuild_adding(root, kb, added, replaced, progress)
    names = {f.name for f in added}
    errors += [(name, reason) for name, reason in build_errors if name in names]
    log.info("added %s to %s", ", ".join(sorted(names)), root)
    return kb, errors


def _copy_in(source: Path, target: Path) -> None:
    tmp = target.with_name(f".{uuid.uuid4().hex}.part")  # hidden: never indexed; short: any name fits
    shutil.copyfile(source, tmp)
    tmp.replace(target)


def _rebuild_adding(root: Path, kb: KnowledgeBase, added: list[Path], replaced: list["Duplicate"],
                    progress: Progress | None) -> tuple[KnowledgeBase, FileErrors]:
    """Rebuild with the added files, the replaced reports set aside; on failure everything is put
    back as it was (the old index stays current)."""
    undo = [_set_aside(kb, doc_id, root) for dup in replaced for doc_id in dup.existing]
    try:
        kb, build_errors = _rebuild(root, progress)
    except BaseException:
        for f in added:
            f.unlink(missing_ok=True)
        for restore, _ in reversed(undo):
            restore()
        forget_kb(root)
        raise
    for _, finish in undo:
        finish()
    return kb, build_errors


def _set_aside(kb: KnowledgeBase, doc_id: str, root: Path) -> tuple[Callable[[], None], Callable[[], None]]:
    """Take a report out of the sources before a rebuild: its upload is moved to .trash-* when it
    holds that report alone, otherwise the report is excluded in config.json. Returns (restore,
    finish) for after a failed or a successful rebuild."""
    document = kb.documents[doc_id]
    uploads = root / "uploads"
    upload = uploads / document.source
    if upload.is_file() and _inside(upload, uploads):
        try:
            docs = read_file(upload)
        except IngestError:
            docs = []
        if len(docs) == 1 and document.title in (docs[0].title, version_title(docs[0].title, document.source)):
            trashed = upload.with_name(f".trash-{upload.name}")
            upload.rename(trashed)
            return (lambda: trashed.rename(upload)), trashed.unlink
    config = KBConfig.read(root)
    if doc_id in config.excluded:
        return (lambda: None), (lambda: None)
    config.excluded.append(doc_id)
    config.write(root)

    def restore() -> None:
        again = KBConfig.read(root)
        again.excluded = [d for d in again.excluded if d != doc_id]
        again.write(root)

    return restore, (lambda: None)


def recover_interrupted(kb_dir: str | Path | None = None) -> None:
    """Finish what a killed change left in uploads/: a `.trash-NAME` whose report the index in use
    still holds goes back (the removal did not happen), otherwise it is deleted (it did); partial
    copies (`.*.part`) are deleted. Without this the same file could never be added again."""
    uploads = kb_root(kb_dir) / "uploads"
    if not uploads.is_dir():
        return
    leftovers = [f for f in uploads.iterdir() if f.is_file() and f.name.startswith((".trash-", "."))]
    if not leftovers:
        return
    in_use = _sources_in_use(uploads.parent)
    for f in leftovers:
        if f.name.startswith(".trash-"):
            name = f.name[len(".trash-"):]
            if (in_use is None or name in in_use) and not (uploads / name).exists():
                f.rename(uploads / name)
                log.warning("restored %s: its removal was interrupted", name)
            else:
                f.unlink()
        elif f.name.endswith(".part"):
            f.unlink()


def _sources_in_use(root: Path) -> set[str] | None:
    """The sources of the reports in the current index, or None when it cannot be read."""
    try:
        conn = sqlite3.connect(f"file:{(root / 'current' / 'store.sqlite').resolve()}?mode=ro", uri=True)
        try:
            return {r[0] for r in conn.execute("SELECT DISTINCT source FROM documents")}
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def remove_report(doc_id: str, kb_dir: str | Path | None = None, progress: Progress | None = None) -> KnowledgeBase:
    """Remove one report and rebuild: its uploaded file is deleted when it holds that report
    alone, otherwise the report is excluded in config.json. Raises ManageError (Chinese)."""
    root = kb_root(kb_dir)
    with _lock:
        recover_interrupted(root)
        kb = open_kb(root)
        document = kb.documents.get(doc_id)
        if document is None:
            raise ManageError(f"知识库里没有这份报告：{doc_id}")
        if len(kb.documents) == 1:
            raise ManageError("这是知识库里唯一的一份报告，不能删除（至少要保留一份）")
        restore, finish = _set_aside(kb, doc_id, root)  # set aside, not deleted, until the rebuild succeeds
        try:
            kb, _ = _rebuild(root, progress)
        except BaseException as exc:
            restore()
            if isinstance(exc, KnowledgeBaseError):
                raise ManageError(f"删除后无法重建知识库：{exc}") from exc
            raise
        finish()
    log.info("removed %s from %s", doc_id, root)
    return kb
