"""Files -> cleaned `Document`s.

Reads .txt/.md (UTF-8, or GB18030/GBK detected), .pdf (text layer), .docx and .jsonl
(`{"doc_id","title","text"}` per line). A text file may hold several reports one after
another (the bundled collection does): it is split at report title lines. Cleaning removes
the collection's dirt (advert line, 「目录」, stray `|` lines, footnote markers) and breaks
run-on lines into paragraphs, so that every later offset refers to `Document.text`.
"""
from __future__ import annotations

import json
import re
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import IngestError
from .kinds import classify_document
from .schema import Document

SUPPORTED_SUFFIXES = {".txt", ".md", ".pdf", ".docx", ".jsonl"}
# Limits on what a file expands to (its size on disk says little: a 250 KB .docx held 20 M characters).
MAX_FILE_CHARS = 2_000_000  # ≈ 130 reports; the bundled collection of 24 is 0.37 M
MAX_DOCX_XML_BYTES = 64 * 1024 * 1024  # uncompressed XML of a .docx, checked before parsing
MAX_DOCX_BYTES = 256 * 1024 * 1024  # everything uncompressed (images included)

# 「2023年彬州市政府工作报告」「2023年泸州市人民政府工作报告」 — the title of a city report.
TITLE_RE = re.compile(
    r"^\s*(?P<year>(?:19|20)\d{2})年(?:度)?(?P<city>[\u4e00-\u9fff]{1,12}?(?:市|县|区|州|盟|旗))"
    r"(?:人民)?政府工作报告\s*$"
)
_FOOTNOTE_RE = re.compile(r"\[\d{1,3}\]|【\d{1,3}】")
_ADVERT_RE = re.compile(r"(?:www\.|https?://|微信|请点击)", re.I)
_JUNK_LINE_RE = re.compile(r"^[\s|｜\-_=*·•]*$")
# A run-on line (e.g. a whole report on one line) uses spaces as paragraph breaks: split at a
# space that follows CJK text or punctuation and precedes CJK text, a digit or a heading marker.
_PARAGRAPH_SPACE_RE = re.compile(r"(?<=[\u4e00-\u9fff。！？；：:;!?”」）)])[ \u3000\t]+(?=[\u4e00-\u9fff（(“「\d])")


@dataclass
class IngestResult:
    documents: list[Document]
    errors: list[tuple[str, str]]  # (file, reason)


def decode_text(raw: bytes, name: str = "<bytes>") -> str:
    """UTF-8 first (with or without BOM), then GB18030 (a superset of GBK/GB2312), else fail."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _looks_like_text(text):
        return text
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is not None and _looks_like_text(str(best)):
        return str(best)
    raise IngestError(name, "无法识别文字编码（既不是 UTF-8 也不是 GBK/GB18030），请另存为 UTF-8 文本", code="bad_encoding")


def _looks_like_text(text: str) -> bool:
    if not text:
        return True
    bad = sum(1 for ch in text if unicodedata.category(ch) in ("Cc", "Co", "Cn") and ch not in "\n\r\t")
    return bad / len(text) < 0.01


def clean_paragraphs(text: str) -> list[str]:
    """Raw text -> cleaned paragraphs (no empty ones, no dirt lines)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    paragraphs: list[str] = []
    for line in text.split("\n"):
        line = _FOOTNOTE_RE.sub("", line).strip()
        if not line or _JUNK_LINE_RE.match(line) or line == "目录":
            continue
        if len(line) < 120 and _ADVERT_RE.search(line):
            continue
        paragraphs.extend(p.strip() for p in _PARAGRAPH_SPACE_RE.split(line) if p.strip())
    return paragraphs


def split_reports(paragraphs: list[str]) -> list[tuple[str | None, list[str]]]:
    """Split a paragraph list at report title lines -> [(title or None, body paragraphs)].

    Text before the first title (an advert, a table of contents) is dropped when a title
    follows; a file with no title line is one untitled document.
    """
    title_at = [i for i, p in enumerate(paragraphs) if TITLE_RE.match(p)]
    # A title repeated as a page header (PDF) continues the same report.
    title_at = [i for n, i in enumerate(title_at) if n == 0 or paragraphs[i].strip() != paragraphs[title_at[0 if n == 0 else n - 1]].strip()]
    if not title_at:
        return [(None, paragraphs)]
    bounds = title_at + [len(paragraphs)]
    return [(paragraphs[a], paragraphs[a + 1 : b]) for a, b in zip(bounds, bounds[1:])]


def parse_title(title: str) -> tuple[str | None, int | None]:
    """「2023年彬州市政府工作报告」 -> ("彬州市", 2023); other titles -> (None, year if any)."""
    m = TITLE_RE.match(title)
    if m:
        return m.group("city"), int(m.group("year"))
    y = re.search(r"((?:19|20)\d{2})年", title)
    return None, (int(y.group(1)) if y else None)


_MD_IMAGE_RE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK_RE = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_URL_RE = re.compile(r"(?:https?|ftp|file|data|javascript):\S*|www\.\S+", re.I)
_TAG_RE = re.compile(r"<[^>]*>")


def clean_title(title: str) -> str:
    """A title safe to show as Markdown: images, links, tags and URLs removed (a title is shown in
    the chat and the sources panel; 「![x](http://…)」 there made the browser fetch an outside URL)."""
    title = _MD_IMAGE_RE.sub(lambda m: m.group(1), title)
    title = _MD_LINK_RE.sub(lambda m: m.group(1), title)
    title = _URL_RE.sub("", _TAG_RE.sub("", title))
    title = re.sub(r"[\x00-\x1f\x7f<>]+", " ", title)
    return re.sub(r"\s+", " ", title).strip()[:200] or "未命名报告"


def version_title(title: str, source: str) -> str:
    """The title of one of several reports of the same city and year: it names its file."""
    return f"{title}（{source}）"


def label_versions(documents: list[Document]) -> list[Document]:
    """When several reports claim one city and year (an upload kept beside the official report),
    each title names its file, so an answer says which version it cites."""
    counts = Counter((d.city, d.year) for d in documents if d.city)
    return [replace(d, title=version_title(d.title, d.source)) if d.city and counts[(d.city, d.year)] > 1 else d
            for d in documents]


def make_document(title: str, paragraphs: list[str], source: str, doc_id: str | None = None) -> Document:
    title = clean_title(title)
    city, year = parse_title(title)
    text = "\n".join(paragraphs)
    return Document(
        doc_id=doc_id or title,
        title=title,
        text=text,
        source=source,
        city=city,
        year=year,
        kind=classify_document(title, text, city, year),
    )


def documents_from_text(text: str, source: str, fallback_title: str) -> list[Document]:
    docs = []
    for title, body in split_reports(clean_paragraphs(text)):
        if not body:
            continue
        docs.append(make_document(title or fallback_title, body, source))
    return docs


def _read_pdf(path: Path) -> str:
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # pypdf raises many types on a corrupt file; all mean "broken"
        raise IngestError(path.name, "PDF 文件已损坏或无法打开", code="broken_file") from exc
    text = "\n".join(pages)
    if not text.strip():
        raise IngestError(path.name, "PDF 里没有文字层（可能是扫描件），请先做文字识别（OCR）再上传", code="no_text_layer")
    return text


def _check_docx_expansion(path: Path) -> None:
    """Refuse a .docx whose parts expand too far, from the zip's directory, before parsing it
    (a decompression bomb took the process to 4.1 GB). zipfile never inflates a member beyond
    the size its directory declares, so the declared sizes bound what parsing reads."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise IngestError(path.name, "Word 文件已损坏，或不是真正的 .docx 文件", code="broken_file") from exc
    xml = sum(m.file_size for m in members if m.filename.lower().endswith((".xml", ".rels")))
    total = sum(m.file_size for m in members)
    if xml > MAX_DOCX_XML_BYTES or total > MAX_DOCX_BYTES:
        raise IngestError(path.name, f"Word 文件解压后过大（{total / 1024 / 1024:,.0f} MB，其中文字部分 {xml / 1024 / 1024:,.0f} MB；"
                          f"上限 {MAX_DOCX_XML_BYTES // 1024 // 1024} MB），可能是压缩炸弹，已拒绝", code="too_large")


def _read_docx(path: Path) -> str:
    import docx

    _check_docx_expansion(path)
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # python-docx raises many types on a corrupt file
        raise IngestError(path.name, "Word 文件已损坏，或不是真正的 .docx 文件", code="broken_file") from exc
    return "\n".join(p.text for p in document.paragraphs)


def _read_jsonl(path: Path) -> list[Document]:
    docs = []
    text = decode_text(path.read_bytes(), path.name)
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            doc_id = str(row.get("doc_id") or row["title"] or f"{path.stem}-{lineno}")
            title, body = str(row["title"] or doc_id), str(row["text"] or "")
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise IngestError(path.name, f"JSONL 第 {lineno} 行格式不对：每行应是含 title 和 text 的 JSON 对象", code="bad_jsonl") from exc
        paragraphs = clean_paragraphs(body)
        if paragraphs:
            docs.append(make_document(title, paragraphs, path.name, doc_id=doc_id))
    return docs


def read_file(path: Path, source: str | None = None) -> list[Document]:
    """One file -> its documents. Raises IngestError with the file name and the reason."""
    source = source or path.name
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        shown = suffix or "（无扩展名）"
        raise IngestError(path.name, f"不支持 {shown} 文件，只能用 {' '.join(sorted(SUPPORTED_SUFFIXES))} 文件", code="unsupported_type")
    try:
        if suffix == ".jsonl":
            docs = _read_jsonl(path)
        else:
            if suffix == ".pdf":
                text = _read_pdf(path)
            elif suffix == ".docx":
                text = _read_docx(path)
            else:
                text = decode_text(path.read_bytes(), path.name)
            docs = documents_from_text(text, source, fallback_title=path.stem)
    except OSError as exc:
        raise IngestError(path.name, f"无法读取这个文件（{exc.strerror or exc}）", code="cannot_read") from exc
    if not docs:
        raise IngestError(path.name, "文件里没有找到文字内容", code="no_text")
    chars = sum(len(d.text) for d in docs)
    if chars > MAX_FILE_CHARS:
        raise IngestError(path.name, f"文件展开后文字太多（{chars:,} 字），每个文件不能超过 {MAX_FILE_CHARS:,} 字", code="too_large")
    return docs


def list_files(paths: list[Path]) -> list[Path]:
    """Expand folders (recursively, sorted) into supported files; hidden files are skipped."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(
                p for p in sorted(path.rglob("*"))
                if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        else:
            files.append(path)
    return files


def load_documents(paths: list[Path]) -> IngestResult:
    """Read every file; unreadable ones are reported (name, reason), the rest are returned."""
    documents: list[Document] = []
    errors: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for path in list_files([Path(p) for p in paths]):
        try:
            docs = read_file(path)
        except IngestError as exc:
            errors.append((str(path), exc.reason))
            continue
        for doc in docs:
            # Two files may carry the same title: keep both, with distinct ids.
            n = seen.get(doc.doc_id, 0)
            seen[doc.doc_id] = n + 1
            documents.append(replace(doc, doc_id=f"{doc.doc_id}#{n + 1}") if n else doc)
    return IngestResult(documents, errors)
