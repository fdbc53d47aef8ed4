"""What kind of document a text is, and what the index holds for each kind.

A *report* is a government work report of a city or region for a year, written in report
sections: the report priors (city scoping, year and section preferences, the synonym table,
a vector for every sentence) were made for those. Anything else is *generic* (news, Wikipedia-
like notes, policy texts): it is indexed by passage (one vector per passage, under the
document's title) and searched by meaning and by Chinese keywords (jieba words and character
bigrams). Decided per document at ingest, stored with the document in the index.
"""
from __future__ import annotations

import re

from .chunking import heading_level, sentence_embedding_text
from .text import split_sentences
from .schema import Passage

REPORT, GENERIC = "report", "generic"
KINDS = (REPORT, GENERIC)

_YEAR_RE = re.compile(r"(?:19|20)\d{2}年")
# What the opening of a report says (「各位代表：现在，我代表市人民政府，向大会作政府工作报告」).
_REPORT_OPENING_RE = re.compile(r"各位代表|政府工作报告|向大会(?:作|报告)")
# Report sections: a review of the past year and the tasks of this one.
_REPORT_SECTION_RE = re.compile(r"回顾|过去(?:一年|五年)|工作安排|主要任务|主要目标|总体要求|重点工作|政府自身建设")


def classify_document(title: str, text: str, city: str | None, year: int | None) -> str:
    """REPORT for a work report, GENERIC otherwise. A report has a title naming a place and a year
    (「2023年彬州市政府工作报告」), or says it is a work report, names a year and is organised in
    report sections (a review, this year's tasks) under numbered headings."""
    if city and year:
        return REPORT
    opening = text[:600]
    says_report = "工作报告" in title or bool(_REPORT_OPENING_RE.search(opening))
    if not says_report or not (year or _YEAR_RE.search(title + opening)):
        return GENERIC
    headings = [p for p in text.split("\n") if heading_level(p)]
    sections = sum(1 for h in headings if _REPORT_SECTION_RE.search(h))
    return REPORT if len(headings) >= 2 and sections >= 1 else GENERIC


def embedding_units(passages: list[Passage]) -> tuple[list[tuple[int, int, int]], list[str]]:
    """What is embedded: (passage row, start, end) spans in the document and the texts given to
    the embedder. A report passage gives one unit per sentence (after its city name); a generic
    passage one unit, the whole passage under its document's title (measured in
    docs/measurements.md: sentence vectors did not pay for their time on generic text)."""
    units, texts = [], []
    for row, p in enumerate(passages):
        if p.kind == GENERIC:
            units.append((row, p.start, p.end))
            texts.append(generic_embedding_text(p))
            continue
        for a, b in split_sentences(p.text):
            units.append((row, p.start + a, p.start + b))
            texts.append(sentence_embedding_text(p, p.text[a:b]))
    return units, texts


def generic_embedding_text(passage: Passage) -> str:
    return f"{passage.title}\n{passage.text}"
