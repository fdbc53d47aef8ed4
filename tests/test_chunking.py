"""Chunking: sentence boundaries, headings, offsets."""
from pathlib import Path

import pytest

from qa.chunking import ChunkConfig, chunk_document, heading_level
from qa.text import split_sentences
from qa.ingest import load_documents
from qa.schema import Document

DATA = Path(__file__).resolve().parent.parent / "data" / "reports"


@pytest.fixture(scope="module")
def docs():
    return load_documents([DATA]).documents


def test_every_chunk_is_its_document_slice(docs):
    for doc in docs:
        passages = chunk_document(doc)
        assert passages
        for p in passages:
            assert doc.text[p.start:p.end] == p.text
            assert p.city == doc.city and p.title == doc.title


def test_chunks_end_at_sentence_ends_and_respect_size(docs):
    config = ChunkConfig()
    for doc in docs:
        for p in chunk_document(doc, config):
            assert len(p.text) <= config.max_chars
            # never cut inside a number
            if p.end < len(doc.text):
                assert not (doc.text[p.end - 1].isdigit() and doc.text[p.end].isdigit())


def test_split_sentences_zh_keeps_decimals_and_quotes():
    text = "全年完成生产总值326.3亿元,增长6.8%。实施“三大工程”!下一句;再一句？"
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == ["全年完成生产总值326.3亿元,增长6.8%。", "实施“三大工程”!", "下一句;", "再一句？"]


def test_heading_styles():
    assert heading_level("一、2022年工作回顾") == 2
    assert heading_level("(一)坚持项目为王,抓建设扩投资") == 3
    assert heading_level("（三）聚焦聚力做强实体。") == 3
    assert heading_level("2022年工作回顾") == 1
    assert heading_level("全年完成生产总值326.3亿元,增长6.8%。") == 0
    assert heading_level("各位代表:") == 0


def test_section_path_and_stable_ids(docs):
    binzhou = next(d for d in docs if d.city == "彬州市")
    passages = chunk_document(binzhou)
    gdp = next(p for p in passages if "326.3亿元" in p.text)
    assert gdp.section.startswith("一、2022年工作回顾")
    assert [p.id for p in chunk_document(binzhou)] == [p.id for p in passages]


def test_numbered_headings_belong_to_the_unnumbered_part_before_them(docs):
    # 泸州: 「2023年重点工作安排」 then 「一、全力以赴稳增长,…」: the numbered sections are this year's plans.
    luzhou = next(d for d in docs if d.city == "泸州市")
    sections = {p.section for p in chunk_document(luzhou)}
    assert any(s.startswith("2023年重点工作安排 > 一、全力以赴稳增长") for s in sections)
    assert not any(s.startswith("一、") for s in sections)


def test_long_sentence_is_cut_at_a_comma_not_in_a_number():
    import re

    body = "，".join(f"第{i}项工作完成投资12,345.6万元" for i in range(40)) + "。"
    doc = Document(doc_id="d", title="t", text=body, source="s")
    passages = chunk_document(doc, ChunkConfig(max_chars=120))
    assert len(passages) > 3
    for p in passages:
        assert len(p.text) <= 120
        assert doc.text[p.start:p.end] == p.text
    # No passage boundary falls inside a figure: every 「12,345.6」 is whole in one passage.
    bounds = {p.start for p in passages} | {p.end for p in passages}
    for m in re.finditer(r"\d[\d,.]*\d", body):
        assert not any(m.start() < cut < m.end() for cut in bounds), (m.group(), m.start())
    assert sum(p.text.count("12,345.6") for p in passages) == 40
