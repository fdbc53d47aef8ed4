"""Span selection logic of the extractive answerer (pure text, no model)."""
import pytest

from qa.extract import states_figure, topic_terms
from qa.keywords import add_words
from qa.query import analyze, synonym_groups

CITIES = ["温州市", "龙南市"]
add_words(t for g in synonym_groups() for t in g)  # as loading a knowledge base does


def _states(question: str, sentence: str) -> bool:
    analysis = analyze(question, CITIES, 2023)
    return states_figure(sentence, topic_terms(question, analysis), question)


@pytest.mark.parametrize("question", ["温州城镇和农村居民2022年人均可支配收入各是多少？", "温州城里人和农村人去年人均可支配收入各是多少？"])
def test_urban_and_rural_figures_are_stated_by_a_chengxiang_sentence(question):
    # Reports give both at once: 「城乡居民人均可支配收入分别达到……」
    assert _states(question, "城乡居民人均可支配收入分别达到73326元、38482元,分别增长5.2%、7.4%。")


def test_rural_figure_does_not_answer_the_urban_one():
    question = "温州2022年城镇居民人均可支配收入是多少元？"
    assert not _states(question, "农村居民人均可支配收入20190元、增长5.4%。")
    assert _states(question, "城镇居民人均可支配收入65000元、增长4.1%。")


def test_growth_rate_does_not_answer_an_amount_question():
    question = "温州去年旅游总收入有多少？"
    assert not _states(question, "旅游总收入增长12.5%。")
    assert _states(question, "旅游总收入达到120亿元,增长12.5%。")


def test_abbreviated_revenue_states_the_target():
    assert _states("龙南今年工业园区的营业收入目标是多少？", "力争园区营收突破700亿元。")
