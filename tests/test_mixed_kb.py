"""A collection that mixes a work report with generic documents (real model, real index on disk):
each document's kind is stored in the index, report priors stay on the report, and generic text
is searched and answered by passage."""
import json
import sqlite3

import pytest

from qa.answer import ask
from qa.index import build, load
from qa.kinds import GENERIC, REPORT
from qa.pipeline import retrieve

pytestmark = pytest.mark.slow

NOTES = [
    {"doc_id": "bridge", "title": "长河大桥",
     "text": "长河大桥是一座跨越长河的公路桥，全长1280米。大桥由东方桥梁公司设计，1998年开工建设。2001年10月1日，大桥正式通车。"},
    {"doc_id": "tea", "title": "云雾茶",
     "text": "云雾茶是产于青峰山区的绿茶，因山中终年云雾缭绕而得名。每年清明前后采摘，以一芽一叶为上品。"},
]


@pytest.fixture(scope="module")
def mixed_kb(tmp_path_factory, small_sources, embedder):
    folder = tmp_path_factory.mktemp("mixed")
    (folder / "彬州市.txt").write_text((small_sources / "彬州市.txt").read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "notes.jsonl").write_text("\n".join(json.dumps(n, ensure_ascii=False) for n in NOTES), encoding="utf-8")
    root = tmp_path_factory.mktemp("kb")
    build(root, sources=[folder], embedder=embedder)
    return root


def test_kinds_are_stored_with_the_documents(mixed_kb):
    conn = sqlite3.connect((mixed_kb / "current" / "store.sqlite").resolve())
    kinds = dict(conn.execute("SELECT doc_id, kind FROM documents").fetchall())
    conn.close()
    assert kinds == {"2023年彬州市政府工作报告": REPORT, "bridge": GENERIC, "tea": GENERIC}
    kb = load(mixed_kb)
    assert kb.default_year == 2023 and kb.cities == ["彬州市"]
    generic = [p for p in kb.passages if p.kind == GENERIC]
    assert {p.doc_id for p in generic} == {"bridge", "tea"} and len(kb.generic_rows) == len(generic)
    # a generic passage is embedded whole: one vector, its own
    for row in kb.generic_rows:
        assert kb.first_sentence[row + 1] - kb.first_sentence[row] == 1


def test_generic_and_report_questions_find_their_documents(mixed_kb):
    assert retrieve("长河大桥是哪家公司设计的？", k=3, kb_dir=mixed_kb)[0].doc_id == "bridge"
    assert retrieve("云雾茶为什么叫这个名字？", k=3, kb_dir=mixed_kb)[0].doc_id == "tea"
    assert retrieve("彬州去年GDP总量有多大？", k=3, kb_dir=mixed_kb)[0].kind == REPORT
    # naming the report's city restricts the reports, not the generic notes
    assert retrieve("彬州的长河大桥哪年通车？", k=3, kb_dir=mixed_kb)[0].doc_id == "bridge"


def test_generic_answers_cite_the_sentence_and_refuse_what_is_not_there(mixed_kb):
    answer = ask("长河大桥是什么时候正式通车的？", kb_dir=mixed_kb, mode="extractive")
    assert not answer.refused and "2001年10月1日" in answer.text and answer.citations[0].passage.doc_id == "bridge"
    assert ask("火星上有多少座火山？", kb_dir=mixed_kb, mode="extractive").refused
    report = ask("彬州去年GDP总量有多大？", kb_dir=mixed_kb, mode="extractive")
    assert not report.refused and report.citations[0].passage.kind == REPORT
