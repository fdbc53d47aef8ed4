"""Questions asked in everyday words (qa/everyday_words.txt): the reports' words for them are
searched and credited, and the everyday word still counts as one no report uses. Pure text, no model."""
import pytest

from qa.config import AnswerConfig
from qa.extract import states_figure
from qa.keywords import add_words
from qa.query import analyze, synonym_groups

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


def test_an_everyday_word_still_counts_as_a_word_no_report_uses():
    # everyday_words.txt gives 供水 for 自来水, yet the reports never say 自来水: the question stays
    # one asked in other words, so the meaning test may answer it as well as the lexical check.
    reports_use = {"供水", "普及率", "生产总值"}.__contains__
    q = analyze("温州去年自来水普及率是多少？", CITIES, 2023, reports_use)
    assert "自来水" in q.unfamiliar and "普及率" not in q.unfamiliar
    # A wording of synonyms.txt is the reports' own: GDP is 生产总值, a word they use.
    assert not analyze("温州去年GDP是多少？", CITIES, 2023, reports_use).unfamiliar
