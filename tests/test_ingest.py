"""Ingestion: the collection's real dirt, user file formats, unreadable files."""
import json
from pathlib import Path

import pytest

from qa.ingest import IngestError, clean_paragraphs, decode_text, load_documents, parse_title, read_file

DATA = Path(__file__).resolve().parent.parent / "data" / "reports"


@pytest.fixture(scope="module")
def bundled():
    return load_documents([DATA])


def test_bundled_collection_splits_into_24_city_reports(bundled):
    assert bundled.errors == []
    assert len(bundled.documents) == 24
    assert {d.year for d in bundled.documents} == {2023}
    cities = {d.city for d in bundled.documents}
    assert {"彬州市", "泸州市", "珠海市", "温州市"} <= cities and None not in cities
    assert len({d.doc_id for d in bundled.documents}) == 24


def test_advert_and_table_of_contents_are_dropped(bundled):
    first = bundled.documents[0]
    assert first.title == "2023年彬州市政府工作报告"
    all_text = "".join(d.text for d in bundled.documents)
    assert "mishugongzuo" not in all_text and "微信" not in all_text[:200]
    assert not any(line == "目录" for d in bundled.documents for line in d.text.split("\n"))


def test_wenzhou_run_on_line_becomes_paragraphs_with_headings(bundled):
    wenzhou = next(d for d in bundled.documents if d.city == "温州市")
    lines = wenzhou.text.split("\n")
    assert len(lines) > 30
    assert "一、2022年工作回顾" in lines
    assert not any(line.strip() in {"|", "｜"} for line in lines)
    assert max(len(line) for line in lines) < 2000


def test_people_government_titles_parse():
    assert parse_title("2023年泸州市人民政府工作报告") == ("泸州市", 2023)
    assert parse_title("2023年彬州市政府工作报告") == ("彬州市", 2023)
    assert parse_title("某公司年报") == (None, None)


def test_footnote_markers_removed_and_punctuation_kept():
    paragraphs = clean_paragraphs("实施“强基”行动[5]计划,成效明显【8】。\n|\n\n")
    assert paragraphs == ["实施“强基”行动计划,成效明显。"]


def test_gb18030_and_utf8_bom_are_decoded(tmp_path):
    text = "2023年测试市政府工作报告\n全市生产总值100亿元,增长5%。"
    (tmp_path / "gbk.txt").write_bytes(text.encode("gbk"))
    (tmp_path / "bom.md").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    result = load_documents([tmp_path])
    assert result.errors == []
    assert [d.city for d in result.documents] == ["测试市", "测试市"]
    assert all("100亿元" in d.text for d in result.documents)
    assert len({d.doc_id for d in result.documents}) == 2


def test_binary_garbage_is_reported_not_indexed(tmp_path):
    (tmp_path / "good.txt").write_text("2023年甲市政府工作报告\n内容一。", encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes(bytes(range(256)) * 20)
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (tmp_path / "broken.docx").write_bytes(b"PK nonsense")
    result = load_documents([tmp_path])
    assert [d.city for d in result.documents] == ["甲市"]
    failed = {Path(name).name: reason for name, reason in result.errors}
    assert set(failed) == {"bad.txt", "broken.pdf", "broken.docx"}
    assert failed["bad.txt"].startswith("无法识别文字编码") and "损坏" in failed["broken.pdf"] and "损坏" in failed["broken.docx"]
    with pytest.raises(IngestError, match="bad.txt"):
        decode_text((tmp_path / "bad.txt").read_bytes(), "bad.txt")


def test_jsonl_docx_and_pdf(tmp_path):
    rows = [{"doc_id": "a1", "title": "2023年乙市政府工作报告", "text": "一、2022年工作回顾\n生产总值200亿元。"}]
    (tmp_path / "r.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    import docx

    d = docx.Document()
    d.add_paragraph("2023年丙市政府工作报告")
    d.add_paragraph("新增就业1.2万人。")
    d.save(tmp_path / "r.docx")
    docs = load_documents([tmp_path]).documents
    by_city = {doc.city: doc for doc in docs}
    assert by_city["乙市"].doc_id == "a1" and "200亿元" in by_city["乙市"].text
    assert "1.2万人" in by_city["丙市"].text


def test_unsupported_suffix_has_clear_error(tmp_path):
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"x")
    with pytest.raises(IngestError, match="不支持 .xlsx 文件"):
        read_file(path)


def test_title_repeated_as_page_header_stays_one_report():
    from qa.ingest import documents_from_text

    text = "2023年甲市政府工作报告\n第一页内容。\n2023年甲市政府工作报告\n第二页内容。\n2023年乙市政府工作报告\n乙的内容。"
    docs = documents_from_text(text, "x.pdf", "x")
    assert [d.city for d in docs] == ["甲市", "乙市"]
    assert "第一页内容" in docs[0].text and "第二页内容" in docs[0].text
    assert "2023年甲市政府工作报告" in docs[0].text  # kept as text, offsets stay valid
