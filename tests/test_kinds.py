"""Document kinds (report / generic) and what generic documents get: classification at ingest,
keyword tokens, the generic reader, and the external benchmark's scoring (pure logic, no model)."""
import json
from pathlib import Path

import pytest

from qa.external_eval import contains_answer, gold_rank, is_span_benchmark
from qa.generic_answer import generic_answer
from qa.generic_search import char_bigrams, generic_tokens
from qa.ingest import load_documents
from qa.kinds import GENERIC, REPORT, classify_document
from qa.schema import Passage

DATA = Path(__file__).resolve().parent.parent / "data" / "reports"

REPORT_BODY = ("各位代表：\n现在，我代表市人民政府，向大会作政府工作报告，请予审议。\n一、2022年工作回顾\n"
               "过去一年，全市生产总值增长4.5%。\n二、2023年主要目标和重点工作\n今年要稳增长。")


def test_every_bundled_report_is_a_report():
    docs = load_documents([DATA]).documents
    assert len(docs) == 24 and {d.kind for d in docs} == {REPORT}


def test_text_that_is_no_report_is_generic(tmp_path):
    rows = [{"doc_id": "w1", "title": "2008年夏季奥运会", "text": "2008年夏季奥运会于8月8日在北京开幕，共有204个国家和地区参加。"},
            {"doc_id": "n1", "title": "新闻", "text": "市长在会上作政府工作报告。报告说，今年全市经济稳中向好。"}]
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    docs = load_documents([tmp_path]).documents
    assert [d.kind for d in docs] == [GENERIC, GENERIC]  # a year in the title, or a report mentioned, is not enough


def test_a_report_without_its_title_line_is_still_a_report():
    assert classify_document("我们的报告", REPORT_BODY, None, None) == REPORT  # says so, names a year, report sections
    no_sections = REPORT_BODY.replace("2022年工作回顾", "历史").replace("2023年主要目标和重点工作", "其他")
    assert classify_document("我们的报告", no_sections, None, None) == GENERIC


def test_keyword_tokens_add_character_bigrams_to_words():
    assert char_bigrams("光荣开发，ω-force") == ["光荣", "荣开", "开发"]
    tokens = generic_tokens("锣鼓经是打击乐记谱方法")
    assert "荣开" not in tokens and "鼓经" in tokens and "打击乐" in tokens


def _passage(text: str, title: str = "某桥", start: int = 0, doc: str = "d1") -> Passage:
    return Passage(id=f"{doc}:{start}", text=text, title=title, city=None, year=None, section="", source="s",
                   start=start, end=start + len(text), doc_id=doc, kind=GENERIC)


BRIDGE = ("长河大桥是一座跨越长河的公路桥，全长1,280米。大桥由东方桥梁公司设计。"
          "大桥于1998年开工建设。2001年10月1日，大桥正式通车，成为当时省内最长的桥梁。")


def test_the_generic_reader_picks_the_sentence_that_answers():
    when = generic_answer("长河大桥是什么时候正式通车的？", [_passage(BRIDGE)])
    assert not when.refused and "2001年10月1日" in when.text and when.text.endswith("。[1]")
    assert when.citations[0].passage.doc_id == "d1" and "东方桥梁" not in when.text
    who = generic_answer("长河大桥由哪家公司设计？", [_passage(BRIDGE)])
    assert "东方桥梁公司" in who.text and "通车" not in who.text
    length = generic_answer("长河大桥全长多少米？", [_passage(BRIDGE)])
    assert "1,280米" in length.text


def test_the_generic_reader_refuses_what_the_passages_do_not_say():
    answer = generic_answer("珠穆朗玛峰的海拔是多少？", [_passage(BRIDGE)])
    assert answer.refused and answer.related and "珠穆朗玛峰" in answer.text


def test_benchmark_scoring():
    assert is_span_benchmark([{"question": "q", "gold_doc_ids": ["D1"]}]) and not is_span_benchmark([{"question": "q"}])
    assert gold_rank(["D2", "D1", "D1"], ["D1"]) == 2 and gold_rank(["D2"] * 12 + ["D1"], ["D1"]) is None
    assert contains_answer("据《x》：由光荣和ω-force开发[1]。", ["光荣和ω-force", "光荣"])
    assert contains_answer("全长１２８０米", ["1280米"]) and not contains_answer("答案", [""])


@pytest.mark.slow  # builds a real index with the real model
def test_a_span_benchmark_with_an_empty_question_is_scored_without_it(tmp_path, capsys):
    from qa.external_eval import run_span_benchmark

    corpus = [{"doc_id": "A", "title": "甲城", "text": "甲城位于河流北岸，建于1520年，以丝绸闻名。"},
              {"doc_id": "B", "title": "乙山", "text": "乙山海拔2100米，是本省最高的山峰。"}]
    questions = [{"id": "q1", "question": "乙山海拔多少米？", "answers": ["2100米"], "gold_doc_ids": ["B"]},
                 {"id": "q2", "question": "", "answers": ["1520年"], "gold_doc_ids": ["A"]}]
    for name, rows in (("corpus.jsonl", corpus), ("questions.jsonl", questions)):
        (tmp_path / name).write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert run_span_benchmark(tmp_path / "questions.jsonl", kb_dir=tmp_path / "kb") == 0
    out = capsys.readouterr().out
    assert "1 questions (1 empty questions skipped)" in out and "containment 1.000" in out
