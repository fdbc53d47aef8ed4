"""Documents -> Chinese-aware, structure-aware passages with heading paths and offsets.

A passage never starts or ends inside a sentence (unless one sentence alone is longer than
the chunk size, which is then cut at a clause comma, never inside a number), never crosses
a section heading, and satisfies `document.text[start:end] == passage.text`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .schema import Document, Passage
from .text import SENTENCE_END_RE, split_sentences, trim

CHUNKER_VERSION = "zh-sent-v3"

# Clause breaks for over-long sentences; a comma between two digits is a thousands separator.
_CLAUSE_RE = re.compile(r"(?<!\d)[，,、：:](?!\d)|(?<=\d)[，,、：:](?=\D)|(?<=\D)[，,、：:](?=\d)")

_CN_NUM = "一二三四五六七八九十"
_H1_RE = re.compile(rf"^[{_CN_NUM}]{{1,3}}、")
_H2_RE = re.compile(rf"^[（(][{_CN_NUM}]{{1,3}}[）)]")
_H3_RE = re.compile(r"^\d{1,2}[.、．](?!\d)")
_MAX_HEADING_CHARS = 45


@dataclass(frozen=True)
class ChunkConfig:
    max_chars: int = 300  # what a reader takes in at a glance; also the cited unit
    min_chars: int = 80  # a paragraph break ends a chunk only once it holds this much
    overlap_sentences: int = 0


def _split_long(text: str, a: int, b: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut a sentence longer than max_chars at clause commas (never inside a number)."""
    if b - a <= max_chars:
        return [(a, b)]
    cuts = [m.end() for m in _CLAUSE_RE.finditer(text, a, b)]
    pieces, start, last_cut = [], a, None
    for cut in cuts + [b]:
        if cut - start > max_chars and last_cut is not None and last_cut > start:
            pieces.append((start, last_cut))
            start = last_cut
        last_cut = cut
    pieces.append((start, b))
    # A clause that is still too long (no commas at all) is cut hard, but not inside a number.
    out = []
    for s, e in pieces:
        while e - s > max_chars:
            cut = s + max_chars
            while cut > s + max_chars // 2 and _inside_number(text, cut):
                cut -= 1
            out.append((s, cut))
            s = cut
        out.append((s, e))
    return out


def _inside_number(text: str, cut: int) -> bool:
    number_chars = "0123456789.%"
    return text[cut - 1] in number_chars and text[cut] in number_chars


def heading_level(paragraph: str) -> int:
    """1 for an unnumbered short heading, 2 for 「一、…」, 3 for 「(一)…」, 4 for 「1.…」; 0 for body text.
    An unnumbered heading (「2023年重点工作安排」) opens a part of the report whose numbered headings
    (「一、全力以赴稳增长」) belong to it."""
    p = paragraph.strip()
    if len(p) > _MAX_HEADING_CHARS:
        return 0
    if _H1_RE.match(p):
        return 2
    if _H2_RE.match(p):
        return 3
    if _H3_RE.match(p) and len(p) <= 30 and not re.search(r"[。；;]", p[:-1]):
        return 4
    # Unnumbered headings such as 「2022年工作回顾」: short, no inner punctuation.
    if len(p) <= 16 and not re.search(r"[，,。；;:：、！？!?“”\"()（）]", p):
        return 1
    return 0


def _inline_heading(paragraph: str) -> tuple[int, str] | None:
    """A paragraph that opens with 「(一)短标题。」 followed by body text: (level, heading)."""
    m = _H2_RE.match(paragraph) or _H1_RE.match(paragraph)
    if not m:
        return None
    end = SENTENCE_END_RE.search(paragraph)
    if not end or end.end() > _MAX_HEADING_CHARS:
        return None
    return (3 if _H2_RE.match(paragraph) else 2), paragraph[: end.end()].rstrip("。；;")


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for line in text.split("\n"):
        a, b = trim(text, pos, pos + len(line))
        if b > a:
            spans.append((a, b))
        pos += len(line) + 1
    return spans


def chunk_document(doc: Document, config: ChunkConfig = ChunkConfig()) -> list[Passage]:
    """Split one document into passages, each with its heading path and offsets."""
    text = doc.text
    path: list[tuple[int, str]] = []  # (level, heading) of the current section
    # Group body sentences into runs that share a section; a paragraph break is marked.
    sections: list[tuple[str, list[tuple[int, int, bool]]]] = []  # (section, [(s, e, starts_paragraph)])

    def set_heading(level: int, heading: str) -> None:
        while path and path[-1][0] >= level:
            path.pop()
        path.append((level, heading))
        sections.append((" > ".join(h for _, h in path), []))

    sections.append(("", []))
    for a, b in _paragraph_spans(text):
        paragraph = text[a:b]
        level = heading_level(paragraph)
        if level:
            if paragraph.strip() != doc.title:  # a title repeated as a page header is no section
                set_heading(level, paragraph.rstrip("。；;:："))
            continue
        inline = _inline_heading(paragraph)
        if inline:
            set_heading(*inline)
        first = True
        for s, e in split_sentences(text, a, b):
            for ps, pe in _split_long(text, s, e, config.max_chars):
                sections[-1][1].append((ps, pe, first))
                first = False

    passages: list[Passage] = []
    for section, sentences in sections:
        for start, end in _pack(sentences, config):
            passages.append(
                Passage(
                    id=f"{doc.doc_id}:{start}-{end}",
                    text=text[start:end],
                    title=doc.title,
                    city=doc.city,
                    year=doc.year,
                    section=section,
                    source=doc.source,
                    start=start,
                    end=end,
                    doc_id=doc.doc_id,
                    kind=doc.kind,
                )
            )
    return passages


def _pack(sentences: list[tuple[int, int, bool]], config: ChunkConfig) -> list[tuple[int, int]]:
    """Greedy packing of consecutive sentences into spans of at most max_chars."""
    chunks: list[tuple[int, int]] = []
    i = 0
    while i < len(sentences):
        start, end = sentences[i][0], sentences[i][1]
        j = i + 1
        while j < len(sentences):
            s, e, new_paragraph = sentences[j]
            if e - start > config.max_chars or (new_paragraph and end - start >= config.min_chars):
                break
            end = e
            j += 1
        chunks.append((start, end))
        # Overlap: the next chunk repeats the last sentences of this one, within a paragraph.
        if config.overlap_sentences and j < len(sentences) and not sentences[j][2]:
            j = max(i + 1, j - config.overlap_sentences)
        i = j
    return chunks


def keyword_text(passage: Passage) -> str:
    """What keyword search indexes: the passage under its report title and section."""
    header = passage.title
    if passage.section:
        header += " | " + passage.section.split(" > ")[-1]
    return f"{header}\n{passage.text}"


def sentence_embedding_text(passage: Passage, sentence: str) -> str:
    """What the embedder reads for one sentence: its city (or report title) first, so that
    「全年完成生产总值326.3亿元」 still says where. Adding the title and section names was
    measured worse on dev and costs half the embedding time (docs/measurements.md)."""
    return f"{passage.city or passage.title}\n{sentence}"
