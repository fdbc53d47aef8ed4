"""Query understanding, follow-up rewriting and the evaluation's matching rule (pure logic)."""
from qa.conversation import rewrite_followup
from qa.evaluate import contains_key
from qa.query import analyze, expand_synonyms, find_cities, section_time

CITIES = ["彬州市", "咸阳市", "宁波市", "珠海市", "泸州市"]


def test_city_short_forms_and_unknown_places():
    assert find_cities("彬州去年GDP多少？", CITIES) == ["彬州市"]
    assert find_cities("咱们珠海今年的目标", CITIES) == ["珠海市"]
    assert find_cities("宁波和咸阳比谁多", CITIES) == ["宁波市", "咸阳市"]
    a = analyze("北京市去年GDP是多少", CITIES, 2023)
    assert a.cities == () and a.unknown_places == ("北京市",)
    assert analyze("全市生产总值", CITIES, 2023).unknown_places == ()
    assert analyze("在北京市投资了多少？", CITIES, 2023).unknown_places == ("北京市",)
    for question in ("今年全市GDP是多少？", "智慧城市建设有哪些举措？", "农贸市场改造了多少个？", "推进以县城为载体的城镇化"):
        assert analyze(question, CITIES, 2023).unknown_places == (), question


def test_relative_years_and_synonyms():
    a = analyze("彬州去年GDP多少？", CITIES, 2023)
    assert a.years == (2022,)
    assert a.time_focus == "past" and "2022年" in a.keyword_text
    assert a.scoped_text == "去年GDP多少？"  # the embedder gets the words as asked
    assert "生产总值" in a.keyword_text
    assert "一般公共预算收入" in expand_synonyms("财政收入是多少")
    # longest match wins: 「城镇新增就业」 is one term, not 「就业」 plus leftovers
    assert "新增就业" in expand_synonyms("城镇新增就业多少人")


def test_followups_carry_city_and_topic():
    history = [("彬州去年GDP总量有多大？", "……")]
    assert rewrite_followup("那咸阳呢？", history, CITIES) == "咸阳市去年GDP总量有多大？"
    assert rewrite_followup("那财政收入呢？", history, CITIES) == "彬州市去年财政收入？"
    assert rewrite_followup("增长了多少？", history, CITIES) == "彬州市去年GDP总量增长了多少？"
    assert rewrite_followup("今年的目标呢？", history, CITIES).startswith("彬州市GDP总量")
    # a question naming its own city starts fresh
    assert rewrite_followup("宁波去年新增就业多少？", history, CITIES) == "宁波去年新增就业多少？"
    assert rewrite_followup("彬州去年GDP？", [], CITIES) == "彬州去年GDP？"


def test_third_turn_keeps_the_topic_of_the_first():
    history = [("彬州去年GDP总量有多大？", "……"), ("那咸阳呢？", "……")]
    third = rewrite_followup("它今年的增长目标是多少？", history, CITIES)
    assert third.startswith("咸阳市") and "GDP" in third and "今年" in third
    # a bare verb + quantity asks about the previous topic, not about a new one
    assert "高标准农田" in rewrite_followup("去年建成了多少？", [("泸州今年要新建多少亩高标准农田？", "……")], CITIES)


def test_contains_key_respects_number_boundaries():
    assert contains_key("增速高于全国0.7个百分点", "0.7")
    assert not contains_key("增长30.7%", "0.7%")
    assert not contains_key("完成168亿元", "68亿元")
    assert contains_key("完成 68 亿元", "68亿元")
    assert contains_key("ＧＤＰ增长６．８％", "6.8%")
    assert not contains_key("收入1.938", "1.93")


def test_rerank_reorders_only_the_head():
    import numpy as np

    from qa.retrieval import Hit, rerank
    from qa.schema import Passage

    class KB:
        passages = [Passage(id=str(i), text=f"段落{i}", title="t", city=None, year=None, section="", source="s", start=0, end=3)
                    for i in range(30)]

    class FakeCrossEncoder:  # isolates the reordering logic; real models are configured by users
        def predict(self, pairs):
            return np.array([float(text[2:]) for _, text in pairs])  # higher row, higher score

    hits = [Hit(row=i, score=1 - i / 100, dense=0, keyword=0, dense_rank=i, keyword_rank=None) for i in range(30)]
    out = rerank(FakeCrossEncoder(), "问题", KB(), hits, head_size=20)
    assert [h.row for h in out[:20]] == list(range(19, -1, -1))
    assert [h.row for h in out[20:]] == list(range(20, 30))


def test_a_heading_that_only_names_a_year_is_dated_by_the_report():
    assert section_time("做好2023年工作 > (一)抓投资上项目", 2023) == "plan"
    assert section_time("回顾2022年工作", 2023) == "past"
    assert section_time("2022年主要工作", 2023) == "past"
    assert section_time("做好2023年工作") is None  # no report year: not dated
