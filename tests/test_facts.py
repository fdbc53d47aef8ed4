"""Report facts (issue 13): extraction from real report text and from small made-up reports,
storage, question matching and answers composed from facts. Fast: no model, no index.

Real-text tests use reports outside the fact gold sample (the gold's 8 reports are kept for
measuring, scripts/facts_eval.py)."""
import sqlite3
from pathlib import Path

import pytest

from qa.facts import (
    MULTI, Fact, FactQuery, Intent, answer_from_facts, build_query, convert, detect_intent,
    detect_period, extract_facts, load_registry, match_indicator, read_facts, render_value, select_facts, write_facts,
)
from qa.ingest import read_file
from qa.schema import Document

REPORTS = Path(__file__).resolve().parent.parent / "data" / "reports" / "2023_city_reports.txt"


@pytest.fixture(scope="module")
def docs() -> dict[str, Document]:
    return {d.city: d for d in read_file(REPORTS)}


@pytest.fixture(scope="module")
def all_facts(docs) -> list[Fact]:
    return [f for d in docs.values() for f in extract_facts(d)]


def report(body: str, city: str = "甲市", doc_id: str | None = None) -> Document:
    title = f"2023年{city}政府工作报告"
    return Document(doc_id=doc_id or title, title=title, text=body, source="made-up.txt", city=city, year=2023)


def headline(facts, indicator, period="2022", kind=None):
    return [f for f in facts if f.headline and f.indicator == indicator and f.period == period
            and (kind is None or f.kind == kind)]


def values(facts, indicator, period="2022", kind=None):
    return sorted(f.value for f in headline(facts, indicator, period, kind))


REVIEW = "一、2022年工作回顾\n"
PLAN = "二、2023年工作安排\n"


# ---------------------------------------------------------------- extraction, real text

def test_formulaic_review_sentence_gives_amount_and_growth_with_citable_spans(docs):
    doc = docs["渭南市"]
    facts = extract_facts(doc)
    gdp = headline(facts, "地区生产总值", "2022")
    assert {(f.kind, f.value, f.unit) for f in gdp} == {("amount", 2201.1, "亿元"), ("growth", 4.0, "%")}
    growth = next(f for f in gdp if f.kind == "growth")
    assert doc.text[growth.start:growth.end] == "增长4%"
    assert "全市生产总值完成2201.1亿元" in doc.text[growth.sentence_start:growth.sentence_end]


def test_same_clause_qualifier_and_value_after_a_comma_belong_to_the_indicator(docs):
    facts = extract_facts(docs["渭南市"])
    revenue = headline(facts, "一般公共预算收入", "2022", "growth")
    assert [(f.value, f.qualifiers) for f in revenue] == [(11.3, ("同口径",))]
    assert values(facts, "一般公共预算收入", "2022", "amount") == [93.19]


def test_urban_and_rural_income_pair_is_split_in_order(docs):
    binzhou = extract_facts(docs["彬州市"])
    assert values(binzhou, "城镇居民人均可支配收入", "2022", "growth") == [4.9]
    assert values(binzhou, "农村居民人均可支配收入", "2022", "growth") == [7.1]
    weinan = extract_facts(docs["渭南市"])
    assert values(weinan, "城镇居民人均可支配收入", "2022", "amount") == [39529.0]
    assert values(weinan, "农村居民人均可支配收入", "2022", "amount") == [16183.0]


def test_targets_section_gives_2023_period_and_trailing_qualifier_applies_to_the_list(docs):
    facts = extract_facts(docs["彬州市"])
    gdp = headline(facts, "地区生产总值", "2023", "growth")
    assert [(f.value, f.qualifiers) for f in gdp] == [(7.0, ("左右",))]
    # 「城镇和农村居民人均可支配收入分别增长7%和8%左右」: both are 左右
    urban = headline(facts, "城镇居民人均可支配收入", "2023", "growth")
    assert [(f.value, f.qualifiers) for f in urban] == [(7.0, ("左右",))]


def test_county_economy_gdp_is_not_the_city_gdp(docs):
    facts = extract_facts(docs["渭南市"])
    assert 1570.4 not in values(facts, "地区生产总值", "2022")
    county = [f for f in facts if f.value == 1570.4]
    assert county and not county[0].headline and "县域" in county[0].indicator


def test_share_of_a_total_belongs_to_the_part_not_to_the_denominator(docs):
    facts = extract_facts(docs["彬州市"])  # 「民生支出31亿元,占财政总支出84%」
    assert values(facts, "民生支出", "2022", "share") == [84.0]
    assert 84.0 not in values(facts, "一般公共预算支出", "2022")


def test_part_of_year_figure_is_not_the_years_figure(docs):
    facts = extract_facts(docs["泸州市"])  # 「前三季度,全市实现地区生产总值1887.2亿元」
    assert 1887.2 not in values(facts, "地区生产总值", "2022")
    # 「前三季度,…;社会消费品零售总额872.3亿元,…;城乡居民人均可支配收入37533元、15221元…。」: to the 。
    assert 872.3 not in values(facts, "社会消费品零售总额", "2022")
    assert 37533.0 not in values(facts, "城镇居民人均可支配收入", "2022")
    retail = next(f for f in facts if f.value == 872.3)
    assert render_value(retail) == "前三季度872.3亿元"


def test_a_change_of_a_level_is_shown_as_a_change():
    facts = extract_facts(report(REVIEW + "全年民生支出增加47亿元、增长13.7%。"))
    change = next(f for f in facts if f.value == 47.0)
    assert not change.headline and render_value(change) == "增加47亿元"


def test_bare_noun_takes_its_topic_and_unit_decides_the_indicator(docs):
    facts = extract_facts(docs["临沧市"])  # 「粮食播种面积434.54万亩,产量108.8万吨」
    assert values(facts, "粮食播种面积", "2022") == [434.54]
    assert values(facts, "粮食总产量", "2022") == [108.8]


def test_an_increase_is_not_a_level(docs):
    facts = extract_facts(docs["咸阳市"])  # 「全年民生支出增加47亿元」
    assert 47.0 not in values(facts, "民生支出", "2022", "amount")


def test_non_registry_statistics_are_kept_under_their_own_wording(docs):
    facts = extract_facts(docs["彬州市"])  # 「开展核酸筛查1076万人次」
    screening = [f for f in facts if f.value == 1076 and f.unit == "万人次"]
    assert screening and not screening[0].headline and "核酸筛查" in screening[0].indicator


def test_every_fact_span_shows_its_number_inside_its_sentence(docs, all_facts):
    texts = {d.doc_id: d.text for d in docs.values()}
    for f in all_facts:
        text = texts[f.doc_id]
        assert f.sentence_start <= f.start < f.end <= f.sentence_end, f
        number = f"{f.value:g}".replace("e+", "")
        shown = text[f.start:f.end].translate({0xFF10 + i: 0x30 + i for i in range(10)}).replace(",", "")
        assert number.split(".")[0] in shown or f.kind == "rank" or shown.startswith("万亿"), (f, shown)


# ---------------------------------------------------------------- extraction, edge cases

def test_district_and_sector_figures_are_not_headline():
    doc = report(REVIEW + "全市地区生产总值增长5%,其中高新区生产总值增长12%。\n"
                 + PLAN + "主要预期目标是:地区生产总值增长6%,工业投资增长15%,民间投资增长8%。")
    facts = extract_facts(doc)
    assert values(facts, "地区生产总值", "2022", "growth") == [5.0]
    assert values(facts, "固定资产投资", "2023") == []
    assert {f.indicator for f in facts if not f.headline} >= {"高新区生产总值", "工业投资", "民间投资"}


def test_park_scope_carries_over_a_semicolon_list():
    doc = report(REVIEW + "园区规上工业总产值完成350亿元；工业增加值完成69.5亿元；主营业务收入完成372亿元。\n"
                 "全市规上工业增加值增长7%。")
    facts = extract_facts(doc)
    assert values(facts, "规模以上工业增加值", "2022") == [7.0]
    assert values(facts, "规模以上工业总产值", "2022") == []


def test_striving_target_keeps_both_qualifiers_and_plan_period():
    doc = report(REVIEW + "全市生产总值增长4%。\n" + PLAN + "主要预期目标是：地区生产总值力争增长6.5%左右。")
    [target] = headline(extract_facts(doc), "地区生产总值", "2023")
    assert target.qualifiers == ("力争", "左右") and target.value == 6.5
    assert render_value(target) == "力争增长6.5%左右"


def test_past_five_years_and_annual_average_are_not_2022():
    doc = report(REVIEW + "全市生产总值增长5%。\n过去五年，全市生产总值年均增长6.1%。")
    facts = extract_facts(doc)
    assert values(facts, "地区生产总值", "2022") == [5.0]
    assert values(facts, "地区生产总值", MULTI) == [6.1]


def test_annual_average_alone_marks_a_multi_year_figure():
    doc = report(REVIEW + "全市生产总值增长5%。近三年全市生产总值年均增长6.1%。")
    facts = extract_facts(doc)
    assert values(facts, "地区生产总值", "2022") == [5.0]
    assert values(facts, "地区生产总值", MULTI) == [6.1]


def test_decline_is_a_positive_value_with_direction_down():
    doc = report(PLAN + "单位地区生产总值能耗降低2%。进出口总额降幅收窄至9.6%。")
    facts = extract_facts(doc)
    [energy] = headline(facts, "单位地区生产总值能耗", "2023")
    assert (energy.value, energy.direction, render_value(energy)) == (2.0, "down", "下降2%")
    [trade] = headline(facts, "进出口总额", "2023")
    assert trade.direction == "down"


def test_full_width_digits_and_letters_are_read_with_document_offsets():
    doc = report(REVIEW + "全市ＧＤＰ增长５．２％。")
    [f] = headline(extract_facts(doc), "地区生产总值", "2022")
    assert f.value == 5.2 and doc.text[f.start:f.end] == "增长５．２％"


def test_range_target_keeps_both_ends():
    doc = report(PLAN + "主要目标：地区生产总值增长6.5—7%。")
    [f] = headline(extract_facts(doc), "地区生产总值", "2023")
    assert (f.value, f.value_max) == (6.5, 7.0) and render_value(f) == "增长6.5—7%"


def test_threshold_before_a_noun_is_no_statistic():
    doc = report(PLAN + "规上工业增加值增长8%,500万元以上固定资产投资增长10%以上。")
    facts = extract_facts(doc)
    assert values(facts, "规模以上工业增加值", "2023") == [8.0]
    assert values(facts, "固定资产投资", "2023") == [10.0]
    assert not [f for f in facts if f.value == 500]


def test_count_before_its_noun_is_not_given_to_the_previous_indicator():
    doc = report(REVIEW + "全市PM2.5平均浓度30微克/立方米,13个断面水质达标。高新技术企业达到120家,30家企业获评省级专精特新。")
    facts = extract_facts(doc)
    assert [(f.value, f.unit) for f in headline(facts, "PM2.5平均浓度")] == [(30.0, "微克/立方米")]
    assert values(facts, "高新技术企业", "2022") == [120.0]


# ---------------------------------------------------------------- storage

def test_facts_round_trip_through_sqlite_in_plain_columns(tmp_path, docs):
    facts = extract_facts(docs["彬州市"]) + extract_facts(docs["渭南市"])
    conn = sqlite3.connect(tmp_path / "kb.sqlite")
    write_facts(conn, facts)
    conn.commit()
    assert read_facts(sqlite3.connect(tmp_path / "kb.sqlite")) == facts
    columns = [r[1] for r in conn.execute("PRAGMA table_info(facts)")]
    assert "qualifiers" in columns and "value" in columns  # plain columns


def test_read_facts_of_a_knowledge_base_without_facts_is_empty():
    assert read_facts(sqlite3.connect(":memory:")) == []


# ---------------------------------------------------------------- registry

def test_registry_holds_the_headline_indicators_with_exact_conversions():
    registry = load_registry()
    assert len(registry.indicators) >= 35
    for ind in registry.indicators:
        assert ind.wordings and ind.kinds and ind.units, ind.name
    assert convert(1.0, "亿斤", "万吨") == 5.0
    assert convert(2.0, "万人", "人") == 20000.0
    assert convert(1.0, "万亿元", "亿元") == 10000.0
    assert convert(1.0, "亿元", "亿美元") is None


# ---------------------------------------------------------------- questions

@pytest.mark.parametrize("question, name, kind", [
    ("铜川2022年经济增速是多少？", "地区生产总值", "growth"),
    ("彬州去年GDP总量有多大？", "地区生产总值", "amount"),
    ("高安的社零增长了多少", "社会消费品零售总额", "growth"),
    ("老百姓收入是多少", "居民人均可支配收入", "amount"),
    ("外贸进出口多少亿", "进出口总额", "amount"),
    ("失业率控制在多少", "城镇调查失业率", "share"),
    ("哪个城市粮食产量最高", "粮食总产量", "amount"),
    ("今年新增就业目标是多少人", "城镇新增就业", "count"),
    ("财政收入涨了多少", "一般公共预算收入", "growth"),
    ("外贸增长了百分之几", "进出口总额", "growth"),
    ("税收下降了百分之多少", "税收收入", "growth"),
])
def test_everyday_words_name_the_indicator_and_the_kind_asked(question, name, kind):
    match = match_indicator(question)
    assert (match.name, match.kind) == (name, kind)


def test_question_without_an_indicator_matches_nothing():
    assert match_indicator("图书馆建设有什么新进展？") is None


@pytest.mark.parametrize("question", ["彬州人均GDP是多少", "渭南县域生产总值多少", "全省GDP增速是多少", "工业投资增长多少"])
def test_a_part_or_a_larger_area_is_not_the_citys_headline_indicator(question):
    assert match_indicator(question) is None


@pytest.mark.parametrize("question, intent", [
    ("珠海和河源社会消费品零售总额分别是多少？", Intent("compare")),
    ("三个城市里哪个粮食产量最高？", Intent("rank", "desc")),
    ("谁的失业率最低", Intent("rank", "asc")),
    ("GDP增速排名前三的城市", Intent("rank", "desc", 3)),
    ("各市财政收入从低到高排一下", Intent("rank", "asc")),
    ("铜川GDP是多少", Intent("single")),
    ("铜川GDP增速和宁波比怎么样", Intent("compare")),
    ("各城市城镇化率排个序", Intent("rank", "desc")),
])
def test_intent_of_comparison_and_ranking_questions(question, intent):
    assert detect_intent(question) == intent


def test_period_asked_defaults_to_the_reviewed_year():
    assert detect_period("铜川GDP是多少") == "2022"
    assert detect_period("今年GDP目标增速") == "2023"
    assert detect_period("过去五年年均增长多少") == MULTI
    assert detect_period("2021年GDP是多少") == "2021"


# ---------------------------------------------------------------- answers

def test_single_figure_in_everyday_words_is_answered_and_cited(docs, all_facts):
    query = build_query("彬州2022年经济增速是多少？", ("彬州市",))
    answer = answer_from_facts(query, all_facts)
    assert answer.text == "彬州市2022年地区生产总值增长6.8%[1]。" and not answer.refused
    f = answer.facts[0]
    assert "增长6.8%" in docs["彬州市"].text[f.sentence_start:f.sentence_end]


def test_absent_figure_is_refused_naming_what_the_report_states_nearby():
    doc = report(REVIEW + "全年粮食种植面积21.84万亩。全市生产总值增长4%。", city="乙市")
    facts = extract_facts(doc)
    answer = answer_from_facts(FactQuery("粮食总产量", "amount", ("乙市",), "2022"), facts)
    assert answer.refused
    assert answer.text == "报告没有给出乙市2022年粮食总产量；报告给出了粮食种植面积21.84万亩[1]。"
    assert answer.facts[0].indicator == "粮食播种面积"


def test_city_without_a_report_is_refused():
    answer = answer_from_facts(FactQuery("地区生产总值", "amount", ("丙市",)), extract_facts(report(REVIEW + "全市生产总值100亿元。")))
    assert answer.refused and "没有丙市的报告" in answer.text


def test_several_cities_each_get_a_value_or_not_given(all_facts):
    query = FactQuery("社会消费品零售总额", "amount", ("临沧市", "高安市", "珠海市"), "2022", Intent("compare"))
    answer = answer_from_facts(query, all_facts)
    assert "临沧市384.13亿元[1]" in answer.text and "高安市报告未给出" in answer.text
    assert "珠海市1044.7亿元[2]" in answer.text
    assert [r.city for r in answer.rows] == ["临沧市", "高安市", "珠海市"]
    assert answer.rows[1].value is None and answer.rows[1].marker is None
    unknown = answer_from_facts(FactQuery("社会消费品零售总额", "amount", ("临沧市", "丁市"), "2022", Intent("compare")), all_facts)
    assert "丁市知识库中没有该市的报告" in unknown.text


def test_ranking_states_the_conclusion_first_then_every_value_in_order(all_facts):
    query = FactQuery("地区生产总值", "amount", ("梅州市", "汕尾市", "温州市"), "2022", Intent("rank"))
    answer = answer_from_facts(query, all_facts)
    assert answer.text.startswith("三市中温州市最高：8029.8亿元[1]。")
    order = [answer.text.index(c + " ") for c in ("温州市", "汕尾市", "梅州市")]
    assert order == sorted(order)
    assert [r.city for r in answer.rows] == ["温州市", "汕尾市", "梅州市"]


def three_cities(*sentences: str) -> list[Fact]:
    """The facts of 甲市, 乙市 and 丙市's reviews, one sentence each."""
    return [f for city, sentence in zip(("甲市", "乙市", "丙市"), sentences) for f in extract_facts(report(REVIEW + sentence, city))]


def test_ranking_converts_units_exactly_and_lowest_first_when_asked():
    facts = three_cities("粮食总产108.6亿斤。", "粮食总产量212.54万吨。", "粮食总产量7.6万吨。")
    query = FactQuery("粮食总产量", "amount", ("甲市", "乙市", "丙市"), "2022", Intent("rank"))
    answer = answer_from_facts(query, facts)
    assert answer.text.startswith("三市中甲市最高：108.6亿斤（合543万吨）[1]。")
    low = answer_from_facts(FactQuery("粮食总产量", "amount", ("甲市", "乙市", "丙市"), "2022", Intent("rank", "asc")), facts)
    assert low.text.startswith("三市中丙市最低：7.6万吨")


def test_values_without_an_exact_conversion_are_not_compared_silently():
    facts = three_cities("实际使用外资3亿美元。", "实际使用外资11.6亿元。", "实际使用外资2亿美元。")
    query = FactQuery("实际使用外资", "amount", ("甲市", "乙市", "丙市"), "2022", Intent("rank"))
    answer = answer_from_facts(query, facts)
    assert "乙市为11.6亿元" in answer.text and "没有确定的换算" in answer.text
    assert answer.text.startswith("三市中甲市最高：3亿美元")


def test_whole_knowledge_base_ranking_lists_the_top_and_counts_reports_without_it(all_facts):
    query = build_query("哪个城市2022年GDP增速最高？", ())
    answer = answer_from_facts(query, all_facts)
    assert answer.text.startswith("知识库的报告中")
    stating = {f.doc_id for f in all_facts if f.headline and f.indicator == "地区生产总值"
               and f.period == "2022" and f.kind == "growth"}
    assert f"另有{24 - len(stating)}份报告没有给出" in answer.text
    assert len(answer.rows) == 5
    tops = [r.value for r in answer.rows]
    assert tops == sorted(tops, reverse=True) and tops[0] == max(
        f.value for f in all_facts if f.doc_id in stating and f.indicator == "地区生产总值" and f.kind == "growth" and f.period == "2022")


def test_two_reports_disagreeing_are_shown_side_by_side_as_a_conflict():
    original = report(REVIEW + "全市生产总值增长4.3%。", "甲市")
    planted = report(REVIEW + "全市生产总值增长5.3%。", "甲市", doc_id="2023年甲市政府工作报告#2")
    copy = report(REVIEW + "全市生产总值增长4.3%。", "甲市", doc_id="2023年甲市政府工作报告#3")
    facts = extract_facts(original) + extract_facts(planted) + extract_facts(copy)
    answer = answer_from_facts(FactQuery("地区生产总值", "growth", ("甲市",)), facts)
    assert "增长4.3%[1]" in answer.text and "增长5.3%[2]" in answer.text and "不一致" in answer.text
    assert len(answer.conflicts) == 1 and len(answer.conflicts[0]) == 2  # an identical copy is no conflict
    ranked = answer_from_facts(FactQuery("地区生产总值", "growth", ("甲市", "乙市"), intent=Intent("rank")), facts)
    assert ranked.conflicts and "未参与比较" in ranked.text


def test_question_without_indicator_leaves_the_passage_answer():
    assert answer_from_facts(FactQuery(None, "amount", ("甲市",)), []) is None
    assert build_query("图书馆建设有什么新进展？", ("甲市",)) is None


def test_selecting_facts_by_an_everyday_indicator_name_and_short_city(all_facts):
    rows = select_facts(all_facts, indicator="生产总值增速", city="彬州", period="2022")
    assert [(f.city, f.kind, f.value) for f in rows] == [("彬州市", "growth", 6.8)]
    with pytest.raises(ValueError, match="不认识的指标"):
        select_facts(all_facts, indicator="图书馆")


def test_a_total_answers_before_a_new_count_and_new_counts_do_not_rank_against_totals():
    facts = (extract_facts(report(REVIEW + "新增市场主体3.6万户、总量达到30.2万户。", "甲市"))
             + extract_facts(report(REVIEW + "市场主体总量达到21.91万户。", "乙市"))
             + extract_facts(report(REVIEW + "新登记市场主体16.51万户。", "丙市")))
    single = answer_from_facts(FactQuery("市场主体", "count", ("甲市",)), facts)
    assert single.text == "甲市2022年市场主体为30.2万户[1]。"
    ranked = answer_from_facts(FactQuery("市场主体", "count", ("甲市", "乙市", "丙市"), intent=Intent("rank")), facts)
    assert ranked.text.startswith("三市中甲市最高：30.2万户[1]")
    assert "丙市只给出了新登记市场主体16.51万户" in ranked.text and "不是总量" in ranked.text


def test_ten_thousand_hundred_millions_written_without_a_digit_is_one():
    doc = report(REVIEW + "金融机构存贷款余额均突破万亿元。")
    facts = extract_facts(doc)
    for name in ("金融机构本外币存款余额", "金融机构本外币贷款余额"):
        [f] = headline(facts, name)
        assert (f.value, f.unit, f.qualifiers) == (1.0, "万亿元", ("超过",))


def test_a_value_in_a_unit_the_indicator_is_never_stated_in_is_not_headline():
    doc = report(REVIEW + "城镇新增就业4388人。全市常住人口城镇化率58%,常住人口增加到12.3万户。")
    facts = extract_facts(doc)
    assert values(facts, "城镇新增就业") == [4388.0]
    assert values(facts, "常住人口") == []
    assert [f for f in facts if f.value == 12.3 and not f.headline]


def test_a_rank_the_report_states_answers_a_rank_question(all_facts):
    query = build_query("临沧2022年固定资产投资在全省排第几？", ("临沧市",))
    assert query.kind == "rank"
    answer = answer_from_facts(query, all_facts)
    assert answer.text == "临沧市2022年固定资产投资排名第3位[1]。"


def test_a_question_about_new_counts_ranks_new_counts():
    facts = (extract_facts(report(REVIEW + "新增市场主体3.6万户、总量达到30.2万户。", "甲市"))
             + extract_facts(report(REVIEW + "新登记市场主体16.51万户。", "丙市")))
    query = build_query("甲市和丙市2022年哪个新增市场主体最多", ("甲市", "丙市"))
    assert query.new
    answer = answer_from_facts(query, facts)
    assert answer.text.startswith("两市中丙市最高：新登记市场主体16.51万户[1]")


def test_a_sentence_cut_between_two_passages_keeps_its_subject():
    filler = "，".join(f"新建示范点{i}个" for i in range(10, 40))
    sentence = filler + "，城乡居民人均可支配收入达到39529元和16183元，分别增长4.7%和6.6%。"
    doc = report(REVIEW + sentence)
    from qa.chunking import chunk_document
    cut = [p.end for p in chunk_document(doc)][:-1]
    growth_at = doc.text.index("分别增长")
    assert any(doc.text.index("城乡居民") < c <= growth_at for c in cut)  # the chunker does cut there
    facts = extract_facts(doc)
    assert values(facts, "城镇居民人均可支配收入", "2022", "growth") == [4.7]
    assert values(facts, "农村居民人均可支配收入", "2022", "growth") == [6.6]
