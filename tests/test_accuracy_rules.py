"""Rules for questions asked in everyday words (branch accuracy): the reports' words for them,
and which section can state the year's figure. Pure text, no model."""
import pytest

from qa.answer import Evidence, extractive_answer
from qa.config import AnswerConfig
from qa.extract import states_figure
from qa.keywords import add_words
from qa.query import analyze, synonym_groups
from qa.schema import Passage

CITIES = ["温州市", "龙南市"]
add_words(t for g in synonym_groups() for t in g)  # as loading a knowledge base does


def _states(question: str, sentence: str) -> bool:
    return states_figure(sentence, analyze(question, CITIES, 2023), AnswerConfig.min_figure_coverage)


@pytest.mark.parametrize("question, sentence", [
    ("温州去年给买房的人发了多少钱？", "发放购房补助1.2亿元。"),
    ("温州去年楼市成交了多少套？", "房地产销售1.5万套。"),
    ("温州今年要修多少公里马路？", "新改建城市道路35公里。"),
    ("温州去年在城里种了多少棵树？", "城区新植树木5万株。"),
    ("温州今年打算翻修多少座桥？", "改造危桥12座。"),
])
def test_a_figure_asked_in_everyday_words_is_stated_in_the_reports_words(question, sentence):
    assert _states(question, sentence)


@pytest.mark.parametrize("question, report_word", [
    ("温州怎么解决社区长辈吃饭难？", "老年人"),
    ("温州去年怎么让老百姓多花钱？", "消费"),
    ("温州机关的花销压了多少？", "支出"),
])
def test_the_search_also_looks_for_the_reports_word(question, report_word):
    assert report_word in analyze(question, CITIES, 2023).keyword_text.split()


def _passage(start: int, text: str, section: str) -> Passage:
    return Passage(id=f"d:{start}", text=text, title="2023年温州市政府工作报告", city="温州市", year=2023,
                   section=section, source="t.txt", start=start, end=start + len(text), doc_id="d", score=0.8)


REVIEW, PLAN = "一、2022年工作回顾", "二、2023年工作安排"


def test_this_years_figure_is_not_answered_from_last_years_review():
    review = _passage(0, "新增规上工业企业86家。", REVIEW)
    plan = _passage(100, "新增规上工业企业100家以上。", PLAN)
    sims = {("d", 0): 0.95, ("d", 100): 0.85}  # last year's sentence is much closer to the question
    question = "温州今年要新增多少家规上工业企业？"
    q = analyze(question, CITIES, 2023)
    answer = extractive_answer(Evidence(q, [review, plan], sims, {}))
    assert "100家" in answer.text and "86家" not in answer.text
    alone = extractive_answer(Evidence(q, [review], {("d", 0): 0.95}, {}))
    assert alone.refused  # the review alone does not say what this year's figure is to be


def test_last_years_figure_is_still_answered_from_the_review():
    review = _passage(0, "新增规上工业企业86家。", REVIEW)
    q = analyze("温州去年新增了多少家规上工业企业？", CITIES, 2023)
    answer = extractive_answer(Evidence(q, [review], {("d", 0): 0.95}, {}))
    assert not answer.refused and "86家" in answer.text
