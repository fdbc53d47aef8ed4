"""Question analysis without an LLM, done once per question into one `Question` record: which
reports it is about, the years and the time asked about, its topic words, what kind of answer it
asks for (a figure, a rate, a measure), and the domain's common paraphrases (synonyms.txt).
Retrieval and answering read the record; nothing after this re-parses the question."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .errors import QuestionError
from .facts import MULTI, Intent, detect_intent, detect_period, match_indicator
from .keywords import STOPWORDS, join_noun_suffixes, tokenize_zh
from .text import normalize_zh

SYNONYMS_FILE = Path(__file__).with_name("synonyms.txt")
PLACES_FILE = Path(__file__).with_name("places.txt")  # from cpca's division table: scripts/make_places.py
_CITY_SUFFIXES = ("市", "县", "区", "州", "盟", "旗")
# Words that look like a place name before 市 but are not one (「全市」「本市」「城市」…).
# 「北京市去年GDP…」「在北京市…」: a place the user names, at the start or after 在/和/与/跟/比.
# 「今年全市」「智慧城市」「农贸市场」「以县城为载体」 are not places.
_PLACE_RE = re.compile(r"(?:^[在和与跟比及]?|(?<=[在和与跟比及、，,]))([\u4e00-\u9fff]{2,3}?)(?:市|县)(?![场民级域委长政区容值城])")
_NOT_PLACES = {"全", "本", "我", "城", "超", "上", "都", "门", "股", "夜", "集", "该", "各", "县级", "地级", "副"}
_RELATIVE_YEARS = {"前年": -2, "去年": -1, "上年": -1, "今年": 0, "本年": 0, "明年": 1}
TIME_WORDS_RE = re.compile(r"(?:19|20)\d{2}年|" + "|".join(_RELATIVE_YEARS))


@lru_cache(maxsize=1)
def synonym_groups() -> list[list[str]]:
    groups = []
    for line in SYNONYMS_FILE.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            groups.append([normalize_zh(t) for t in line.split()])
    return groups


def expand_synonyms(text: str) -> list[str]:
    """Terms to add to the keyword query: for each table term found in the text (longest match
    first, no overlaps), the other terms of its group."""
    norm = normalize_zh(text)
    terms = sorted(((t, i) for i, g in enumerate(synonym_groups()) for t in g), key=lambda x: -len(x[0]))
    taken = [False] * len(norm)
    extra: list[str] = []
    for term, gi in terms:
        start = norm.find(term)
        while start >= 0:
            if not any(taken[start : start + len(term)]):
                taken[start : start + len(term)] = [True] * len(term)
                extra.extend(t for t in synonym_groups()[gi] if t != term and t not in extra)
                break
            start = norm.find(term, start + 1)
    return extra


def strip_cities(text: str, cities: list[str]) -> str:
    """The text without any form of the given cities' names."""
    for city in cities:
        for alias in sorted(city_aliases(city), key=len, reverse=True):
            text = text.replace(alias, "")
    return text.strip()


def city_aliases(city: str) -> list[str]:
    """「彬州市」 -> ["彬州市", "彬州"]: the forms people use for a city."""
    aliases = [city]
    if city.endswith(_CITY_SUFFIXES) and len(city) >= 3:
        aliases.append(city[:-1])
    return aliases


def resolve_cities(names: list[str], cities: list[str]) -> list[str]:
    """Explicit filters as the user wrote them (「彬州」「彬州市」) -> knowledge-base cities."""
    found = find_cities(" ".join(names), cities)
    if not found:
        raise QuestionError(f"知识库中没有这些城市的报告：{'、'.join(names)}（已有：{'、'.join(cities) or '无'}）")
    return found


def find_cities(question: str, cities: list[str]) -> list[str]:
    """KB cities named in the question, longest alias first, in order of appearance."""
    found: list[tuple[int, str]] = []
    taken = [False] * len(question)
    pairs = sorted(((a, c) for c in cities for a in city_aliases(c)), key=lambda x: -len(x[0]))
    for alias, city in pairs:
        start = question.find(alias)
        while start >= 0:
            if not any(taken[start : start + len(alias)]):
                taken[start : start + len(alias)] = [True] * len(alias)
                if city not in (c for _, c in found):
                    found.append((start, city))
            start = question.find(alias, start + len(alias))
    return [c for _, c in sorted(found)]


_PAST_SECTION_RE = re.compile(r"回顾|过去|一年来|去年|(?:19|20)\d{2}年(?:工作)?(?:回顾|总结)")
_PLAN_SECTION_RE = re.compile(r"安排|目标|任务|重点工作|思路|今年|计划")


def section_time(section: str, year: int | None = None) -> str | None:
    """Whether a section reviews the past year ("past") or sets this year's plans ("plan"); a
    heading that only names a year (「做好2023年工作」) is dated by the report's `year`."""
    if _PAST_SECTION_RE.search(section):
        return "past"
    if _PLAN_SECTION_RE.search(section):
        return "plan"
    if year and f"{year}年" in section:
        return "plan"
    if year and f"{year - 1}年" in section:
        return "past"
    return None


# Question words. The base list asks without naming a topic; each use below extends it.
QUESTION_WORDS = r"多少|多大|多高|什么|哪些|哪个|哪|怎样|怎么样?|如何|为什么"
# Question words and filler that say nothing about the topic.
_QUESTION_FILLER = re.compile(QUESTION_WORDS + r"|几|是否|有没有|具体|大概|分别|呢|吗|请问|情况")
_ASKS_QUANTITY_RE = re.compile(r"多少|多大|多高|多长|(?<!哪)几[个家项所处条万亿位]?|第几|排名")
# A figure in the wider sense (a rate, a level): sentences with a number are preferred.
_ASKS_NUMBER_RE = re.compile(r"多少|几[个家项所处条万亿年次位]?|多大|多高|多长|多快|排第|第几|比例|比重|占比|增长|增速|下降|提高|率|达到|规模|总量|产值|收入")
_ASKS_RATE_RE = re.compile(r"率|比例|比重|占比|强度|增长|增速|涨|下降|提高|百分点|差距|比")
# The unit a figure is counted in (多少户, 几家, 多少钱 = 元): a figure in another unit does not answer.
_UNIT_RE = re.compile(r"(?:多少|几)(亿美元|万美元|美元|亿元|万元|元|钱|万人次|人次|万人|人|个百分点|天|家|个|公里|万吨|吨|万亩|亩|平方米|套|所|户|倍"
                      r"|座|条|项|张|名|栋|间|处|辆|台|件|场|次)")
PLAN_WORDS_RE = re.compile(r"力争|预期目标|确保|计划|争取|目标")
# A "how" question asks for a measure: 「怎么/怎样/如何」 before a verb, 「什么/哪些办法、措施……」,
# 「措施有哪些」, 「靠什么」. Not: 「怎么样」「情况怎样？」「增速如何呢」「是怎样的」 (an outcome or a
# figure), 「如何评价」「怎么看」 (an opinion), 「什么招商项目」.
_METHOD_NOUNS = r"(?:办法|措施|举措|做法|方法|方式|途径|手段|新招|高招|妙招|招数|招(?![商聘生标牌工募才引]))"
_ASKS_METHOD_RE = re.compile(
    r"(?:怎么|怎样|如何)(?![样的了呢啊吧呀嘛么]|评价|看|回事)(?=[\u4e00-\u9fff])"
    rf"|(?:什么|哪些|哪种){_METHOD_NOUNS}|{_METHOD_NOUNS}(?:是|有)(?:什么|哪些)|靠什么")
# Words that name the kind of value asked: a change, a share, or a level.
_KIND_NAMED_RE = re.compile(r"增速|增长|增幅|涨|下降|提高|率|比重|占比|比例|强度|总量|总额|规模|多少亿|多少万|多少元|多少钱|多大|排第|第几")
# Words that say which value of an indicator is asked, not what is measured.
_KIND_WORDS = r"增速|增幅|涨幅|速度|幅度|总量|总额|规模|数量|总数|同比|比重|占比|比例|水平|百分之|gdp|经济|多少钱|钱|数字|数据|情况|预期|指标"
# Verbs and measure words that frame a figure question without naming what is measured.
FRAME_WORDS = frozenset("完成 达到 实现 全年 具体 平均 做到 想做到 打算 计划 准备 提出 新建 引进 安排 "
                        "其中 以上 规模 现在 当年 累计 目标 要求 提高 增长 下降 比上年 涨 分别 一共 总共 共 "
                        "提到 提高到 增加到 增长到 增至 突破 超过 "
                        "亿元 万元 人次 万人次 万人 公里 千米 万吨 万亩 平方米 万平方米".split())
# Topic words that only say which value of an indicator is asked (增长目标 = 增长 + 目标).
_VALUE_WORDS_RE = re.compile(rf"(?:{_KIND_WORDS}|{'|'.join(sorted(FRAME_WORDS, key=len, reverse=True))})+")




def asks_method(question: str) -> bool:
    return bool(_ASKS_METHOD_RE.search(question))


def asks_quantity(question: str) -> bool:
    """A figure is asked for, and not as part of a "how" question (「怎么帮企业减负？一年减了多少？」
    is answered by the measure, with its figure)."""
    return bool(_ASKS_QUANTITY_RE.search(question)) and not asks_method(question)


def synonyms_of(term: str) -> list[str]:
    """The synonym group of a term (the term alone when it has none)."""
    for group in synonym_groups():
        if term in group:
            return group
    return [term]


def topic_terms(question: str, cities: list[str] | tuple[str, ...]) -> list[str]:
    """The question's content words: no city names, years, question words or stopwords."""
    text = strip_cities(question, list(cities))
    text = TIME_WORDS_RE.sub(" ", text)
    text = _QUESTION_FILLER.sub(" ", text)
    terms = []
    for tok in tokenize_zh(text):
        if tok in STOPWORDS or len(tok) < 2 and not tok.isascii():
            continue
        if tok not in terms:
            terms.append(tok)
    terms = join_noun_suffixes(text, terms)
    # jieba's search mode yields words and their parts; keep the longest forms.
    return [t for t in terms if not any(t != u and t in u for u in terms)]


@dataclass(frozen=True)
class Question:
    """Everything later steps need to know about one (standalone) question."""

    text: str
    cities: tuple[str, ...]  # knowledge-base cities the question names, in order
    city_filter: tuple[str, ...]  # reports the caller restricted the search to
    unknown_places: tuple[str, ...]  # 「XX市」 named but not in the knowledge base
    years: tuple[int, ...]  # years the question refers to
    time_focus: str | None  # "past" (the year under review) or "plan" (the report's year)
    keyword_text: str  # question + resolved years + synonyms, for BM25
    # The question without the city names, for a dense search inside their reports. Relative years
    # stay as asked: written as 「2023年」 they pulled the query towards the reports' generic year
    # sentences (「2023年是……开局之年」); the section priors use the year instead.
    scoped_text: str
    topic: tuple[str, ...]  # content words (see topic_terms)
    unfamiliar: tuple[str, ...]  # topic words that no report uses, nor any synonym of them
    # (word, the topic word written right before it): 原煤产量 -> ("产量", "原煤"). The figure of a
    # 产量 is 原煤's only when 原煤 names it (「蔬菜产量4.8万吨」 is not).
    modifiers: tuple[tuple[str, str], ...]
    asks_quantity: bool  # a figure (多少, 几个), not inside a "how" question
    asks_number: bool  # a figure in the wider sense (增长, 比例, 规模 …)
    asks_rate: bool  # a rate or change (增长多少 accepts a percentage)
    asks_method: bool  # a measure (怎么, 什么办法)
    asks_target: bool  # names a plan (力争, 目标): a target may answer it
    unit: str | None  # the unit asked for (多少亿元)
    indicator: str | None = None  # a headline statistic named (qa/indicators.toml: 经济增速 -> 地区生产总值)
    # Asks about the indicator and nothing else: every topic word outside its name says which value
    # is asked. 「重点项目计划完成多少投资」 names 投资 but asks about key projects.
    only_the_indicator: bool = False
    kind_named: bool = False  # the question says which value (增速, 总量, 比重); else the report's first kind will do
    value_kind: str = "amount"  # what of it is asked: amount | growth | share | count | rank
    period: str = ""  # "2022" the reviewed year's actual, "2023" the plan, "五年" a multi-year figure
    intent: Intent = Intent()  # one figure, several cities' (分别/对比), or a ranking (哪个最高/排前三)

    @property
    def scope(self) -> tuple[str, ...]:
        """The reports to search: the caller's filter, else the cities named."""
        return self.city_filter or self.cities


@lru_cache(maxsize=1)
def _place_names_re() -> re.Pattern:
    """Every name of qa/places.txt (full names, and the short forms of provinces and prefecture-
    level cities: 「拉萨市」「拉萨」), longest first."""
    names = set()
    for line in PLACES_FILE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            names.update(n for n in line.split("\t") if len(n) >= 2)
    return re.compile("|".join(sorted(map(re.escape, names), key=len, reverse=True)))


def _unknown_places(text: str, cities: list[str]) -> list[str]:
    """Places the question names that are not reports of the knowledge base: 「XX市」「XX县」 by
    pattern, and any Chinese province, city, county or district by name (「拉萨」 without 市)."""
    known = {a for c in cities for a in city_aliases(c)}
    found = [
        m.group(0).lstrip("在和与跟比及") for m in _PLACE_RE.finditer(text)
        if m.group(1) not in _NOT_PLACES and m.group(1)[-1] not in _NOT_PLACES and m.group(0) not in known
        and m.group(1) not in known and not any(a in m.group(0) for a in known)
    ]
    for m in _place_names_re().finditer(text):
        name = m.group(0)
        if name not in known and not any(a in name or name in a for a in known) and not any(name in f or f in name for f in found):
            found.append(name)
    return found


def _years(text: str, base_year: int | None) -> tuple[list[int], list[str], str | None]:
    """(years named or implied, 「YYYY年」 words to add to the keyword query, time focus)."""
    years = [int(y) for y in re.findall(r"((?:19|20)\d{2})年", text)]
    extra = []
    if base_year:
        for word, delta in _RELATIVE_YEARS.items():
            if word in text:
                years.append(base_year + delta)
                extra.append(f"{base_year + delta}年")
    focus = None
    if base_year and years:
        past, plan = any(y < base_year for y in years), any(y >= base_year for y in years)
        focus = "past" if past and not plan else "plan" if plan and not past else None
    return sorted(set(years)), extra, focus


def analyze(text: str, cities: list[str], default_year: int | None, reports_use=None,
            city_filter: list[str] | None = None) -> Question:
    """The record of one standalone question. `cities` and `default_year` describe the knowledge
    base; `reports_use(word)` tells whether a report uses a word (None: not asked, no unfamiliar
    words); `city_filter` names reports to restrict to (「彬州」「彬州市」), checked here."""
    named = find_cities(text, cities)
    unknown = [] if named else _unknown_places(text, cities)
    years, extra_years, focus = _years(text, default_year)
    topic = topic_terms(text, named)
    unfamiliar = []
    if reports_use is not None and not unknown:
        unfamiliar = [t for t in topic if t not in FRAME_WORDS and not any(reports_use(f) for f in synonyms_of(t))]
    method = asks_method(text)
    unit = _UNIT_RE.search(text)
    indicator = match_indicator(text)
    name, rest = _side_of(text, indicator) if indicator else (None, text)
    return Question(
        text=text,
        cities=tuple(named),
        city_filter=tuple(resolve_cities(city_filter, cities)) if city_filter else (),
        unknown_places=tuple(unknown),
        years=tuple(years),
        time_focus=focus,
        keyword_text=" ".join([text, *extra_years, *expand_synonyms(text)]),
        scoped_text=strip_cities(text, named) or text,
        topic=tuple(topic),
        unfamiliar=tuple(unfamiliar),
        modifiers=_modifiers(text, topic),
        asks_quantity=bool(_ASKS_QUANTITY_RE.search(text)) and not method,
        asks_number=bool(_ASKS_QUANTITY_RE.search(text) or _ASKS_NUMBER_RE.search(text) and not method),
        asks_rate=bool(_ASKS_RATE_RE.search(text)),
        asks_method=method,
        asks_target=bool(PLAN_WORDS_RE.search(text)),
        unit=("元" if unit.group(1) == "钱" else unit.group(1)) if unit else None,
        indicator=name,
        only_the_indicator=indicator is not None and _asks_only(rest, indicator.start, indicator.end, named, topic),
        value_kind=indicator.kind if indicator else "amount",
        kind_named=bool(_KIND_NAMED_RE.search(text)),
        period=_period(text, focus, default_year),
        intent=detect_intent(text),
    )


def _modifiers(text: str, topic: list[str]) -> tuple[tuple[str, str], ...]:
    """(word, modifier) for each two topic words the question writes together, modifier first."""
    norm = normalize_zh(text)
    words = [t for t in topic if t not in FRAME_WORDS]
    return tuple((b, a) for a, b in zip(words, words[1:]) if a + b in norm)


# Income is reported for the town and the country side separately: 「农民的人均可支配收入」 asks for one.
_SIDES = (("农村居民人均可支配收入", re.compile(r"农村居民|农村人?|农民")),
          ("城镇居民人均可支配收入", re.compile(r"城镇居民|城镇|城里人?|城市居民")))


def _side_of(text: str, match) -> tuple[str, str]:
    """(the indicator, the text with the words naming it blanked): 「农民……人均可支配收入」 is the
    rural income, not all residents'; a question naming both sides keeps the general one."""
    if match.name != "居民人均可支配收入":
        return match.name, text
    sides = [(name, m) for name, pattern in _SIDES if (m := pattern.search(text))]
    if len(sides) != 1:
        return match.name, text
    name, m = sides[0]
    return name, text[: m.start()] + " " * (m.end() - m.start()) + text[m.end() :]


# Words that say the figure is the whole city's, which is what the facts table holds
# (「全市固定资产投资」「全社会研发经费投入强度」): they do not narrow the question.
_WHOLE_CITY_RE = re.compile(r"全市|全社会")


def _asks_only(text: str, start: int, end: int, cities: list[str], topic: list[str]) -> bool:
    """Every topic word outside the indicator's name says which value is asked, and no topic word
    is a compound of that name (「消费券」 is not 消费)."""
    named = text[start:end].lower()
    rest = topic_terms(_WHOLE_CITY_RE.sub(" ", text[:start] + " " + text[end:]), cities)
    return all(_VALUE_WORDS_RE.fullmatch(t) for t in rest) and not any(named in t and t != named for t in topic)


def _period(text: str, focus: str | None, base_year: int | None) -> str:
    """The period a figure is asked for: the years named or implied win; else the wording decides."""
    year = base_year or 2023
    period = detect_period(text, year)
    if period == MULTI or focus is None:
        return period
    return str(year - 1) if focus == "past" else str(year)


# Lone surrogates (not text: they cannot even be encoded) and control characters (NUL …).
_UNPRINTABLE_RE = re.compile(r"[\ud800-\udfff\x00-\x08\x0b-\x1f\x7f]")
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def check_k(k, largest: int) -> int:
    """The number of passages asked for, or QuestionError when it is not a whole number in range."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= largest:
        raise QuestionError(f"k（检索段落数）应是 1 到 {largest} 之间的整数，不是 {k!r}。", code="invalid_k")
    return k


def check_question(question, max_chars: int) -> str:
    """The question stripped (without control characters or lone surrogates), or QuestionError
    when it cannot be searched: empty, too long, or without a Chinese word to look for (emoji,
    punctuation, SQL or code: the reports are Chinese, and such text only matched at random)."""
    if not isinstance(question, str) or not question.strip():
        raise QuestionError("问题为空：请输入一个问题。", code="empty_question")
    question = _UNPRINTABLE_RE.sub("", question).strip()
    if len(question) > max_chars:
        raise QuestionError(f"问题太长（{len(question)} 字）：请控制在 {max_chars} 字以内。", code="question_too_long")
    if not question:
        raise QuestionError("问题为空：请输入一个问题。", code="empty_question")
    if not _CJK_RE.search(question):
        raise QuestionError("问题里没有可以查找的中文内容：请用中文提问，例如「彬州去年GDP总量有多大？」。", code="no_content")
    return question


def readings(sentence: str) -> list[str]:
    """The sentence as topic terms are matched against it. 「城乡居民人均消费支出分别为31200元、
    17400元」 gives the 城镇 and the 农村 figure at once, so it is also read as each of them."""
    norm = normalize_zh(sentence)
    if "城乡" in norm and "分别" in norm:
        return [norm, norm.replace("城乡", "城镇"), norm.replace("城乡", "农村")]
    return [norm]


def coverage(sentence: str, terms: tuple[str, ...] | list[str]) -> float:
    """Share of the topic (weighted by term length) found in the sentence, synonyms counted."""
    if not terms:
        return 0.0
    return max(coverage_of_reading(norm, terms) for norm in readings(sentence))


def coverage_of_reading(norm: str, terms) -> float:
    total = found = 0.0
    for term in terms:
        weight = min(len(term), 4)
        total += weight
        if any(s in norm for s in synonyms_of(term)):
            found += weight
        elif len(term) >= 3 and sum(ch in norm for ch in term) / len(term) >= 0.5:
            found += 0.5 * weight  # half the characters or more: a near paraphrase (超载/超限超载, 工业园区/园区)
    return found / total
