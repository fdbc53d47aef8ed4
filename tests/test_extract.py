"""Span selection logic of the extractive answerer (pure text, no model)."""
from dataclasses import replace

import pytest

from qa.answer import PARAPHRASE_NOTE, Evidence, extractive_answer
from qa.config import AnswerConfig
from qa.extract import counts_in, states_figure
from qa.keywords import add_words, tokenize_zh
from qa.query import analyze, asks_method, asks_quantity, synonym_groups
from qa.schema import Passage

CITIES = ["温州市", "龙南市"]
add_words(t for g in synonym_groups() for t in g)  # as loading a knowledge base does


def _states(question: str, sentence: str) -> bool:
    return states_figure(sentence, analyze(question, CITIES, 2023), AnswerConfig.min_figure_coverage)


def _answer(question: str, passages: list[Passage], sims: dict, standout: dict | None = None, reports_use=None):
    q = analyze(question, CITIES, 2023, reports_use)
    return extractive_answer(Evidence(q, passages, sims, standout or {}))


@pytest.mark.parametrize("question", ["龙南去年城镇和农村的人均消费支出分别是多少元？", "龙南城市居民、农民的人均消费支出去年各多少？"])
def test_urban_and_rural_figures_are_stated_by_a_chengxiang_sentence(question):
    # Reports give both at once: 「城乡居民人均……分别为……元、……元」
    assert _states(question, "城乡居民人均消费支出分别为31200元、17400元,分别增长3.1%、5.3%。")


def test_rural_figure_does_not_answer_the_urban_one():
    question = "龙南城镇居民去年的人均消费支出有多少？"
    assert not _states(question, "农村居民人均消费支出15190元、增长5.4%。")
    assert _states(question, "城镇居民人均消费支出33000元、增长4.1%。")


def test_growth_rate_does_not_answer_an_amount_question():
    question = "龙南去年快递业务量有多少？"
    assert not _states(question, "快递业务量增长12.5%。")
    assert _states(question, "快递业务量达到1.35亿件,增长12.5%。")


@pytest.mark.parametrize("question, sentence, stated", [
    ("龙南去年原煤产量有多少万吨？", "生猪存栏6万头,蔬菜产量4.8万吨。", False),  # another 产量
    ("龙南去年原煤产量有多少万吨？", "原煤产量达到1200万吨。", True),
    ("龙南去年人均地区生产总值是多少元？", "全市地区生产总值1318.21亿元,同比增长0.5%。", False),
    ("龙南去年人均地区生产总值是多少元？", "人均地区生产总值达到6.5万元。", True),
])
def test_a_figure_of_a_neighbouring_wording_does_not_answer(question, sentence, stated):
    assert _states(question, sentence) is stated


def test_abbreviated_revenue_states_the_target():
    assert _states("温州今年规上工业的营业收入要达到多少？", "力争规上工业营收突破1.2万亿元。")


@pytest.mark.parametrize("question, sentence", [
    ("龙南去年快递业务量是多少？", "2022年,物流体系不断完善,带动快递业务量。"),
    ("龙南去年农民收入是多少？", "2022年,推进城乡融合,持续增加农民收入。"),
    ("龙南城镇居民去年的人均消费支出有多少？", "农村居民人均消费支出15190元,城乡居民消费差距缩小到1.9倍。"),
])
def test_no_figure_is_borrowed_from_elsewhere_in_a_chengxiang_sentence(question, sentence):
    assert not _states(question, sentence)


def _passage(start: int, text: str) -> Passage:
    return Passage(id=f"d:{start}", text=text, title="2023年温州市政府工作报告", city="温州市", year=2023,
                   section="", source="t.txt", start=start, end=start + len(text), doc_id="d", score=0.8)


def test_how_answers_take_near_equal_sentences_and_one_from_another_passage():
    # Sentence scores are set through their cosine with the question (≈ 3 × cosine, see extract.py).
    first = _passage(0, "推进老年食堂建设,新增老年助餐服务点135家。完善居家养老服务网络,覆盖全部街道社区。开展全民健身活动,新建健身步道50公里。")
    second = _passage(200, "实施敬老爱老行动,为困难老人提供上门服务。加快建设城市公园,新增绿地100公顷。")
    sims = {("d", 0): 0.95, ("d", 23): 0.94, ("d", 43): 0.70, ("d", 200): 0.80, ("d", 221): 0.60}
    question = "温州怎么解决老人吃饭的问题？"
    answer = _answer(question, [first, second], sims)
    assert "老年助餐服务点135家" in answer.text and "居家养老服务网络" in answer.text  # within the margin
    assert "困难老人提供上门服务" in answer.text  # the best of the second passage
    assert "健身步道" not in answer.text and "城市公园" not in answer.text
    assert [c.passage for c in answer.citations] == [first, second] and answer.text.count("[1]") == 2 and answer.text.count("[2]") == 1


@pytest.mark.parametrize("question, method, quantity", [
    ("泉州怎么帮企业减负？一年减了多少？", True, False),  # the measure, with its figure
    ("如何让乡村教师待遇提上来？", True, False),
    ("靠哪些举措稳住外贸？成效怎样？", True, False),
    ("老旧小区改造进展得怎么样了？", False, False),  # an outcome, not a measure
    ("彬州去年GDP多少？", False, True),
    ("宁波2023年要新增多少就业？", False, True),
    ("提高居民收入的措施有哪些？", True, False),
    ("宁波去年GDP增速如何呢？", False, False),
    ("今年GDP增长目标是怎样的？", False, False),
    ("宁波GDP增长了多少？如何评价？", False, True),
    ("去年引进了什么招商项目？", False, False),
    ("出了什么招稳外贸？", True, False),
])
def test_how_questions_ask_for_a_measure(question, method, quantity):
    assert asks_method(question) is method and asks_quantity(question) is quantity


def test_a_how_question_is_answered_by_a_measure_without_figures():
    # 「收入」 in a "how" question does not make a sentence without numbers a worse answer.
    p = _passage(0, "全面推行农民工工资专户管理,根治拖欠工资问题。完成国有资产处置收入3.2亿元。")
    sims = {("d", 0): 0.88, ("d", 23): 0.84}
    question = "温州怎样保障农民工的收入？"
    answer = _answer(question, [p], sims)
    assert answer.text.startswith("据《2023年温州市政府工作报告》：全面推行农民工工资专户管理")


def test_a_sentence_that_means_a_word_no_report_uses_is_preferred():
    # 「遛弯」 is no report's word; the sentence standing out as meaning it (a z-score from
    # retrieval) beats a generic one that is slightly closer to the whole question.
    p = _passage(200, "推进基层治理现代化,提升群众满意度。新建口袋公园15个,建成城市绿道20公里。")
    generic, park = ("d", 200), ("d", 200 + p.text.index("新建"))
    sims = {generic: 0.880, park: 0.875}
    question = "龙南打算怎么让街坊邻居遛弯更方便？"

    def first_span(standout):
        return _answer(question, [p], sims, standout).text.split("；")[0]

    assert "基层治理" in first_span(None)
    assert "口袋公园" in first_span({generic: 1.0, park: 4.5})
    assert "基层治理" in first_span({generic: 1.0, park: AnswerConfig.standout_min_z})  # no credit up to the threshold
    sims[generic] = 0.910  # 0.035 of cosine ahead: more than the capped credit makes up
    assert "基层治理" in first_span({generic: 1.0, park: 100.0})


def _paraphrase_case(question: str, figure_sim: float):
    """A report passage whose second sentence holds a figure, among 40 other sentences of the
    report with cosines around 0.80 (only their spread matters)."""
    p = _passage(0, "持续改善农村人居环境。完成农村危房抗震加固改造2000户,新建村级公园10个。")
    report_words = set(tokenize_zh(p.text)) | {"快递", "业务量"}
    sims = {("d", 0): 0.84, ("d", 11): figure_sim} | {("other", i): 0.80 + 0.002 * (i % 10) for i in range(40)}
    return _answer(question, [p], sims, reports_use=report_words.__contains__)


def test_a_figure_asked_in_other_words_is_answered_when_its_sentence_stands_out():
    # 「老房子」「怕震」 are words no report uses: the lexical check cannot judge, the meaning does.
    answer = _paraphrase_case("温州乡下老房子怕震，去年弄结实了多少户？", 0.90)
    assert not answer.refused and "2000户" in answer.text and answer.note == PARAPHRASE_NOTE
    assert _paraphrase_case("温州乡下老房子怕震，去年弄结实了多少户？", 0.83).refused  # no outlier: refused


def test_a_paraphrased_figure_in_another_unit_does_not_answer():
    # The sentence stands out, but it counts houses and parks: it cannot say how much was spent.
    assert _paraphrase_case("温州乡下老房子怕震，去年弄结实花了多少钱？", 0.90).refused


@pytest.mark.parametrize("question, sentence, counted", [
    ("龙南去年新接通多少户天然气？", "老城区新增燃气用户1100户。", True),
    ("龙南去年给买房的人发了多少钱？", "累计发放临时购房补助和契税补贴776.22万元。", True),
    ("龙南建了多少处能直接喝的自来水工程？", "完成26个直饮水建设工程。", True),  # 个: the general classifier
    ("龙南办个公司要几天？", "时间压减到1个工作日。", True),
    ("龙南给一部电梯补贴多少钱？", "动工建设91个老旧小区改造工程。", False),
    ("龙南今年垃圾分类要覆盖多少个小区？", "实施农房抗震改造7000户以上。", False),
    ("龙南去年帮多少人找到了活干？", "完成老旧小区改造31个。", False),  # people are counted in 人
    ("龙南去年有几万人找到了活干？", "新增就业岗位3万个。", False),
    ("龙南今年实际利用外资要达到多少万美元？", "实际使用外资稳中有进,城镇居民收入增长6.5%左右。", False),
    ("龙南今年实际利用外资要达到多少万美元？", "实际使用外资1238万美元。", True),
    ("龙南去年给企业减了多少万元的税？", "减税降费2.6亿元。", True),
])
def test_a_figure_counts_in_the_unit_asked(question, sentence, counted):
    assert counts_in(sentence, analyze(question, CITIES, 2023).unit) is counted


@pytest.mark.parametrize("sentence, refused", [
    ("开展“助企远航”行动,新增出口实绩企业115家、总数达589家。", True),  # a count of exporters
    ("成功举办中国荔枝龙眼产业大会,荔枝在减产5.3%情况下实现出口增长13.3%。", True),
    ("全年出口总额1325.6亿元,增长13.3%。", False),
])
def test_money_asked_is_answered_by_an_amount_of_money_only(sentence, refused):
    assert _answer("温州去年出口总额有多少亿元？", [_passage(0, sentence)], {("d", 0): 0.9}).refused is refused


@pytest.mark.parametrize("question, refused", [("温州去年新增了多少个停车位？", True), ("温州今年要新增多少个停车位？", False)])
def test_a_figure_is_read_from_the_part_of_the_report_about_the_year_asked(question, refused):
    # Reports review last year first, then plan this one: the 2023 plans do not say what 2022 did.
    plans = replace(_passage(0, "加快建设智慧立体停车场,增加停车位1400个。"), section="二、2023年工作安排")
    assert _answer(question, [plans], {("d", 0): 0.9}).refused is refused


def test_a_figure_asked_in_the_reports_words_keeps_the_lexical_check():
    # Every topic word is one the reports use, so the missing 快递业务量 means the report does not say.
    assert _paraphrase_case("温州去年快递业务量有多少？", 0.90).refused


def test_a_compound_jieba_does_not_know_stays_one_topic_word():
    # jieba cuts 消费券 into 消费 + 券; 消费 alone would let a retail-sales figure answer.
    question = "温州去年一共发了多少钱的消费券？"
    assert "消费券" in analyze(question, CITIES, 2023).topic
    assert not _states(question, "社会消费品零售总额1044.7亿元、下降0.3%。")
    assert _states(question, "分三批向市民发放消费券800万元。")


@pytest.mark.parametrize("question, only", [
    ("龙南去年全市固定资产投资完成了多少亿元？", True),  # 全市: the whole city's figure, as the table holds
    ("温州去年全社会研发经费投入强度达到了多少？", True),
    ("龙南去年园区固定资产投资完成了多少亿元？", False),  # a park's: narrower than the city's
    ("温州去年工业固定资产投资增长多少？", False),
])
def test_whole_city_words_do_not_narrow_an_indicator_question(question, only):
    assert analyze(question, CITIES, 2023).only_the_indicator is only
