"""The web app's parts without a server: rendering, the conversation export, the OpenAI wire
format, settings and access rules, and the page's handlers called directly (those over the small
real knowledge base are slow)."""
import re
from pathlib import Path
from datetime import datetime

import pytest

from qa.config import ConfigError, from_env
from qa.index import load
from qa.schema import Answer, Citation, Passage
from qa.serialize import answer_from_record, answer_with_sources, strip_sources
from qa.web import handlers, render
from qa.web.export import conversation_markdown
from qa.web.protocol import ApiError, parse_chat, parse_retrieve, question_and_history, stream_chunks

TITLE = "2023年彬州市政府工作报告"
CITIES = ["彬州市", "咸阳市", "宁波市"]
MODELS = ["extractive"]


def _passage(text: str, n: int = 1, start: int = 1000) -> Passage:
    return Passage(id=f"p{n}", text=text, title=TITLE, city="彬州市", year=2023, section="一、2022年工作回顾",
                   source="彬州市.txt", start=start, end=start + len(text), doc_id="d")


def _cite(p: Passage, phrase: str) -> Citation:
    at = p.text.index(phrase)
    return Citation(p, ((p.start + at, p.start + at + len(phrase)),))  # document offsets


GDP = "全年完成生产总值326.3亿元、超过兴平居咸阳第三,增长6.8%"
PASSAGE = _passage(f"一年来,我们坚决扛牢责任。{GDP};地方财政收入18.6亿元。")
ANSWER = Answer(text=f"据《{TITLE}》：{GDP}[1]。", citations=[_cite(PASSAGE, GDP)], question="彬州去年GDP总量有多大？")


# ---------------------------------------------------------------- rendering


def test_render_answer_links_markers_and_highlights_the_cited_span():
    out = render.render_answer(ANSWER, turn="t1", seconds=0.3)
    assert '<a class="cite" href="#src-t1-1"' in out and 'id="src-t1-1"' in out
    assert "<details" in out and f"《{TITLE}》" in out and "一、2022年工作回顾" in out
    assert f"<mark>{GDP}</mark>" in out and out.count("<mark>") == 1
    assert "\n\n" not in out  # stays one raw HTML block in the chatbot's markdown
    plain = render.answer_plain(ANSWER)
    assert plain.startswith(ANSWER.text) and f"[1] 《{TITLE}》" in plain


def test_render_escapes_html_and_leaves_unknown_markers():
    answer = Answer(text="彬州<script>x</script>财政收入为18.6亿元[1]。未知标记[7]。",
                    citations=[_cite(PASSAGE, "地方财政收入18.6亿元")], mode="llm")
    out = render.render_answer(answer, turn="t2")
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "[7]" in out and 'href="#src-t2-7"' not in out
    assert "<mark>地方财政收入18.6亿元</mark>" in out


def test_render_refusal_shows_related_passages():
    answer = Answer(text="报告中没有找到“北京房价”的相关内容。", refused=True, related=[_passage("甲。", 1), _passage("乙。", 2)])
    out = render.render_answer(answer, turn="t3")
    assert out.count("<details") == 2 and "最接近的段落" in out and "cite" not in out


# ---------------------------------------------------------------- records and export


def test_the_record_carries_offsets_and_spans_and_reads_back():
    record = ANSWER.to_dict()
    c = record["citations"][0]
    assert (c["title"], c["city"], c["section"]) == (TITLE, "彬州市", "一、2022年工作回顾")
    assert (c["start"], c["end"], c["text"]) == (PASSAGE.start, PASSAGE.end, PASSAGE.text)
    (a, b), = c["spans"]
    assert c["text"][a - c["start"] : b - c["start"]] == GDP
    assert record["refused"] is False and record["text"] == ANSWER.text
    assert answer_from_record(record) == ANSWER


def test_sources_list_follows_the_text_and_comes_off_again():
    text = answer_with_sources(ANSWER)
    assert text.startswith(ANSWER.text) and text.endswith(f"来源：\n[1] 《{TITLE}》 一、2022年工作回顾")
    assert strip_sources(text) == ANSWER.text
    noted = Answer(text="甲[1]。", citations=ANSWER.citations, note="请核对。")
    assert "提示：请核对。" in answer_with_sources(noted) and strip_sources(answer_with_sources(noted)) == "甲[1]。"


def test_conversation_markdown_has_questions_answers_and_cited_passages():
    refusal = Answer(text="报告中没有找到“彬州房价”的相关内容。", refused=True, related=[PASSAGE], question="彬州房价？")
    turns = [{"question": "彬州去年GDP总量有多大？", "answer": ANSWER.to_dict()},
             {"question": "那房价呢？", "answer": refusal.to_dict()}]
    md = conversation_markdown(turns, when=datetime(2026, 1, 2, 3, 4))
    assert md.startswith("# 政府工作报告问答：对话记录") and "共 2 个问题" in md
    assert "## 问题 1：彬州去年GDP总量有多大？" in md and ANSWER.text in md
    assert f"[1] 《{TITLE}》 · 一、2022年工作回顾（第 {PASSAGE.start}–{PASSAGE.end} 字）" in md
    assert f"**{GDP}**" in md  # the cited span, in the quoted passage
    assert "## 问题 2：那房价呢？" in md and "（按上下文理解为：彬州房价？）" in md and "最接近的段落" in md


# ---------------------------------------------------------------- the OpenAI wire format


def test_question_and_history_from_messages():
    messages = [("system", "你是助手"), ("user", "彬州去年GDP总量有多大？"), ("assistant", answer_with_sources(ANSWER)),
                ("user", "没有回答的一问"), ("user", "那财政收入呢？")]
    question, history = question_and_history(messages)
    assert question == "那财政收入呢？" and history == [("彬州去年GDP总量有多大？", ANSWER.text)]


def test_parse_chat_reads_extras_and_content_parts():
    body = {"model": "extractive", "stream": True, "city": "彬州市", "k": 8, "temperature": 0.2,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "去年GDP多少？"}]}]}
    req = parse_chat(body, MODELS, CITIES, 6)
    assert (req.question, req.history, req.stream, req.city, req.k) == ("去年GDP多少？", [], True, ["彬州市"], 8)
    assert parse_chat({"messages": [{"role": "user", "content": "问"}]}, MODELS, CITIES, 6).model == "extractive"


@pytest.mark.parametrize("body, status, code", [
    ([], 400, "invalid_body"),
    ({}, 400, "missing_messages"),
    ({"messages": [{"role": "system", "content": "x"}]}, 400, "no_user_message"),
    ({"messages": [{"role": "robot", "content": "x"}]}, 400, "invalid_message"),
    ({"messages": [{"role": "user", "content": "  "}]}, 400, "empty_question"),
    ({"messages": [{"role": "user", "content": "问" * 2001}]}, 400, "question_too_long"),
    ({"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}, 404, "model_not_found"),
    ({"messages": [{"role": "user", "content": "彬州GDP"}], "city": "北京市"}, 400, "unknown_city"),
    ({"messages": [{"role": "user", "content": "彬州GDP"}], "k": 0}, 400, "invalid_k"),
    ({"messages": [{"role": "user", "content": "彬州GDP"}], "stream": "yes"}, 400, "invalid_stream"),
])
def test_parse_chat_errors(body, status, code):
    with pytest.raises(ApiError) as info:
        parse_chat(body, MODELS, CITIES, 6)
    error = info.value.body()["error"]
    assert (info.value.status, error["code"]) == (status, code) and re.search(r"[\u4e00-\u9fff]", error["message"])
    assert set(error) == {"message", "type", "param", "code"}


def test_parse_retrieve():
    req = parse_retrieve({"question": "宁波去年GDP", "k": 3, "city": ["宁波市"]}, CITIES)
    assert (req.question, req.k, req.city) == ("宁波去年GDP", 3, ["宁波市"])
    with pytest.raises(ApiError, match="question"):
        parse_retrieve({"k": 3}, CITIES)


def test_stream_chunks_end_with_sources_and_the_record():
    events = [{"type": "delta", "text": ANSWER.text}, {"type": "answer", "answer": ANSWER}]
    chunks = list(stream_chunks(events, "extractive", "chatcmpl-1"))
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == "chatcmpl-1" for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == answer_with_sources(ANSWER)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["report_qa"] == ANSWER.to_dict()
    # an LLM answer renumbered after streaming: the final text follows what was streamed
    renumbered = [{"type": "delta", "text": "甲[3]。"}, {"type": "answer", "answer": ANSWER}]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in stream_chunks(renumbered, "llm"))
    assert text == "甲[3]。\n\n" + answer_with_sources(ANSWER)


# ---------------------------------------------------------------- settings and access


def test_logins_and_api_key_from_env(tmp_path):
    users = tmp_path / "users"
    users.write_text("# logins\nalice:one\n\nbob:two\n", encoding="utf-8")
    web = from_env({"QA_AUTH": "admin:p:w", "QA_AUTH_FILE": str(users), "QA_API_KEY": " k-123 "}).web
    assert web.auth == (("admin", "p:w"), ("alice", "one"), ("bob", "two")) and web.api_key == "k-123"
    assert from_env({}).web.auth == () and from_env({}).web.api_key == ""
    with pytest.raises(ConfigError, match="用户名:密码"):
        from_env({"QA_AUTH": "nopassword"})


def test_public_address_needs_a_login_or_a_key():
    from qa.web.api import is_loopback
    from qa.web.server import check_exposure

    assert all(is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "::ffff:127.0.0.1"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.5", "", None))
    check_exposure("127.0.0.1", from_env({}))
    with pytest.raises(ConfigError, match="QA_AUTH"):
        check_exposure("0.0.0.0", from_env({}))
    check_exposure("0.0.0.0", from_env({"QA_API_KEY": "k"}))
    check_exposure("0.0.0.0", from_env({"QA_AUTH": "a:b"}))


# ---------------------------------------------------------------- handlers over the small knowledge base


def _last(generator):
    *_, last = generator
    return last


def test_chat_handler_answers_follows_up_and_exports(kb_copy, tmp_path):
    box, chat, turns, copied = _last(handlers.respond(kb_copy, "彬州去年GDP总量有多大？", [], [], [], 6, "extractive"))
    assert box == "" and [m["role"] for m in chat] == ["user", "assistant"]
    assert "326.3亿元" in chat[-1]["content"] and 'class="cite"' in chat[-1]["content"] and "<mark>" in chat[-1]["content"]
    assert len(turns) == 1 and "326.3亿元" in copied and turns[0]["answer"]["citations"][0]["spans"]
    _, chat, turns, _ = _last(handlers.respond(kb_copy, "那财政收入呢？", chat, turns, [], 6, "extractive"))
    # the follow-up's figure, read from the report itself: 「地方财政收入……亿元」
    binzhou = next(d.text for d in load(kb_copy).documents.values() if d.city == "彬州市")
    revenue = re.search(r"地方财政收入(\d+(?:\.\d+)?亿元)", binzhou).group(1)
    assert len(chat) == 4 and len(turns) == 2 and revenue in chat[-1]["content"]
    # a bad question is shown as an error message in the chat, not raised, and not kept
    _, chat, turns, copied = _last(handlers.respond(kb_copy, "   ", chat, turns, ["彬州市"], 6, "extractive"))
    assert len(chat) == 5 and "问题为空" in chat[-1]["content"] and len(turns) == 2 and copied == ""
    md = open(handlers.export_file(turns, tmp_path), encoding="utf-8").read()
    assert "## 问题 2：那财政收入呢？" in md and revenue in md and "326.3亿元" in md and "《2023年彬州市政府工作报告》" in md
    assert handlers.export_file([], tmp_path) is None


def test_streaming_handler_shows_pending_first(kb_copy):
    steps = list(handlers.respond(kb_copy, "宁波2023年要新增多少就业？", [], [], ["宁波市"], 6, "extractive"))
    assert "正在检索" in steps[0][1][-1]["content"] and steps[0][3] is None
    assert "qa-note" in steps[-1][1][-1]["content"]


def test_kb_handlers(kb_copy):
    view = handlers.kb_view(kb_copy, ["彬州市", "北京市"])
    assert view.cities == sorted(CITIES) and view.cities_kept == ["彬州市"] and len(view.rows) == len(view.reports) == 3
    message, view = handlers.remove(kb_copy, None, [])
    assert "没有删除" in message and len(view.rows) == 3
    step = handlers.add(kb_copy, [], [])
    assert "请先选择" in step.message and not step.clear_files and step.pending == ()


def test_a_comparison_answer_shows_its_values_in_a_table_linked_to_the_sources():
    p1, p2 = _passage("全市生产总值增长4.3%。", 1), _passage("全市生产总值增长4%。", 2)
    rows = [{"city": "铜川市", "value": 4.3, "unit": "%", "qualifiers": [], "marker": 1, "note": ""},
            {"city": "渭南市", "value": 4.0, "unit": "%", "qualifiers": ["左右"], "marker": 2, "note": ""},
            {"city": "<b>乐昌市</b>", "value": None, "unit": "", "qualifiers": [], "marker": None, "note": "报告未给出"}]
    answer = Answer("铜川市增长4.3%[1]；渭南市增长4%[2]；乐昌市报告未给出。", [Citation(p1), Citation(p2)], mode="facts", rows=rows)
    out = render.render_answer(answer, turn="t9")
    table = out[out.index('<table class="qa-rows">') : out.index("</table>")]
    # each value is itself a link to its source box, as its [n] marker is
    assert '<td>铜川市</td><td><a class="cite qa-cell" href="#src-t9-1" data-target="src-t9-1"' in table
    assert '>4%（左右）</a>' in table and table.count('href="#src-t9-2"') == 2
    assert "&lt;b&gt;乐昌市" in table and "<td>报告未给出</td>" in table and 'id="src-t9-1"' in out
    assert "<table class=\"qa-rows\">" not in render.render_answer(Answer("一个数[1]。", [Citation(p1)], rows=rows[:1]), turn="t8")


def test_the_indicator_tab_lists_every_report_value_with_its_sentence_and_a_csv(small_kb_dir, tmp_path):
    from qa.pipeline import open_kb

    kb = open_kb(small_kb_dir)
    table = handlers.fact_table(small_kb_dir, "经济增速", "2022", "", [], folder=tmp_path)
    growth = {f.city: f for f in kb.facts if f.headline and f.indicator == "地区生产总值" and f.kind == "growth" and f.period == "2022"}
    assert [r[0] for r in table.rows] == sorted(growth, key=lambda c: -growth[c].value)  # highest first
    for row in table.rows:
        f = growth[row[0]]
        assert row[1] == f"{f.value:g}" and kb.documents[f.doc_id].text[f.start : f.end] in row[4]  # the stating sentence
    assert [p["城市"] for p in table.chart] == [r[0] for r in table.rows]
    csv_text = Path(table.csv_path).read_text(encoding="utf-8-sig")
    assert csv_text.splitlines()[0] == ",".join(handlers.FACT_HEADERS) and all(r[0] in csv_text for r in table.rows)
    assert handlers.fact_table(small_kb_dir, "不存在的指标", "2022", "", []).message.startswith("不认识的指标")
    # each row's source: its report's passage, the sentence highlighted, the value as written emphasised
    for i, row in enumerate(table.rows):
        f = growth[row[0]]
        document = kb.documents[f.doc_id]
        panel = handlers.fact_source(small_kb_dir, table.rows, table.sources, [len(table.rows) - 1 - i, 0], row)
        assert f"《{document.title}》" in panel and f"{row[0]} {row[1]}{row[2]}" in panel
        assert f'<strong class="qa-value">{document.text[f.start : f.end]}</strong>' in panel
        marked = panel[panel.index("<mark>") + 6 : panel.index("</mark>")]
        assert re.sub("<[^>]+>", "", marked) == document.text[f.sentence_start : f.sentence_end]
        assert kb.passage_at(f.doc_id, f.start).section in panel


# ---------------------------------------------------------------- 指标对比: a clicked value -> its source

ROWS = [["铜川市", "4.3", "%", "增速", "全市生产总值增长4.3%", "《甲》第 306 字"],
        ["邯郸市", "4.2", "%", "增速", "全市生产总值完成4346.3亿元、增长4.2%", "《乙》第 473 字"],
        ["河源市", "1", "%", "增速", "增长1%", "《丙》第 652 字"]]


def test_a_clicked_row_is_found_by_its_values_even_in_a_sorted_table():
    # the row's values decide, whatever the index (older Gradio: the place on screen of a sorted table)
    assert handlers.clicked_row(ROWS, [0, 1], ROWS[2]) == 2
    assert handlers.clicked_row(ROWS, (1, 4), [str(v) for v in ROWS[1]]) == 1
    assert handlers.clicked_row(ROWS, [0, 1], ["北京市", "9", "%", "", "", ""]) is None  # not this table's row
    assert handlers.clicked_row(ROWS, [2, 0], None) == 2 and handlers.clicked_row(ROWS, 1, None) == 1
    assert handlers.clicked_row(ROWS, [3, 0], None) is None and handlers.clicked_row([], [0, 0], None) is None


def test_the_source_panel_highlights_the_sentence_and_its_value_and_escapes_the_report():
    text = "过去一年,<b>稳中向好</b>。全市生产总值增长4.3%,居全省第2位。财政收入增长6%。"
    p = Passage(id="p", text=text, title="<i>报告</i>", city="铜川市", year=2023, section="一、<u>回顾</u>",
                source="x.txt", start=500, end=500 + len(text), doc_id="d")
    a = text.index("全市")
    b = text.index("。", a) + 1
    v = text.index("增长4.3%")
    out = render.fact_source_panel("铜川市 <s>4.3</s>%", "", p, (500 + a, 500 + b), (500 + v, 500 + v + 6))
    assert "<mark>全市生产总值<strong class=\"qa-value\">增长4.3%</strong>,居全省第2位。</mark>" in out
    assert out.count("<mark>") == 1 and "财政收入增长6%" in out and "<details" in out and " open>" in out
    for hostile in ("<b>", "<i>", "<u>", "<s>"):
        assert hostile not in out
    assert "&lt;b&gt;稳中向好" in out and "《&lt;i&gt;报告&lt;/i&gt;》" in out and "&lt;u&gt;回顾" in out
    hint = render.fact_source_panel(None, handlers.FACT_SOURCE_HINT)
    assert "点击表中的一个数值" in hint and "<details" not in hint
