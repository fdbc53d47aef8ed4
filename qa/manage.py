"""Knowledge-base management for the app: list reports, add files, remove a report, rebuild.

Added files are copied into `<kb>/uploads/` (under a safe name, never outside that folder) and
the index is rebuilt; the embedding cache makes that rebuild embed only the new sentences.
Removing a report deletes its file when it came from a single-report upload, and otherwise
adds its doc_id to `KBConfig.excluded` (the bundled collection is one file with 24 reports).
Every change ends with `forget_kb`, so the next `open_kb` loads the new index.

All messages meant for users are plain Chinese; errors are returned per file as (name, reason).
"""
from __future__ import annotations

import hashlib
import logging
import re
import shutil
import threading
import unicodedata
import uuid
from collections import Counter
from pathlib import Path
from typing import Callable

from .errors import IngestError, KnowledgeBaseError, ManageError
from .index import KBConfig, KnowledgeBase, build
from .ingest import SUPPORTED_SUFFIXES, read_file
from .pipeline import forget_kb, kb_root, open_kb

log = logging.getLogger(__name__)

ALLOWED_SUFFIXES = tuple(sorted(SUPPORTED_SUFFIXES))
MAX_FILE_BYTES = 20 * 1024 * 1024  # per file
MAX_NAME_CHARS = 80  # of the stem of a stored file name

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
    try:
        read_file(path)
    except IngestError as exc:
        return exc.reason
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
        return _rebuild(root, progress)


def add_files(
    paths: list[str | Path],
    kb_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> tuple[KnowledgeBase, FileErrors]:
    """Copy the acceptable files into `<kb>/uploads/` and rebuild. Returns (kb, errors), one
    (file name, Chinese reason) per rejected file; with nothing acceptable nothing is rebuilt."""
    root = kb_root(kb_dir)
    errors: FileErrors = []
    with _lock:
        uploads = root / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        existing = {_digest(f): f.name for f in uploads.iterdir() if f.is_file()}
        added: list[Path] = []
        try:
            for raw in paths:
                source = Path(raw)
                shown = source.name
                reason = _check_file(source)
                if reason is None:
                    digest = _digest(source)
                    if digest in existing:
                        reason = f"与已添加的文件 {existing[digest]} 内容相同，已跳过"
                if reason:
                    errors.append((shown, reason))
                    continue
                target = _unique_target(uploads, safe_name(shown))
                if not _inside(target, uploads) or target.parent.resolve() != uploads.resolve():
                    errors.append((shown, "文件名不安全，已拒绝"))
                    continue
                tmp = uploads / f".{target.name}.{uuid.uuid4().hex}.part"  # hidden: never indexed
                shutil.copyfile(source, tmp)
                tmp.replace(target)
                existing[digest] = target.name
                added.append(target)
            if not added:
                return open_kb(root), errors
            # A removed report stays removed: an upload with the same title is a new version
            # (uploads are read after the configured sources, so it gets its own id).
            kb, build_errors = _rebuild(root, progress)
        except Exception:
            for f in added:  # leave the uploads folder as it was: the old index stays current
                f.unlink(missing_ok=True)
            forget_kb(root)
            raise
    names = {f.name for f in added}
    errors += [(name, reason) for name, reason in build_errors if name in names]
    log.info("added %s to %s", ", ".join(sorted(names)), root)
    return kb, errors


def remove_report(doc_id: str, kb_dir: str | Path | None = None, progress: Progress | None = None) -> KnowledgeBase:
    """Remove one report and rebuild: its uploaded file is deleted when it holds that report
    alone, otherwise the report is excluded in config.json. Raises ManageError (Chinese)."""
    root = kb_root(kb_dir)
    with _lock:
        kb = open_kb(root)
        document = kb.documents.get(doc_id)
        if document is None:
            raise ManageError(f"知识库里没有这份报告：{doc_id}")
        if len(kb.documents) == 1:
            raise ManageError("这是知识库里唯一的一份报告，不能删除（至少要保留一份）")
        uploads = root / "uploads"
        upload = uploads / document.source
        trashed = None
        if upload.is_file() and _inside(upload, uploads):
            try:
                docs = read_file(upload)
            except IngestError:
                docs = []
            if len(docs) == 1 and docs[0].title == document.title:
                # Set aside, not deleted, until the rebuild has succeeded.
                trashed = upload.with_name(f".trash-{upload.name}")
                upload.rename(trashed)
        config = KBConfig.read(root)
        if trashed is None and doc_id not in config.excluded:
            config.excluded.append(doc_id)
            config.write(root)
        try:
            kb, _ = _rebuild(root, progress)
        except Exception as exc:
            if trashed is not None:
                trashed.rename(upload)
            else:
                config.excluded.remove(doc_id)
                config.write(root)
            if isinstance(exc, KnowledgeBaseError):
                raise ManageError(f"删除后无法重建知识库：{exc}") from exc
            raise
        if trashed is not None:
            trashed.unlink()
        deleted = trashed is not None
    log.info("removed %s from %s (%s)", doc_id, root, "file deleted" if deleted else "excluded")
    return kb
