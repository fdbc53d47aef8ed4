"""Knowledge-base management (qa.manage); the web app's own tests are in test_web.py and test_api.py.

Uses the small real knowledge base of tests/conftest.py (彬州市, 咸阳市, 宁波市; real model)."""
import json
import re
from pathlib import Path

import pytest

from qa import manage
from qa.index import KBConfig, load
from qa.pipeline import open_kb

REPORT = "2023年测试市政府工作报告\n一、2022年工作回顾\n过去一年，全市生产总值123.4亿元,增长5.6%。城镇新增就业1.2万人。\n二、2023年主要目标\n生产总值增长6%左右。\n"


def _cjk(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))


@pytest.fixture
def report_file(tmp_path) -> Path:
    path = tmp_path / "in" / "2023年测试市政府工作报告.txt"
    path.parent.mkdir()
    path.write_text(REPORT, encoding="utf-8")
    return path


# ---------------------------------------------------------------- listing


def test_list_reports(small_kb_dir):
    kb = load(small_kb_dir)
    reports = manage.list_reports(kb)
    assert {r["city"] for r in reports} == {"彬州市", "咸阳市", "宁波市"}
    assert sum(r["passages"] for r in reports) == len(kb.passages)
    for r in reports:
        assert set(r) >= {"doc_id", "title", "city", "chars", "passages", "source"}
        assert r["chars"] == len(kb.documents[r["doc_id"]].text) > 1000
        assert r["passages"] > 10 and r["uploaded"] is False


# ---------------------------------------------------------------- adding


def test_add_file_embeds_only_its_passages_and_answers(kb_copy, report_file):
    calls = []
    kb, errors = manage.add_files([report_file], kb_dir=kb_copy, progress=lambda f, m: calls.append((f, m)))
    assert errors == []
    assert (kb_copy / "uploads" / report_file.name).read_text(encoding="utf-8") == REPORT
    new = [d for d in kb.documents.values() if d.city == "测试市"]
    assert len(new) == 1 and len(kb.documents) == 4
    rows = [i for i, p in enumerate(kb.passages) if p.doc_id == new[0].doc_id]
    new_texts = len(rows) + sum(int(kb.first_sentence[r + 1] - kb.first_sentence[r]) for r in rows)
    # only the new report's passages (and their sentences) were embedded, nothing of the other three
    assert 0 < kb.manifest.embedded_now <= new_texts
    assert calls and calls[-1][0] == 1.0
    assert open_kb(kb_copy).documents.keys() == kb.documents.keys()  # forget_kb: the cache sees the new index
    reports = {r["city"]: r for r in manage.list_reports(kb)}
    assert reports["测试市"]["uploaded"] and reports["测试市"]["source"] == report_file.name

    from qa.answer import ask

    answer = ask("测试市去年生产总值是多少？", kb_dir=kb_copy, mode="extractive")
    assert not answer.refused and "123.4亿元" in answer.text and answer.citations[0].passage.city == "测试市"


def test_bad_files_get_plain_chinese_reasons_and_no_rebuild(kb_copy, tmp_path):
    before = load(kb_copy).manifest.built_at
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "tool.exe").write_bytes(b"MZ\x90\x00")
    (bad / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0")
    (bad / "empty.txt").write_bytes(b"")
    (bad / "scan.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    (bad / "noise.txt").write_bytes(bytes(range(256)) * 40)
    big = bad / "big.txt"
    with open(big, "wb") as fh:
        fh.truncate(manage.MAX_FILE_BYTES + 1)
    paths = sorted(bad.iterdir()) + [bad / "missing.md"]
    kb, errors = manage.add_files(paths, kb_dir=kb_copy)
    reasons = dict(errors)
    assert set(reasons) == {p.name for p in paths}
    assert all(_cjk(r) for r in reasons.values()), reasons
    assert "不支持" in reasons["tool.exe"] and ".docx" in reasons["old.doc"]
    assert "空" in reasons["empty.txt"] and "20 MB" in reasons["big.txt"]
    assert "PDF" in reasons["scan.pdf"] and "编码" in reasons["noise.txt"]
    assert not any((kb_copy / "uploads").iterdir())
    assert kb.manifest.built_at == before and len(kb.documents) == 3  # nothing to add: no rebuild


def test_duplicate_upload_is_skipped_and_names_are_safe(kb_copy, report_file, tmp_path):
    manage.add_files([report_file], kb_dir=kb_copy)
    same = tmp_path / "copy.txt"
    same.write_bytes(report_file.read_bytes())
    kb, errors = manage.add_files([same], kb_dir=kb_copy)
    assert len(errors) == 1 and "内容相同" in errors[0][1]
    assert sorted(p.name for p in (kb_copy / "uploads").iterdir()) == [report_file.name]


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\win.md", "win.md"),
    (".hidden.txt", "hidden.txt"),
    ("报告 (定稿);rm -rf.TXT", "报告_(定稿)_rm_-rf.txt"),
    ("2023年测试市政府工作报告.txt", "2023年测试市政府工作报告.txt"),
])
def test_safe_name(name, expected):
    assert manage.safe_name(name) == expected


def test_safe_name_never_empty_or_long():
    assert re.fullmatch(r"report-[0-9a-f]{8}\.txt", manage.safe_name("....txt"))
    assert len(manage.safe_name("长" * 500 + ".pdf")) <= manage.MAX_NAME_CHARS + 4


# ---------------------------------------------------------------- removing and rebuilding


def test_remove_uploaded_report_deletes_its_file(kb_copy, report_file):
    kb, _ = manage.add_files([report_file], kb_dir=kb_copy)
    doc_id = next(d.doc_id for d in kb.documents.values() if d.city == "测试市")
    kb = manage.remove_report(doc_id, kb_dir=kb_copy)
    assert doc_id not in kb.documents and len(kb.documents) == 3
    assert not (kb_copy / "uploads" / report_file.name).exists()
    assert KBConfig.read(kb_copy).excluded == []
    assert kb.manifest.embedded_now == 0


def test_new_version_of_a_removed_report_replaces_it(kb_copy, tmp_path):
    kb = load(kb_copy)
    old_id = next(d.doc_id for d in kb.documents.values() if d.city == "咸阳市")
    manage.remove_report(old_id, kb_dir=kb_copy)
    new = tmp_path / "xianyang-v2.txt"
    new.write_text("2023年咸阳市政府工作报告\n一、2022年工作回顾\n全市生产总值2999.9亿元,增长4.9%。", encoding="utf-8")
    kb, errors = manage.add_files([new], kb_dir=kb_copy)
    assert errors == []
    xianyang = [d for d in kb.documents.values() if d.city == "咸阳市"]
    assert len(xianyang) == 1 and "2999.9亿元" in xianyang[0].text


def test_remove_bundled_report_excludes_it(kb_copy):
    kb = load(kb_copy)
    doc_id = next(d.doc_id for d in kb.documents.values() if d.city == "咸阳市")
    kb = manage.remove_report(doc_id, kb_dir=kb_copy)
    assert doc_id not in kb.documents and "咸阳市" not in kb.cities
    assert json.loads((kb_copy / "config.json").read_text(encoding="utf-8"))["excluded"] == [doc_id]
    assert kb.manifest.embedded_now == 0  # the other reports come from the embedding cache
    assert open_kb(kb_copy).cities == ["宁波市", "彬州市"]


def test_remove_errors(kb_copy):
    with pytest.raises(manage.ManageError, match="没有这份报告"):
        manage.remove_report("no such report", kb_dir=kb_copy)


def test_rebuild_reuses_the_cache(kb_copy):
    kb, errors = manage.rebuild(kb_dir=kb_copy)
    assert errors == [] and kb.manifest.embedded_now == 0 and len(kb.documents) == 3
