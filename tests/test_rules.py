"""The refusal and year rules of the answer step, and the question checks, as fast unit tests:
breaking any one of them fails a test here (issue 14, item 5). The passages are made up in the
reports' own style; the similarities stand in for the embedding model's cosines, which is the
signal these rules combine with (the real model's part is tested in test_answer.py)."""
import pytest

from qa.answer import Evidence, extractive_answer
from qa.config import AnswerConfig, RetrievalConfig
from qa.errors import QuestionError
from qa.query import analyze, check_question
from qa.schema import Passage

CITIES = ["彬州市", "咸阳市", "宁波市", "珠海市", "泸州市"]
PAST = "一、2022年工作回顾"
PLAN = "二、2023年工作安排"


def _passage(i: int, text: str, section: str, city: str = "彬州市", score: float = 1.0) -> Passage:
    return Passage(id=f"p{i}", text=text, title=f"2023年{city}政府工作报告", city=city, year=2023, section=section,
                   source="t.txt", start=1000 * i, end=1000 * i + len(text), doc_id=f"{city}-doc", score=score)


def _evidence(question: str, passages: list[Passage], sims: list[float]) -> Evidence:
    q = analyze(question, CITIES, 2023, reports_use=lambda word: True)
    # one sentence per passage here: its key is (doc_id, passage start)
    return Evidence(q, passages, {(p.doc_id, p.start): s for p, s in zip(passages, sims)}, {})


def test_minimum_score_gate_refuses_a_weak_match():
    passages = [_passage(0, "全市生产总值326.3亿元，增长6.8%。", PAST)]
    weak = extractive_answer(_evidence("彬州去年GDP是多少？", passages, [0.2]))
    assert weak.refused and not weak.citations
    strong = extractive_answer(_evidence("彬州去年GDP是多少？", passages, [0.85]))
    assert not strong.refused and "326.3亿元" in strong.text
    # the gate is the configured threshold: the same weak match passes a lower one
    assert not extractive_answer(_evidence("彬州去年GDP是多少？", passages, [0.2]), AnswerConfig(min_span_score=1.0)).refused


@pytest.mark.parametrize("question", ["拉萨去年GDP总量有多大？", "北京市去年GDP是多少？", "成都今年要新增多少就业？",
                                      "海淀区去年财政收入多少？"])
def test_a_place_without_a_report_is_refused_even_when_a_passage_fits(question):
    passages = [_passage(0, "全市生产总值1887.2亿元，增长6%。城镇新增就业3.5万人。", PAST, city="泸州市")]
    answer = extractive_answer(_evidence(question, passages, [0.9]))
    assert answer.refused and "知识库中没有" in answer.text and "1887.2" not in answer.text


def test_places_named_without_their_suffix_are_recognised():
    assert analyze("拉萨去年GDP总量有多大？", CITIES, 2023).unknown_places == ("拉萨",)
    assert analyze("西藏今年的目标", CITIES, 2023).unknown_places == ("西藏",)
    for question in ("彬州去年GDP总量有多大？", "泸州市今年目标", "今年全市GDP是多少？", "新建多少个5G基站？",
                     "合作项目签了多少个？", "城区改造了多少户？", "宁波和咸阳比谁多"):
        assert analyze(question, CITIES, 2023).unknown_places == (), question


def test_last_years_question_prefers_the_review_section():
    # the plan sentence comes first and is as similar: only the section tells them apart
    passages = [_passage(0, "全市生产总值达到350亿元。", PLAN), _passage(1, "全市生产总值326.3亿元。", PAST)]
    past = extractive_answer(_evidence("彬州去年GDP是多少？", passages, [0.8, 0.8]))
    assert "326.3亿元" in past.text and "350" not in past.text
    plan = extractive_answer(_evidence("彬州今年GDP要达到多少？", passages[::-1], [0.8, 0.8]))
    assert "350亿元" in plan.text


def test_a_target_does_not_answer_last_years_figure():
    passages = [_passage(0, "力争全市生产总值达到350亿元。", ""), _passage(1, "全市生产总值326.3亿元。", "")]
    answer = extractive_answer(_evidence("彬州去年GDP是多少？", passages, [0.9, 0.8]))
    assert "326.3亿元" in answer.text and "350" not in answer.text
    only_target = extractive_answer(_evidence("彬州去年GDP是多少？", passages[:1], [0.9]))
    assert only_target.refused
    # asked about the target itself, the target answers
    assert "350亿元" in extractive_answer(_evidence("彬州今年力争GDP达到多少？", passages[:1], [0.9])).text


def test_a_how_question_is_refused_when_nothing_answers_it():
    passages = [_passage(0, "全年接待游客1200万人次，旅游收入增长15%。", PAST),
                _passage(1, "我们坚持以人民为中心的发展思想。", PLAN)]
    answer = extractive_answer(_evidence("彬州打算怎么治理臭水沟？", passages, [0.35, 0.4]))
    assert answer.refused and not answer.citations
    measure = [_passage(2, "实施城市黑臭水体整治工程，新建污水管网50公里。", PLAN)]
    assert not extractive_answer(_evidence("彬州打算怎么治理臭水沟？", measure, [0.82])).refused


@pytest.mark.parametrize("question", ["😀😀😀", "？？？！！", "\x00\x00\x00", "'; DROP TABLE documents; --",
                                      "SELECT * FROM passages WHERE 1=1", "\ud800", "   \t ", "...", "🇨🇳👍"])
def test_content_free_questions_are_refused_with_a_message(question):
    with pytest.raises(QuestionError) as info:
        check_question(question, 2000)
    assert info.value.code in ("no_content", "empty_question") and "问" in str(info.value)


def test_a_lone_surrogate_or_nul_inside_a_question_is_dropped():
    assert check_question("彬州\ud800去年GDP\x00是多少？", 2000) == "彬州去年GDP是多少？"
    assert check_question("彬州去年GDP是多少？", 2000).encode("utf-8")


def test_a_long_question_is_refused_at_once():
    import time

    import qa
    from qa.config import Config

    t0 = time.perf_counter()
    with pytest.raises(QuestionError, match="问题太长"):
        qa.ask("彬州去年GDP是多少？" * 200)  # 2,000 characters: refused before any model or index is loaded
    assert time.perf_counter() - t0 < 1
    assert check_question("彬州" * 250, Config().max_question_chars)  # 500 characters still pass


def test_year_prior_setting_is_on_by_default():
    # the retrieval side of the year rule (tested end to end in test_answer.py): a bonus that exists
    assert RetrievalConfig().year_prior > 0 and RetrievalConfig().report_aware
