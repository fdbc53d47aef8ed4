"""Findings of issue 14 (item 7), each reproduced on a real knowledge base: a failed index command
changes nothing, a mistyped --kb builds nothing, checksums catch edited index files, a corrupt
embedding cache is set aside, duplicate city+year uploads need a choice, interrupted removals are
recovered, per-knowledge-base text limits. Real model, real index on disk (slow)."""
import json
import os
import sqlite3
import shutil

import numpy as np
import pytest

import qa
from qa import manage
from qa.cli import main as cli
from qa.errors import IndexCorruptError, IndexMissingError
from qa.index import build, load
from qa.pipeline import forget_kb, open_kb

FAKE_BINZHOU = "2023年彬州市政府工作报告\n一、2022年工作回顾\n过去一年，全市生产总值1万亿元，增长50%。\n"
GDP = "彬州去年GDP总量有多大？"


def _state(root):
    """What a failed command must leave as it was."""
    return (root / "config.json").read_text(encoding="utf-8"), os.readlink(root / "current"), load(root).manifest


# ---------------------------------------------------------------- the index command


def test_a_failed_index_command_changes_nothing(kb_copy, tmp_path, capsys):
    before = _state(kb_copy)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli(["--kb", str(kb_copy), "index", str(empty)]) == 2
    assert "没有可以建索引的内容" in capsys.readouterr().err
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.pdf").write_bytes(b"%PDF broken")
    assert cli(["--kb", str(kb_copy), "index", str(tmp_path / "junk")]) == 2
    assert cli(["--kb", str(kb_copy), "index", str(tmp_path / "no-such-folder")]) == 2
    assert _state(kb_copy) == before
    forget_kb(kb_copy)
    assert "326.3亿元" in qa.ask(GDP, kb_dir=kb_copy, mode="extractive").text


def test_sources_that_disappear_leave_the_previous_build_answering(tmp_path, small_sources, embedder, capsys):
    sources = tmp_path / "src"
    shutil.copytree(small_sources, sources)
    root = tmp_path / "kb"
    build(root, sources=[sources], embedder=embedder)
    before = _state(root)
    shutil.rmtree(sources)  # the folder the knowledge base was made from is gone
    assert cli(["--kb", str(root), "index"]) == 2
    assert "没有可以建索引的内容" in capsys.readouterr().err
    assert _state(root) == before
    forget_kb(root)
    answer = qa.ask(GDP, kb_dir=root, mode="extractive")  # stale, cannot rebuild: the previous build answers
    assert "326.3亿元" in answer.text


def test_a_mistyped_kb_path_builds_nothing(tmp_path, small_kb_dir, capsys):
    typo = tmp_path / "kb-typo"
    for args in (["ask", GDP], ["search", GDP], ["index"]):
        assert cli(["--kb", str(typo), *args]) == 2
        err = capsys.readouterr().err
        assert "不是知识库" in err and "index" in err
    assert not typo.exists()
    with pytest.raises(IndexMissingError, match="不是知识库"):
        open_kb(typo)
    assert not typo.exists()


# ---------------------------------------------------------------- checksums


def _edit_store(build_dir):
    conn = sqlite3.connect(build_dir / "store.sqlite")
    with conn:
        changed = conn.execute("UPDATE documents SET text = replace(text, '326.3亿元', '999.9亿元') WHERE text LIKE '%326.3亿元%'").rowcount
    conn.close()
    assert changed == 1


def _scramble_vectors(build_dir):
    path = build_dir / "sentences.faiss"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = np.random.default_rng(0).bytes(4096)  # same size: only a checksum can tell
    path.write_bytes(bytes(data))


def _edit_centroid(build_dir):
    path = build_dir / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["sentence_centroid"] = [-x for x in manifest["sentence_centroid"]]
    path.write_text(json.dumps(manifest), encoding="utf-8")


@pytest.mark.parametrize("damage, where", [(_edit_store, "store.sqlite"), (_scramble_vectors, "sentences.faiss"),
                                           (_edit_centroid, "manifest.json")])
def test_edited_index_files_fail_their_checksum_and_are_rebuilt(kb_copy, damage, where):
    damage((kb_copy / "current").resolve())
    with pytest.raises(IndexCorruptError, match=f"{where}.*校验和不符"):
        load(kb_copy)
    forget_kb(kb_copy)
    answer = qa.ask(GDP, kb_dir=kb_copy, mode="extractive")  # open_kb rebuilds from the sources
    assert "326.3亿元" in answer.text and "999.9" not in answer.text
    load(kb_copy)  # the rebuilt index verifies


def test_a_dangling_current_link_is_rebuilt(kb_copy):
    shutil.rmtree((kb_copy / "current").resolve())  # `current` now points at nothing
    with pytest.raises(IndexMissingError):
        load(kb_copy)
    forget_kb(kb_copy)
    assert "326.3亿元" in qa.ask(GDP, kb_dir=kb_copy, mode="extractive").text


# ---------------------------------------------------------------- embedding cache


def test_a_corrupt_embedding_cache_is_set_aside_and_rebuilt(tmp_path, embedder):
    src = tmp_path / "src"
    src.mkdir()
    (src / "r.txt").write_text("2023年测试市政府工作报告\n一、2022年工作回顾\n全市生产总值123.4亿元,增长5.6%。城镇新增就业1.2万人。",
                               encoding="utf-8")
    root = tmp_path / "kb"
    first, _ = build(root, sources=[src], embedder=embedder)
    (root / "embed_cache.sqlite").write_bytes(b"this is not a database" * 500)
    kb, errors = manage.rebuild(kb_dir=root)
    assert errors == [] and kb.manifest.embedded_now == first.manifest.embedded_now > 0  # re-embedded
    assert [p.name for p in root.glob("embed_cache.sqlite.corrupt-*")]
    again, _ = manage.rebuild(kb_dir=root)
    assert again.manifest.embedded_now == 0  # the new cache works


# ---------------------------------------------------------------- same city and year


@pytest.fixture
def fake(tmp_path):
    path = tmp_path / "in" / "彬州-改.txt"
    path.parent.mkdir()
    path.write_text(FAKE_BINZHOU, encoding="utf-8")
    return path


@pytest.mark.parametrize("choice", ["ask", "cancel"])
def test_a_report_claiming_an_existing_city_and_year_is_not_added_silently(kb_copy, fake, choice):
    assert [(d.file, d.city, d.year) for d in manage.find_duplicates([fake], kb_dir=kb_copy)] == [(fake.name, "彬州市", 2023)]
    before = load(kb_copy).manifest
    kb, errors = manage.add_files([fake], kb_dir=kb_copy, on_duplicate=choice)
    assert len(errors) == 1 and errors[0][0] == fake.name
    assert ("替换" in errors[0][1] and "保留两个版本" in errors[0][1]) if choice == "ask" else "取消" in errors[0][1]
    assert kb.manifest == before and not list((kb_copy / "uploads").iterdir())
    answer = qa.ask(GDP, kb_dir=kb_copy, mode="extractive")
    assert "326.3亿元" in answer.text and "1万亿元" not in answer.text


def test_keeping_both_versions_names_the_version_cited(kb_copy, fake):
    kb, errors = manage.add_files([fake], kb_dir=kb_copy, on_duplicate="keep")
    assert errors == []
    titles = sorted(d.title for d in kb.documents.values() if d.city == "彬州市")
    assert len(titles) == 2 and all(t.startswith("2023年彬州市政府工作报告（") for t in titles)
    assert any(fake.name in t for t in titles)
    answer = qa.ask(GDP, kb_dir=kb_copy, mode="extractive")
    cited = answer.citations[0].passage
    assert cited.title in answer.text  # 「据《2023年彬州市政府工作报告（…）》：」 says which version
    assert ("1万亿元" in answer.text) == (fake.name in cited.title)


def test_replacing_removes_the_official_report(kb_copy, fake):
    kb, errors = manage.add_files([fake], kb_dir=kb_copy, on_duplicate="replace")
    assert errors == []
    binzhou = [d for d in kb.documents.values() if d.city == "彬州市"]
    assert len(binzhou) == 1 and binzhou[0].source == fake.name and binzhou[0].title == "2023年彬州市政府工作报告"
    assert "1万亿元" in qa.ask(GDP, kb_dir=kb_copy, mode="extractive").text
    with pytest.raises(manage.ManageError):
        manage.add_files([fake], kb_dir=kb_copy, on_duplicate="maybe")


def test_the_knowledge_base_text_limit(kb_copy, fake, monkeypatch):
    kb = load(kb_copy)
    monkeypatch.setattr(manage, "MAX_KB_CHARS", sum(len(d.text) for d in kb.documents.values()) + 10)
    other = fake.with_name("测试.txt")
    other.write_text("2023年测试市政府工作报告\n一、2022年工作回顾\n全市生产总值123.4亿元,增长5.6%。", encoding="utf-8")
    kb2, errors = manage.add_files([other], kb_dir=kb_copy)
    assert len(errors) == 1 and "文字总量将超过上限" in errors[0][1] and kb2.manifest == kb.manifest


def test_an_80_character_upload_name_is_added(kb_copy, tmp_path):
    path = tmp_path / ("二〇二三年测试市人民政府工作报告定稿版本" * 4 + ".txt")
    path.write_text("2023年测试市政府工作报告\n一、2022年工作回顾\n全市生产总值123.4亿元,增长5.6%。", encoding="utf-8")
    kb, errors = manage.add_files([path], kb_dir=kb_copy)
    assert errors == [] and "测试市" in kb.cities


# ---------------------------------------------------------------- interrupted removals


def test_a_removal_killed_before_its_rebuild_is_undone_on_the_next_start(kb_copy, tmp_path):
    path = tmp_path / "测试.txt"
    path.write_text("2023年测试市政府工作报告\n一、2022年工作回顾\n全市生产总值123.4亿元,增长5.6%。", encoding="utf-8")
    manage.add_files([path], kb_dir=kb_copy)
    uploads = kb_copy / "uploads"
    (uploads / path.name).rename(uploads / f".trash-{path.name}")  # what a kill during the rebuild leaves
    forget_kb(kb_copy)
    kb = open_kb(kb_copy)
    assert (uploads / path.name).exists() and not list(uploads.glob(".trash-*")) and "测试市" in kb.cities
    kb, errors = manage.add_files([path], kb_dir=kb_copy)
    assert "内容相同" in errors[0][1]  # it is there, once


def test_a_removal_killed_after_its_rebuild_is_finished_on_the_next_start(kb_copy, tmp_path):
    path = tmp_path / "测试.txt"
    path.write_text("2023年测试市政府工作报告\n一、2022年工作回顾\n全市生产总值123.4亿元,增长5.6%。", encoding="utf-8")
    kb, _ = manage.add_files([path], kb_dir=kb_copy)
    doc_id = next(d.doc_id for d in kb.documents.values() if d.city == "测试市")
    manage.remove_report(doc_id, kb_dir=kb_copy)
    uploads = kb_copy / "uploads"
    shutil.copyfile(path, uploads / f".trash-{path.name}")  # killed after the swap, before the delete
    (uploads / ".x.part").write_text("half a copy")
    forget_kb(kb_copy)
    assert "测试市" not in open_kb(kb_copy).cities
    assert not list(uploads.iterdir())
    kb, errors = manage.add_files([path], kb_dir=kb_copy)  # the same file can be added again
    assert errors == [] and "测试市" in kb.cities
