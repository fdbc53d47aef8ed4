"""Files are limited by what they expand to, titles cannot make the page fetch anything, and stored
names fit the file system (issue 14, item 7). Real files, no model: fast."""
import json
import time
import zipfile

import pytest

from qa import ingest, manage
from qa.ingest import IngestError, clean_title, label_versions, read_file
from qa.schema import Document


def _docx_with_body(path, paragraphs: int) -> None:
    """A real .docx (made by python-docx) whose document.xml is rewritten to hold `paragraphs`
    copies of one paragraph: deflate shrinks the repetition about a thousandfold (a bomb)."""
    import docx

    d = docx.Document()
    d.add_paragraph("2023年测试市政府工作报告")
    d.add_paragraph("全市生产总值123.4亿元。")
    d.save(path)
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    xml = parts["word/document.xml"].decode("utf-8")
    para = "<w:p><w:r><w:t>城镇新增就业1.2万人，全市生产总值123.4亿元，增长5.6%。</w:t></w:r></w:p>"
    head, tail = xml.split("</w:body>")
    parts["word/document.xml"] = (head + para * paragraphs + "</w:body>" + tail).encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)


def test_a_docx_decompression_bomb_is_rejected_before_parsing(tmp_path):
    bomb = tmp_path / "bomb.docx"
    _docx_with_body(bomb, 900_000)  # ≈ 80 MB of XML in a small file
    assert bomb.stat().st_size < 2 * 1024 * 1024
    t0 = time.perf_counter()
    with pytest.raises(IngestError) as info:
        read_file(bomb)
    assert info.value.code == "too_large" and "解压后过大" in info.value.reason
    assert time.perf_counter() - t0 < 2  # from the zip's directory, not by parsing 80 MB
    assert manage._check_file(bomb) == info.value.reason


def test_a_docx_within_the_limits_is_read(tmp_path):
    fine = tmp_path / "fine.docx"
    _docx_with_body(fine, 200)
    docs = read_file(fine)
    assert docs[0].city == "测试市" and docs[0].text.count("1.2万人") == 200


def test_characters_per_file_are_limited(tmp_path):
    big = tmp_path / "big.txt"
    line = "全市生产总值123.4亿元，增长5.6%，城镇新增就业1.2万人。\n"
    big.write_text("2023年测试市政府工作报告\n" + line * (ingest.MAX_FILE_CHARS // len(line) + 10), encoding="utf-8")
    assert big.stat().st_size < manage.MAX_FILE_BYTES  # the size limit alone lets it through
    with pytest.raises(IngestError, match="文字太多"):
        read_file(big)
    just_below = tmp_path / "ok.txt"
    just_below.write_text("2023年测试市政府工作报告\n" + line * 1000, encoding="utf-8")
    assert read_file(just_below)


def test_passages_per_upload_are_limited(tmp_path, monkeypatch):
    path = tmp_path / "r.txt"
    path.write_text("2023年测试市政府工作报告\n" + "全市生产总值123.4亿元，增长5.6%。\n" * 400, encoding="utf-8")
    assert manage._check_file(path) is None
    monkeypatch.setattr(manage, "MAX_FILE_PASSAGES", 5)
    assert "个段落" in manage._check_file(path)


@pytest.mark.parametrize("title", [
    "![x](http://evil.example/p.png)2023年测试市政府工作报告",
    "2023年测试市政府工作报告[点我](https://evil.example/)",
    "<img src=https://evil.example/a.png>2023年测试市政府工作报告",
    "2023年测试市政府工作报告 www.evil.example/x data:image/png;base64,AAAA",
])
def test_titles_cannot_make_the_page_fetch_a_url(title, tmp_path):
    assert not any(s in clean_title(title) for s in ("http", "www.", "![", "<img", "data:", "evil"))
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"title": title, "text": "全市生产总值123.4亿元。"}, ensure_ascii=False), encoding="utf-8")
    doc = read_file(path)[0]
    assert "evil" not in doc.title and "http" not in doc.title and "测试" in doc.title
    assert clean_title("2023年彬州市政府工作报告") == "2023年彬州市政府工作报告"


def test_an_80_character_name_fits_the_file_system(tmp_path):
    name = "二〇二三年测试市人民政府工作报告定稿版本" * 4 + ".txt"  # 80 CJK characters
    stored = manage.safe_name(name)
    assert len(stored.encode("utf-8")) <= manage.MAX_NAME_BYTES + 5
    # what add_files writes: the name and its temporary copy, in a real folder
    target = tmp_path / stored
    manage._copy_in(_write(tmp_path / "src.txt"), target)
    assert target.read_text(encoding="utf-8").startswith("2023年")


def _write(path):
    path.write_text("2023年测试市政府工作报告\n全市生产总值123.4亿元。", encoding="utf-8")
    return path


def test_reports_of_one_city_and_year_name_their_files():
    docs = [Document("a", "2023年彬州市政府工作报告", "x", "all.txt", "彬州市", 2023),
            Document("b", "2023年彬州市政府工作报告", "y", "彬州.txt", "彬州市", 2023),
            Document("c", "2023年宁波市政府工作报告", "z", "all.txt", "宁波市", 2023)]
    titles = [d.title for d in label_versions(docs)]
    assert titles == ["2023年彬州市政府工作报告（all.txt）", "2023年彬州市政府工作报告（彬州.txt）", "2023年宁波市政府工作报告"]
