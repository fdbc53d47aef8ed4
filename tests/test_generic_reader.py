"""The generic reader's rules (qa/generic_answer.py), each on a small made-up paragraph: which
sentence answers, how it is quoted, and when the reader refuses (pure logic, no model)."""
from qa.generic_answer import generic_answer, ranked_sentences
from qa.kinds import GENERIC
from qa.schema import Passage


def _passage(text: str, title: str, start: int = 0, doc: str = "d1") -> Passage:
    return Passage(id=f"{doc}:{start}", text=text, title=title, city=None, year=None, section="", source="s",
                   start=start, end=start + len(text), doc_id=doc, kind=GENERIC)


def test_a_sentence_about_the_documents_subject_answers_without_naming_it():
    fish = _passage("蓝斑石鲈是鲈形目的一种海鱼，常见于珊瑚礁。本鱼以小型甲壳类为食。", "蓝斑石鲈")
    assert "小型甲壳类" in ranked_sentences("蓝斑石鲈以什么为食？", [fish])[0].text


def test_pairs_with_a_function_character_weigh_little():
    # 「站在」 (车站 + 在) is no evidence that a sentence says where the station is.
    station = _passage("米泽车站位于山形县米泽市。米泽车站在2002年入选车站百选。", "米泽车站")
    assert "山形县" in ranked_sentences("米泽车站在哪里？", [station])[0].text


def test_a_place_question_prefers_the_sentence_that_gives_a_place():
    temple = _passage("天后古庙供奉天后，每年农历三月举行庙会。天后古庙坐落于海边山坡上。", "天后古庙")
    assert "海边山坡" in ranked_sentences("天后古庙在哪里？", [temple])[0].text


def test_a_definition_question_gets_the_sentence_that_defines():
    ground = _passage("操场的种类大约分成两种。操场，指用以进行步操、阅兵、集会的场地。有盖操场的规模较小。", "操场")
    assert "用以进行步操" in ranked_sentences("操场的定义是什么？", [ground])[0].text


def test_sentences_that_follow_each_other_are_quoted_as_one():
    fruit = _passage("猴面包果的钙含量比菠菜高一倍。因此它有时被称为超级水果。猴面包树生长在非洲。", "猴面包树")
    answer = generic_answer("为什么称猴面包果为超级水果？", [fruit])
    assert "猴面包果的钙含量比菠菜高一倍。因此它有时被称为超级水果。[1]" in answer.text
    assert answer.text.count("[1]") == 1 and len(answer.citations[0].spans) == 2


def test_a_consequence_brings_the_sentence_before_it():
    fruit = _passage("猴面包树生长在非洲。猴面包果的钙含量比菠菜高一倍。因此它有时被称为超级水果。", "猴面包树")
    answer = generic_answer("为什么称猴面包果为超级水果？", [fruit])
    assert "钙含量" in answer.text and "超级水果" in answer.text and "非洲" not in answer.text


def test_a_number_or_latin_word_the_document_lacks_is_refused():
    cup = _passage("2018年世界杯在俄罗斯举行，法国队夺得冠军。决赛在莫斯科卢日尼基体育场进行。", "2018年世界杯")
    assert not generic_answer("2018年世界杯的冠军是哪支球队？", [cup]).refused
    later = generic_answer("2022年世界杯的冠军是哪支球队？", [cup])
    assert later.refused and later.related == [cup]
    assert generic_answer("世界杯的冠军ChatGPT是谁？", [cup]).refused
