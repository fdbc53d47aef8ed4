"""Report facts (issue 13): statistics out of documents, and answers out of statistics.

`extract_facts` turns every 「名词+数字+单位」 of a report into a `Fact` (indicator, period, value,
unit, kind, qualifiers, document offsets); the headline indicators and their wordings come from
indicators.toml. `write_facts`/`read_facts` keep them in the knowledge base's SQLite.
`match_indicator`/`detect_intent` read a question; `answer_from_facts` composes a cited answer
(one figure, several cities, a ranking, or a refusal that names what the report does state).
"""
from __future__ import annotations

import re
import sqlite3
import sys
from bisect import bisect_right
import tomllib
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from .chunking import chunk_document
from .text import split_sentences
from .schema import Document, Passage

REGISTRY_FILE = Path(__file__).with_name("indicators.toml")
FACTS_VERSION = "facts-v2"
KINDS = ("amount", "growth", "share", "count", "rank")
MULTI = "五年"  # the period of a multi-year figure (过去五年, 年均, 累计)


# ---------------------------------------------------------------- registry

@dataclass(frozen=True)
class Indicator:
    name: str
    wordings: tuple[str, ...]
    everyday: tuple[str, ...]
    everyday_kinds: tuple[tuple[str, str], ...]
    kinds: tuple[str, ...]
    units: tuple[str, ...]
    related: tuple[str, ...]


@dataclass(frozen=True)
class Registry:
    indicators: tuple[Indicator, ...]
    report_words: tuple[tuple[str, tuple[str, ...]], ...]  # wording -> names (two for a pair)
    conversions: tuple[tuple[str, str, float], ...]  # (from, to, factor): 1 from = factor to

    def get(self, name: str) -> Indicator | None:
        return _by_name(self).get(name)


@lru_cache(maxsize=None)
def _by_name(registry: Registry) -> dict[str, Indicator]:
    return {ind.name: ind for ind in registry.indicators}


@lru_cache(maxsize=4)
def load_registry(path: Path = REGISTRY_FILE) -> Registry:
    """The indicator registry (indicators.toml); a malformed file fails here, with its name."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    indicators = tuple(
        Indicator(
            name=row["name"],
            wordings=tuple(row["wordings"]),
            everyday=tuple(row.get("everyday", ())),
            everyday_kinds=tuple(row.get("everyday_kinds", {}).items()),
            kinds=tuple(row["kinds"]),
            units=tuple(row.get("units", ())),
            related=tuple(row.get("related", ())),
        )
        for row in data["indicator"]
    )
    names = {ind.name for ind in indicators}
    words: dict[str, tuple[str, ...]] = {}
    for ind in indicators:
        for w in ind.wordings:
            words.setdefault(_fold(w), (ind.name,))
    for pair in data.get("pair", []):
        unknown = set(pair["names"]) - names
        if unknown:
            raise ValueError(f"{path.name}: pair names unknown indicators {sorted(unknown)}")
        for w in pair["wordings"]:
            words[_fold(w)] = tuple(pair["names"])
    for ind in indicators:
        bad = [r for r in ind.related if r not in names] + [k for k in ind.kinds if k not in KINDS]
        if bad:
            raise ValueError(f"{path.name}: {ind.name} names unknown related indicators or kinds {bad}")
    conversions = tuple((u["from"], u["to"], float(u["factor"])) for u in data.get("units", []))
    return Registry(indicators, tuple(words.items()), conversions)


# Full-width ASCII -> ASCII, one character for one, so that offsets stay those of the document.
_FOLD = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}


def _fold(text: str) -> str:
    return text.translate(_FOLD)


@lru_cache(maxsize=4)
def _report_word_re(registry: Registry) -> re.Pattern:
    words = sorted((w for w, _ in registry.report_words), key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in words), re.I)


@lru_cache(maxsize=4)
def _report_word_names(registry: Registry) -> dict[str, tuple[str, ...]]:
    return {w.lower(): names for w, names in registry.report_words}


# ---------------------------------------------------------------- facts

@dataclass(frozen=True, slots=True)  # slots: 4,709 facts a report set, millions at scale
class Fact:
    """One stated figure. `document.text[start:end]` is the value as written (「增长4.3%」);
    `[sentence_start, sentence_end)` is the sentence to cite."""

    doc_id: str
    city: str | None
    report_year: int | None
    period: str  # "2022" actual of the reviewed year, "2023" target of the report year, "五年"
    indicator: str  # canonical name, or the report's own wording when not in the registry
    headline: bool  # a registry indicator, city-wide, of a kind the registry expects
    wording: str  # the indicator as written
    value: float  # as written: a 下降 growth is positive with direction "down" (see signed_value)
    unit: str
    kind: str  # amount | growth | share | count | rank
    direction: str | None  # "up" / "down" for a change, else None
    qualifiers: tuple[str, ...]
    start: int
    end: int
    sentence_start: int
    sentence_end: int
    value_max: float | None = None  # the top of a range 「增长6.5—7%」 (value is 6.5)


_NUM = r"(?<![\dA-Za-z.第前])(?P<num>\d+(?:,\d{3})*(?:\.\d+)?)(?![\d,]*\.?\d*(?:年|月|日|号))"
_BASE_UNITS = sorted(
    "个百分点 百分点 % 微克/立方米 微克每立方米 元 美元 吨 斤 亩 公顷 人次 人 户 家 个 天 项 件 所 座 名 张 台 "
    "公里 千米 米 平方米 平方公里 立方米 千瓦时 千瓦 度 套 辆 场次 次 场 篇 部 条 批 株 棵 头 只 剂次 份 盒 处 栋 "
    "间 倍 标准箱 艘 架次 床 册 支 块 片 宗 单 例 对 窝 羽 微克".split(),
    key=len, reverse=True,
)
_VALUE_RE = re.compile(
    _NUM + r"(?P<mult>万亿|亿|万|千)?(?P<approx>余|多)?(?P<base>" + "|".join(re.escape(u) for u in _BASE_UNITS)
    + r")?(?P<approx2>余|多)?(?P<suffix>左右|以上|以内|以下|上下)?"
)
_RANGE_RE = re.compile(r"(?<![\d.])(?P<lo>\d+(?:\.\d+)?)(?P<u1>%)?[—–~～\-至到](?P<hi>\d+(?:\.\d+)?)")
_NO_DIGIT_RE = re.compile(r"(?:突破|超过|超|迈上|跨上|迈入|跨越|达到|达)(万亿)元?(?![\u4e00-\u9fff]*级)")
_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_RANK_RE = re.compile(
    r"(?:(?:位居|位列|排名|排在|排位|跃居|跃升至|跃进至|跃升|晋升至|晋位至|上升至|提升至|居|排|列|为)(?P<group>[^，,。；;、：:]{0,12}?)"
    r"|(?<=[、,，])(?P<bare>全省|全国|全市|全区|[\u4e00-\u9fff]{2,4}(?:省|市|地区)))"
    r"第(?P<n>[一二三四五六七八九十\d]{1,3})(?:位|名)?(?![个家批次届阵方梯轮期季年天项条号])"
)
_CLAUSE_BREAK_RE = re.compile(r"[，,；;：:。！？!?]")
_JOINER_RE = re.compile(r"^(?:[、和及与,，]|以及)$")
_GROWTH_RE = re.compile(r"(?:同比)?(?:增长|增速|增幅|涨幅|上涨|下降|降低|减少|回落|下滑|增加|降幅|递增|提高|提升|增|降)(?!到|至)")
_DOWN_RE = re.compile(r"下降|降低|减少|回落|下滑|降幅|负增长|降")
_SHARE_RE = re.compile(r"占|比重|比例|比率|率|强度")
# What may stand between an indicator and its value (「生产总值完成」「财政收入同口径增长」).
_CONNECTIVE_WORDS = (
    "同口径 比上年 较上年 比去年 同比 全年 全市 累计 年均 预计 分别 总量 总额 规模 增长 增速 增幅 涨幅 上涨 下降 降低 减少 回落 增加 "
    "提高到 提高至 提升到 提升至 提高 提升 控制在 保持在 稳定在 保持 完成 实现 达到 突破 超过 接近 将近 力争 确保 争取 约 达 为 是 在 到 至 "
    "了 均 和 及 与 、 的 占比 比重 比例 水平 总水平 增 降 共 计 已 再 新增 净增 其中 绝对值 指数 总数 数量 保有量 认定 新认定 培育 名义 "
    "不低于 不少于 不高于 不超过 低于 降幅收窄至 降幅收窄到 降幅收窄 降幅 稳居 位居 可比价 可比价格 按可比价格计算 "
    "存量 历史性 首次 再次 每立方米 双双 都"
).split()
_CONNECTIVES = re.compile(
    r"扣除[^，,；;]{0,16}?因素|连续\d+年|连续[一二三四五六七八九十]+年|"
    + "|".join(re.escape(w) for w in sorted(set(_CONNECTIVE_WORDS), key=len, reverse=True))
)
# A Han run before an indicator that ends with one of these does not narrow it (「全年完成生产总值」);
# any other run does (「县域经济生产总值」「高新区生产总值」 are not the city's).
_OPEN_BEFORE = re.compile(
    r"(?:全市|全县|全区|我市|本市|全年|完成|实现|达到|地方|全社会|全口径|其中|新增|净增|培育|引进|认定|新认定|累计|年均|"
    r"力争|确保|推动|推进|预计|争取|保持|同比|今年|去年|全体|以上|共|共有|总计|拥有|有|促进|带动|助推|全年共|"
    r"首次|合计|其|将|使|目标|目标是|年|末|年末|年底|当年|年内|主要|新|总|市|全部|新培育|新引进|净增加|增加|"
    r"新登记|新设|登记|新注册|同口径|可比价|按可比价格计算|金融机构|人民币|用于|稳定|稳住|保障|带动全市|全市实现|落实|坚持|"
    r"自营|财政|收获|取得|力促|努力|推动实现|确保实现|投入)$"
)
_DENOMINATOR_PHRASE = re.compile(r"(?:仅|只)?占[^，,；;。]*$")  # 「占财政总支出84%」: the share's base
_DENOMINATOR_BEFORE = re.compile(r"(?:占|高于|低于|快于|慢于|超出|比|较)(?:全市|全年|全省|全国|同期|全体)?$")
_HAN_RE = re.compile(r"[\u4e00-\u9fff]")
# A figure of part of the year is not the year's: 「前三季度,全市实现地区生产总值1887.2亿元」.
_PARTIAL_YEAR_RE = re.compile(r"前三季度|前三个季度|上半年|一季度|第一季度|前\d{1,2}个月|1[-—~至]\d{1,2}月|\d{1,2}月份")
_TOPICS = ("粮食", "旅游", "外贸")  # 「保障粮食安全,产量达到13.8万吨」: the topic names the bare noun
_QUAL_BEFORE = (("力争", "力争"), ("同口径", "同口径"), ("可比价", "可比价"), ("累计", "累计"), ("年均", "年均"),
                ("超过", "超过"), ("突破", "超过"), ("接近", "接近"), ("将近", "接近"))
_BOUND_BEFORE = re.compile(r"(不低于|不少于|不高于|不超过|低于|超过|突破|超|逾|接近|将近|近)(?:了|达到|达)?$")
_BOUND_QUALS = {"不低于": "以上", "不少于": "以上", "不高于": "以内", "不超过": "以内", "低于": "以内", "超过": "超过",
                "突破": "超过", "超": "超过", "逾": "超过", "接近": "接近", "将近": "接近", "近": "接近"}
_PREFIX_QUALS = ("力争", "同口径", "可比价", "扣除…因素", "累计", "年均", "超过", "接近")
_COUNT_UNITS = set("人 户 家 天 个 项 件 所 座 名 张 台 套 辆 次 场 篇 部 条 批 株 棵 头 只 份 盒 处 栋 间 艘 床 册 支 块 片 宗 单 例 对".split())
_AMOUNT_UNITS = {"元", "美元", "吨", "斤", "亩", "公顷", "人次", "千瓦", "千瓦时", "平方米", "公里", "立方米", "微克/立方米", "标准箱"}


@dataclass
class _Value:  # a value found in a sentence (offsets relative to the sentence)
    start: int
    end: int
    num_start: int
    value: float
    unit: str
    qualifiers: tuple[str, ...]
    rank: bool = False
    lead: int = -1  # a rank's verb 「居全省第二」 starts here
    value_max: float | None = None


@dataclass
class _Subject:  # what the values of a clause are about
    names: tuple[str, ...]  # canonical names, or (own wording,) when not in the registry
    wording: str
    registry: bool
    context: str  # words between the indicator and the value (增速, 占比...)
    pair: bool = False
    scoped: bool = False  # a county's, park's, sector's figure (「高新区生产总值」)
    citywide: bool = False  # said to be the city's (「全市生产总值」)


def extract_facts(document: Document, passages: list[Passage] | None = None) -> list[Fact]:
    """Every statistic the document states, as facts; `passages` are chunk_document(document),
    whose sections tell the year reviewed from the year planned."""
    registry = load_registry()
    passages = sorted(passages if passages is not None else chunk_document(document), key=lambda p: p.start)
    starts = [p.start for p in passages]
    year = document.year or 2023
    text = _fold(document.text)
    facts: list[Fact] = []
    period, last_head = str(year - 1), None
    scoped = False  # 「园区规上企业工业总产值完成350.9亿元;工业增加值完成69.5亿元」: still the park's
    partial = ""  # 「前三季度,全市实现地区生产总值1887.2亿元;……;城乡居民人均可支配收入37533元」: all of it
    # Whole sentences of the document: a passage may cut an over-long sentence, a fact must not.
    for a, b in split_sentences(text):
        i = bisect_right(starts, a) - 1
        head = passages[i].section.split(" > ")[0] if i >= 0 else ""
        if head != last_head:
            period, last_head = _section_period(head, period, year), head
        sentence_period = _sentence_period(text, a, b, period, year)
        partial = partial or next((m.group(0) for m in _PARTIAL_YEAR_RE.finditer(text[a:b])), "")
        found, scoped = _sentence_facts(document, text, a, b, sentence_period, registry, scoped, partial)
        facts.extend(found)
        partial = partial if text[a:b].rstrip().endswith((";", "；")) else ""
    return facts


def _section_period(head: str, current: str, year: int) -> str:
    if re.search(r"五年|十三五", head) and str(year) not in head:
        return MULTI
    if re.search(rf"{year - 1}|回顾|去年|过去一年|以来", head):
        return str(year - 1)
    if re.search(rf"{year}|今年|安排|目标|任务|重点工作|思路|建议|自身建设", head):
        return str(year)
    return current


def _sentence_period(text: str, a: int, b: int, period: str, year: int) -> str:
    sentence = text[a:b]
    opening = sentence[:12]
    if re.match(rf"\s*(?:{year - 1}年|去年|过去一年)", sentence):
        return str(year - 1)
    # 「过去五年,…」 is a multi-year figure; 「为五年来最多」 only compares.
    if re.search(r"(?<![为是创居])(?:过去五年|五年来|五年间|五年累计|过去的五年|本届政府以来)(?!最|新高|之最)", sentence):
        return MULTI
    paragraph_start = text.rfind("\n", 0, a) + 1
    if period == str(year - 1) and re.match(r"\s*(?:过去五年|五年来|五年间|过去的五年|本届政府)", text[paragraph_start:paragraph_start + 12]):
        return MULTI
    if period != str(year) and re.match(rf"\s*(?:{year}年|今年)", opening) and re.search(r"目标|力争|预期|计划", sentence):
        return str(year)
    return period


def _find_values(s: str) -> list[_Value]:
    values: list[_Value] = []
    for m in _VALUE_RE.finditer(s):
        if not (m.group("mult") or m.group("base")):
            continue
        quals = []
        if m.group("approx") or m.group("approx2"):
            quals.append("超过")
        if m.group("suffix"):
            quals.append({"上下": "左右"}.get(m.group("suffix"), m.group("suffix")))
        end = m.end()
        # A threshold is no statistic: 「500万元以上固定资产投资」「10亿元以上项目」「80%的企业」.
        after = s[end:end + 1]
        if after and _HAN_RE.match(after) and (m.group("suffix") in ("以上", "以下") or after == "的"):
            continue
        num = float(m.group("num").replace(",", ""))
        unit = (m.group("mult") or "") + (m.group("base") or "")
        if unit == "微克" and s[:m.start()].endswith(("每立方米", "每立方米为")):
            unit = "微克/立方米"  # 「PM2.5平均浓度为每立方米22微克」
        values.append(_Value(m.start(), end, m.start(), num, "%" if unit == "％" else unit, tuple(quals)))
    for m in _RANK_RE.finditer(s):
        n = _cn_number(m.group("n"))
        if n is None:
            continue
        start = m.start("n") - 1
        if any(v.start <= start < v.end for v in values):
            continue
        values.append(_Value(start, m.end(), start, float(n), "位", (), rank=True, lead=m.start()))
    for m in _NO_DIGIT_RE.finditer(s):  # 「存贷款余额均突破万亿元」: one 万亿元, written without a digit
        if not any(v.start <= m.start(1) < v.end for v in values):
            values.append(_Value(m.start(1), m.end(), m.start(1), 1.0, "万亿元", ("超过",)))
    for m in _RANGE_RE.finditer(s):  # 「增长6.5—7%」: one value, from 6.5 to 7
        top = next((v for v in values if v.start == m.start("hi")), None)
        if top is not None and (not m.group("u1") or m.group("u1") == top.unit):
            values.remove(top)
            values.append(_Value(m.start(), top.end, m.start(), float(m.group("lo")), top.unit, top.qualifiers,
                                 value_max=top.value))
    values.sort(key=lambda v: v.start)
    return values


def _cn_number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if text == "十":
        return 10
    if len(text) == 1:
        return _CN_DIGITS.get(text)
    if text.startswith("十"):
        return 10 + _CN_DIGITS.get(text[1], 0)
    if text.endswith("十") and len(text) == 2:
        return _CN_DIGITS.get(text[0], 0) * 10
    if len(text) == 3 and text[1] == "十":
        return _CN_DIGITS.get(text[0], 0) * 10 + _CN_DIGITS.get(text[2], 0)
    return None


def _sentence_facts(doc: Document, text: str, a: int, b: int, period: str, registry: Registry,
                    scoped: bool, partial: str) -> tuple[list[Fact], bool]:
    """The facts of one sentence, and whether its scope (a park, a sector) carries on past its 「；」.
    `partial`: the part of the year its figures are of (「前三季度」), or "" (see _PARTIAL_YEAR_RE)."""
    s = text[a:b]
    values = _find_values(s)
    chained = s.rstrip().endswith((";", "；"))
    if not values:
        return [], scoped and chained
    city_short = re.sub(r"(?:市|县|区|州|盟|旗)$", "", doc.city or "") or None
    subjects: list[_Subject] = []  # distinct subjects of this sentence, in order
    current: _Subject | None = None
    out: list[tuple[_Value, _Subject, str, str]] = []  # (value, subject, name, clause)
    i = 0
    while i < len(values):
        run = _run(s, values, i)
        prev_end = values[i - 1].end if i else 0
        clause_start = _clause_start(s, prev_end, values[i].start)
        clause = s[clause_start:values[i].start]
        subject = _subject(s, clause_start, values[i], values[i - 1] if i else None, registry, city_short)
        if subject is None and values[i].rank:
            subject = current  # 「增长6.8%、排咸阳第一」: the rank is the last indicator's
        elif subject is None:
            if current is not None and "分别" in clause and len(run) > 1 and len(current.names) == 1:
                recent = _recent_subjects(subjects, len(run))
                if recent:
                    for v, subj in zip(run, recent):
                        out.append((v, subj, subj.names[0], clause))
                    i += len(run)
                    continue
            subject = current
            if subject is not None and re.search(r"总量|总数|保有量|存量", clause) and subject.wording.startswith(("新", "净")):
                # 「新增市场主体3.6万户、总量达到30.2万户」: the second is the total
                stock = re.sub(r"^(?:新增|净增|新登记|新设|新培育|新认定|新引进|新上)", "", subject.wording) + "总量"
                subject = replace(subject, wording=stock)
        if subject is None:
            i += len(run)
            continue
        if subject.scoped:
            scoped = True
        elif scoped and subject.registry and not subject.citywide:
            subject = _Subject((subject.wording,), subject.wording, False, subject.context, scoped=True)
        if not values[i].rank:
            current = subject
            if subject not in subjects:
                subjects.append(subject)
        for v, name, subj in _assign(run, subject, clause):
            out.append((v, subj, name, clause))
        i += len(run)
    facts = [_make_fact(doc, text, a, b, period, v, subj, name, clause, registry, partial) for v, subj, name, clause in out]
    return facts, scoped and chained


def _run(s: str, values: list[_Value], i: int) -> list[_Value]:
    """Values i, i+1... joined only by 、和及与 (「39529元和16183元」「4.7%和6.6%」)."""
    run = [values[i]]
    for v in values[i + 1:]:
        gap = s[run[-1].end:v.start].strip()
        if v.rank or run[0].rank or not _JOINER_RE.match(gap) or v.unit != run[-1].unit:
            break
        if _HAN_RE.match(s[v.end:v.end + 1]) and s[v.end] not in "和及与":
            break  # 「120家,30家企业获评…」: the next number counts a noun of its own
        run.append(v)
    # 「分别增长7%和8%左右」: the trailing qualifier is every value's.
    tail = [q for q in run[-1].qualifiers if q in ("左右", "以上", "以内")]
    if len(run) > 1 and tail:
        for v in run[:-1]:
            if not any(q in ("左右", "以上", "以内") for q in v.qualifiers):
                v.qualifiers = v.qualifiers + tuple(tail)
    return run


def _clause_start(s: str, lo: int, hi: int) -> int:
    last = lo
    for m in _CLAUSE_BREAK_RE.finditer(s, lo, hi):
        last = m.end()
    return last


def _recent_subjects(subjects: list[_Subject], n: int) -> list[_Subject] | None:
    singles = [x for x in subjects if len(x.names) == 1]
    return singles[-n:] if len(singles) >= n else None


def _assign(run: list[_Value], subject: _Subject, clause: str) -> list[tuple[_Value, str, _Subject]]:
    n = len(subject.names)
    if n == 1:
        return [(v, subject.names[0], subject) for v in run]
    if n == len(run):
        return [(v, name, subject) for v, name in zip(run, subject.names)]
    if len(run) == 1 and re.search(r"双双|均|都", clause + subject.context):
        return [(run[0], name, subject) for name in subject.names]  # 「存贷款双双突破3万亿元」
    # 「城乡居民人均可支配收入增长5%」: one value for two indicators is neither of them.
    own = _Subject((subject.wording,), subject.wording, False, subject.context)
    return [(v, subject.wording, own) for v in run]


def _subject(s: str, clause_start: int, value: _Value, previous: _Value | None,
             registry: Registry, city_short: str | None) -> _Subject | None:
    """The indicator the value's clause names; None when the clause names nothing (inherit)."""
    clause = s[clause_start:value.start]
    names_of = _report_word_names(registry)
    matches = [m for m in _find_wordings(s, clause_start, value.start, registry)
               if not _DENOMINATOR_BEFORE.search(s[clause_start:m.start()])]
    if value.rank:
        matches = [m for m in matches if len(_residual(s[m.end():value.lead])) <= 1]
        if not matches:
            # 「增长6.8%、排咸阳第一」 is the last indicator's; 「专项债券额度均居全省第1」 is not.
            rest = _residual(s[clause_start:value.lead])
            return None if len(rest) <= 1 else _Subject((_own_wording(s[clause_start:value.lead]),), rest, False, "")
    if not matches:
        residual = _residual(_DENOMINATOR_PHRASE.sub("", clause))
        if len(residual) <= 1:
            return _following_subject(s, value, registry)
        wording = _own_wording(clause)
        topical = _topic_subject(s[:clause_start], wording, registry)
        return topical or (_Subject((wording,), wording, False, clause) if wording else None)
    last = matches[-1]
    between = s[last.end():value.lead if value.rank else value.start]
    if len(_residual(_DENOMINATOR_PHRASE.sub("", between))) > 1 or (between.endswith("的") and "占" not in between):
        wording = _own_wording(s[last.start():value.start])
        return _Subject((wording,), wording, False, between)
    # A list 「规模以上工业增加值、社会消费品零售总额分别增长…」 ends at `last`.
    first = last
    items = [last]
    for m in reversed(matches[:-1]):
        if _JOINER_RE.match(s[m.end():first.start()].strip() or "x"):
            items.insert(0, m)
            first = m
        else:
            break
    run_before = _han_run_before(s, clause_start, first.start())
    scoped = bool(run_before) and not _OPEN_BEFORE.search(run_before) and run_before != city_short \
        and not (city_short and run_before.endswith(city_short))
    names = tuple(n for m in items for n in names_of[m.group(0).lower()])
    wording = s[first.start():last.end()]
    if scoped:
        own = re.sub(r"^(?:其中|全年|同时|此外)+", "", run_before[-6:]) + wording
        return _Subject((own,), own, False, between, scoped=True)
    citywide = bool(re.search(r"全市|全县|我市|本市" + (f"|{city_short}" if city_short else ""), run_before))
    flow = re.search(r"(?:新增|净增|新登记|新设|新培育|新认定|新引进|新上)$", run_before)
    if flow and not wording.startswith(("新", "净")):
        wording = flow.group(0) + wording  # 「新登记市场主体」: a flow, not the stock
    return _Subject(names, wording, True, between, pair=len(items) == 1 and len(names) == 2, citywide=citywide)


def _find_wordings(s: str, lo: int, hi: int, registry: Registry) -> list[re.Match]:
    """Registry wordings in s[lo:hi], none overlapping; of two overlapping ones the one that ends
    later wins, since a Chinese compound ends with its head (「全社会研发投入强度」 is 研发投入强度)."""
    pattern = _report_word_re(registry)
    found = [_Wording(m.start(), m.end(), m.group(0)) for m in (pattern.match(s, i, hi) for i in range(lo, hi)) if m]
    found.sort(key=lambda w: (-w.end(), w.start()))
    chosen: list[_Wording] = []
    for w in found:
        overlapping = [c for c in chosen if w.start() < c.end() and w.end() > c.start()]
        if not overlapping:
            chosen.append(w)
        else:  # 「外贸进出口额」: the earlier wording's start joins the one chosen
            c = overlapping[0]
            c.begin = min(c.begin, w.start())
    return sorted(chosen, key=lambda w: w.start())


@dataclass
class _Wording:  # a registry wording found in a sentence; `key` names it in the registry
    begin: int
    stop: int
    key: str

    def start(self) -> int:
        return self.begin

    def end(self) -> int:
        return self.stop

    def group(self, _: int = 0) -> str:
        return self.key


def _residual(text: str, rank: bool = False) -> str:
    rest = _CONNECTIVES.sub("", text)
    if rank:
        rest = re.sub(r"全省|全国|全市|[\u4e00-\u9fff]{0,4}(?:省|市|州|地区)|各县|县区|县市区|同类|城市", "", rest)
    return "".join(_HAN_RE.findall(rest))


def _han_run_before(s: str, lo: int, pos: int) -> str:
    j = pos
    while j > lo and _HAN_RE.match(s[j - 1]):
        j -= 1
    return s[j:pos]


def _own_wording(clause: str) -> str:
    text = clause.strip(" 、,，和及与")
    text = re.sub(r"^(?:其中|全年|全市|同时|此外|一年来|我们|今年|去年|\d{4}年)+", "", text)
    text = re.sub(f"(?:{_CONNECTIVES.pattern})+$", "", text)
    return text.strip(" 、,，")[-16:]


def _topic_subject(before: str, wording: str, registry: Registry) -> _Subject | None:
    names_of = _report_word_names(registry)
    for topic in _TOPICS:
        if topic in before and len(wording) <= 4:
            names = names_of.get((topic + wording).lower())
            if names and len(names) == 1:
                return _Subject(names, wording, True, "")
    return None


def _following_subject(s: str, value: _Value, registry: Registry) -> _Subject | None:
    """「新增9家规上工业企业」「13个地表水断面」: the number comes before the noun it counts;
    None when nothing follows (the value then belongs to the sentence's last indicator)."""
    if value.unit.lstrip("万亿千") not in _COUNT_UNITS or not _HAN_RE.match(s[value.end:value.end + 1]):
        return None
    m = _report_word_re(registry).match(s, value.end)
    if m and len(_report_word_names(registry)[m.group(0).lower()]) == 1 and not _HAN_RE.match(s[m.end():m.end() + 1]):
        return _Subject(_report_word_names(registry)[m.group(0).lower()], m.group(0), True, "")
    noun = re.match(r"[^，,；;。：:、]{1,12}", s[value.end:])
    return _Subject((noun.group(0),), noun.group(0), False, "") if noun else None


def _make_fact(doc: Document, text: str, a: int, b: int, period: str, v: _Value, subject: _Subject,
               name: str, clause: str, registry: Registry, partial: str) -> Fact:
    s = text[a:b]
    ind = registry.get(name) if subject.registry else None
    context = clause + " " + subject.context
    kind = _kind(v, context, subject.wording, ind)
    direction = None
    value = v.value
    start = v.start
    if kind == "growth" or v.unit.endswith("百分点"):
        verb = _GROWTH_RE.search(s[max(0, v.start - 6):v.start] + "$")
        direction = "up"
        if _DOWN_RE.search(s[max(0, v.start - 8):v.start]) and not re.search(r"收窄(?!至|到)", s[max(0, v.start - 8):v.start]):
            direction = "down"
        m = re.search(r"(?:同比)?(?:增长|增速|增幅|涨幅|上涨|下降|降低|减少|回落|下滑|增加)(?:了|为|达到|达)?$", s[:v.start])
        if m and verb:
            start = m.start()
    quals = ((partial,) if partial else ()) + _qualifiers(s, v, clause)  # 「前三季度872.3亿元」, never headline
    if period == str((doc.year or 2023) - 1) and "年均" in quals:
        period = MULTI
    # 「民生支出增加47亿元」 is a change, not the level.
    change = kind in ("amount", "count") and re.search(r"(?:增加|增长|减少|下降|提高|多增|净增加)了?$", s[:v.start])
    if change:
        direction = "down" if re.search(r"(?:减少|下降)了?$", s[:v.start]) else "up"  # shown 「增加47亿元」
    headline = (ind is not None and kind in ind.kinds and not partial and not change
                and _unit_fits(v.unit, kind, ind))
    return Fact(
        doc_id=doc.doc_id, city=doc.city, report_year=doc.year, period=period,
        indicator=name, headline=headline, wording=subject.wording, value=value, unit=v.unit,
        kind=kind, direction=direction, qualifiers=quals, start=a + start, end=a + v.end,
        sentence_start=a, sentence_end=b, value_max=v.value_max,
    )


def _unit_fits(unit: str, kind: str, ind: Indicator) -> bool:
    """A headline value is in one of the indicator's units (or one exactly convertible to it)."""
    if kind == "rank":
        return unit == "位"
    if unit == "%":
        return kind in ("growth", "share")
    return any(unit == u or convert(1.0, unit, u) is not None for u in ind.units)


def _kind(v: _Value, context: str, wording: str, ind: Indicator | None) -> str:
    if v.rank:
        return "rank"
    kinds = ind.kinds if ind else ()
    if v.unit.endswith("百分点"):
        return "growth"
    if v.unit == "%":
        near = context[-8:]
        if _GROWTH_RE.search(near) and not re.search(r"占|比重|比例", near[-4:]):
            return "growth"
        if _SHARE_RE.search(context + wording) or kinds == ("share",):
            return "share"
        if "growth" in kinds:
            return "growth"
        return "share"
    base = v.unit.lstrip("万亿千")
    if base in _COUNT_UNITS and v.unit != "万亿元":
        if ind is None or "count" in kinds or "amount" not in kinds:
            return "count"
    return "amount"


def _qualifiers(s: str, v: _Value, clause: str) -> tuple[str, ...]:
    quals: list[str] = []
    before = s[:v.start]
    near = clause[-12:]
    if "力争" in before:
        quals.append("力争")
    for word, q in _QUAL_BEFORE[1:5]:
        if word in near and q not in quals:
            quals.append(q)
    if re.search(r"扣除[^，,；;。]{0,20}?因素", clause) or re.match(r"\s*扣除[^，,；;。]{0,20}?因素", s):
        quals.append("扣除…因素")
    bound = _BOUND_BEFORE.search(before)
    if bound:
        q = _BOUND_QUALS[bound.group(1)]
        if q not in quals and q not in v.qualifiers:
            quals.append(q)
    for q in v.qualifiers:
        if q not in quals:
            quals.append(q)
    return tuple(quals)


# ---------------------------------------------------------------- storage

_COLUMNS = ("doc_id", "city", "report_year", "period", "indicator", "headline", "wording", "value", "unit",
            "kind", "direction", "qualifiers", "start", "end", "sentence_start", "sentence_end", "value_max")


def write_facts(conn: sqlite3.Connection, facts: list[Fact]) -> None:
    """Create the `facts` table if needed and add the facts (plain columns; qualifiers joined by |)."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS facts (doc_id TEXT NOT NULL, city TEXT, report_year INTEGER, period TEXT NOT NULL, "
        "indicator TEXT NOT NULL, headline INTEGER NOT NULL, wording TEXT, value REAL NOT NULL, unit TEXT, "
        "kind TEXT NOT NULL, direction TEXT, qualifiers TEXT, start INTEGER, \"end\" INTEGER, "
        "sentence_start INTEGER, sentence_end INTEGER, value_max REAL)"
    )
    conn.execute("CREATE INDEX IF NOT EXISTS facts_indicator ON facts (indicator, period, kind)")
    conn.execute("CREATE INDEX IF NOT EXISTS facts_doc ON facts (doc_id)")
    conn.executemany(
        f"INSERT INTO facts ({', '.join(chr(34) + c + chr(34) for c in _COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
        [_row(f) for f in facts],
    )


def _row(f: Fact) -> tuple:
    return (f.doc_id, f.city, f.report_year, f.period, f.indicator, int(f.headline), f.wording, f.value, f.unit,
            f.kind, f.direction, "|".join(f.qualifiers), f.start, f.end, f.sentence_start, f.sentence_end, f.value_max)


def read_facts(conn: sqlite3.Connection) -> list[Fact]:
    """All stored facts, in document order; [] when the knowledge base has no facts table."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='facts'").fetchone():
        return []
    rows = conn.execute(
        f"SELECT {', '.join(chr(34) + c + chr(34) for c in _COLUMNS)} FROM facts ORDER BY rowid"
    )
    # The same few names recur in every fact of a report: one string each, not one a fact.
    names = lambda v: v if v is None else sys.intern(v)  # noqa: E731
    return [
        Fact(names(r[0]), names(r[1]), r[2], names(r[3]), names(r[4]), bool(r[5]), names(r[6]), r[7], names(r[8]),
             names(r[9]), names(r[10]), tuple(sys.intern(q) for q in (r[11] or "").split("|") if q), r[12], r[13], r[14],
             r[15], r[16])
        for r in rows
    ]


# ---------------------------------------------------------------- questions

@dataclass(frozen=True)
class IndicatorMatch:
    name: str  # canonical indicator
    kind: str  # the kind of value asked: amount | growth | share | count | rank
    wording: str  # the words of the question that named it
    start: int
    end: int


@dataclass(frozen=True)
class Intent:
    kind: str = "single"  # single | compare | rank
    order: str = "desc"  # desc | asc
    top_n: int | None = None


@lru_cache(maxsize=4)
def _question_words(registry: Registry) -> tuple[re.Pattern, dict[str, tuple[str, str | None]]]:
    words: dict[str, tuple[str, str | None]] = {}
    for ind in registry.indicators:
        kinds = dict(ind.everyday_kinds)
        for w in ind.wordings + ind.everyday:
            words.setdefault(_fold(w).lower(), (ind.name, kinds.get(w)))
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)))
    return pattern, words


_QUESTION_SCOPE_RE = re.compile(r"(?:人均|县域|县域经济|园区|高新区|开发区|新区|民间|制造业|工业|限上|限额以上|海洋|数字经济|跨境电商|全省|全国|全区|亩均)的?$")
_ASK_RANK = re.compile(r"排第几|排名第几|第几位|第几名|位次|排在第几|位居第几|排多少")
_ASK_GROWTH = re.compile(r"增速|增长率|增幅|涨幅|增长目标|增长预期|预期增长|增长了?多少|涨了?多少|增长(?:得)?(?:最快|最慢|最高|最低|最多|最少|快|慢)|增长了?几|"
                         r"提高了?多少|下降了?多少|降了?多少|降低了?多少|增长情况|同比|(?:增长|涨|提高|下降)了?百分之|增长幅度|涨多少|增长速度|速度")
_ASK_SHARE = re.compile(r"比重|占比|比例|率|强度")
_ASK_AMOUNT = re.compile(r"多少亿|总量|规模|总额|多少元|多少万|多少吨|多少斤|多少亩|多少钱|有多大|体量|总共|一共|数额|金额")


def match_indicator(text: str) -> IndicatorMatch | None:
    """The headline indicator a question asks about, and the kind of value asked."""
    registry = load_registry()
    pattern, words = _question_words(registry)
    folded = _fold(text).lower()
    matches = list(pattern.finditer(folded))
    if not matches:
        return None
    best = max(matches, key=lambda m: (len(m.group(0)), -m.start()))
    if _QUESTION_SCOPE_RE.search(folded[:best.start()]):
        return None  # 「人均GDP」「县域生产总值」「全省GDP」: not the city's headline figure
    name, implied = words[best.group(0)]
    ind = registry.get(name)
    kind = _asked_kind(folded, best, implied, ind)
    return IndicatorMatch(name, kind, text[best.start():best.end()], best.start(), best.end())


def _asked_kind(folded: str, best: re.Match, implied: str | None, ind: Indicator) -> str:
    rest = folded[:best.start()] + " " + folded[best.end():]
    asked = None
    if _ASK_RANK.search(rest):
        return "rank"
    if _ASK_GROWTH.search(rest):
        asked = "growth"
    elif _ASK_SHARE.search(rest) and "share" in ind.kinds:
        asked = "share"
    elif _ASK_AMOUNT.search(rest):
        asked = "amount" if "amount" in ind.kinds else "count"
    elif implied:
        asked = implied
    elif _ASK_SHARE.search(best.group(0)) and "share" in ind.kinds:
        asked = "share"
    elif _ASK_GROWTH.search(best.group(0)) and "growth" in ind.kinds:
        asked = "growth"
    return asked if asked in ind.kinds else ind.kinds[0]


_RANK_WORDS = re.compile(r"最高|最低|最多|最少|最大|最小|最快|最慢|最好|最差|最强|最弱|排名|排个?序|排行|排一下|排一排|从高到低|从低到高|由高到低|由低到高|"
                         r"从大到小|从小到大|从多到少|从少到多|前[一二三四五六七八九十两\d]+(?:名|位|个|强)?|倒数|垫底|"
                         r"(?:哪个|哪一个|哪座|哪家|哪里|谁).{0,12}?(?:高|低|多|少|大|小|快|慢)|更高|更低|更多|更少|更大|更小|更快|更慢|较高|较低|top")
_ASC_WORDS = re.compile(r"最低|最少|最小|最慢|最差|最弱|从低到高|由低到高|从小到大|从少到多|倒数|垫底|更低|更少|更小|更慢|较低|"
                        r"(?:哪个|哪一个|哪座|谁).{0,12}?(?:低|少|小|慢)")
_COMPARE_WORDS = re.compile(r"分别|对比|比较|各(?:自|是|为|有)?多少|相比|差距|差多少|都是|各市|各个|比一比|"
                            r"(?:和|跟|与|同).{1,8}?比|比(?:怎么样|如何|起来)")
_TOP_RE = re.compile(r"前([一二三四五六七八九十两\d]+)")


def detect_intent(text: str) -> Intent:
    """One figure, several cities' figures (分别/对比), or a ranking (哪个最高/排名前三/从高到低)."""
    folded = _fold(text).lower()
    if _RANK_WORDS.search(folded) and not _ASK_RANK.search(folded):
        top = _TOP_RE.search(folded)
        top_n = _cn_number(top.group(1).replace("两", "二")) if top else None
        order = "asc" if _ASC_WORDS.search(folded) else "desc"
        return Intent("rank", order, top_n)
    if _COMPARE_WORDS.search(folded):
        return Intent("compare")
    return Intent("single")


def detect_period(text: str, report_year: int = 2023) -> str:
    """The period a question asks about: the reviewed year (default), the plan year, or five years."""
    if re.search(r"五年|年均", text):
        return MULTI
    if re.search(rf"{report_year}年|今年|目标|计划|预期|打算|力争", text):
        return str(report_year)
    other = re.search(r"((?:19|20)\d{2})年", text)
    if other:
        return other.group(1)  # a year no report reviews or plans: answered as not stated
    return str(report_year - 1)


# ---------------------------------------------------------------- answers

@dataclass(frozen=True)
class FactQuery:
    """What the question asks, from the question analyser (cities are canonical, e.g. 铜川市;
    no city = the whole knowledge base)."""

    indicator: str | None
    kind: str
    cities: tuple[str, ...] = ()
    period: str = "2022"
    intent: Intent = Intent()
    new: bool = False  # the question asks for a new count (「新增高新技术企业」), not the total


@dataclass(frozen=True)
class FactRow:
    city: str
    value: float | None  # None: the report does not state it
    unit: str
    qualifiers: tuple[str, ...]
    marker: int | None
    note: str = ""  # 报告未给出 / 两份报告不一致 / 单位无法换算


@dataclass(frozen=True)
class FactAnswer:
    text: str  # plain Chinese with [n] markers
    facts: tuple[Fact, ...]  # cited facts, facts[n-1] for marker [n]
    refused: bool = False
    rows: tuple[FactRow, ...] = ()
    conflicts: tuple[tuple[Fact, ...], ...] = ()


def build_query(question: str, cities: tuple[str, ...], period: str | None = None,
                report_year: int = 2023) -> FactQuery | None:
    """Convenience for callers without their own analyser: the question's indicator and intent."""
    match = match_indicator(question)
    if match is None:
        return None
    return FactQuery(match.name, match.kind, tuple(cities), period or detect_period(question, report_year),
                     detect_intent(question), asks_new(question))


def asks_new(question: str) -> bool:
    """「新增高新技术企业最多」 asks for new counts; 「高新技术企业有多少」 for the total."""
    return bool(re.search(r"新增|新设|新登记|净增|新培育|新认定|新引进|新上", question))


def select_facts(facts: list[Fact], indicator: str | None = None, city: str | None = None,
                 period: str | None = None, kind: str | None = None, headline_only: bool = True) -> list[Fact]:
    """The facts that match; `indicator` may be any wording (「生产总值增速」 = 地区生产总值, growth),
    `city` a full or short name (「铜川」). For `qa.facts(...)` and `python -m qa facts`."""
    if indicator:
        match = match_indicator(indicator)
        if match is None:
            raise ValueError(f"不认识的指标：{indicator}")
        if kind is None and match.kind != load_registry().get(match.name).kinds[0]:
            kind = match.kind  # the wording itself asked for a kind (增速, 占比)
        indicator = match.name
    short = re.sub(r"(?:市|县|区|州|盟|旗)$", "", city) if city else None
    return [f for f in facts
            if (not headline_only or f.headline)
            and (indicator is None or f.indicator == indicator)
            and (short is None or (f.city or "").startswith(short))
            and (period is None or f.period == period)
            and (kind is None or f.kind == kind)]


class _Cites:
    def __init__(self) -> None:
        self.facts: list[Fact] = []

    def mark(self, fact: Fact) -> int:
        if fact not in self.facts:
            self.facts.append(fact)
        return self.facts.index(fact) + 1


class FactTable:
    """The facts grouped by indicator, city and report, so that a question reads the few it needs
    (4.7 M facts at 1000x the reports: one pass over all of them takes seconds)."""

    def __init__(self, facts: list[Fact]):
        self.by_indicator: dict[str, list[Fact]] = {}
        self.by_city: dict[str | None, list[Fact]] = {}
        self.by_doc: dict[str, list[Fact]] = {}
        for f in facts:
            self.by_indicator.setdefault(f.indicator, []).append(f)
            self.by_city.setdefault(f.city, []).append(f)
            self.by_doc.setdefault(f.doc_id, []).append(f)


def answer_from_facts(query: FactQuery, facts: list[Fact] | FactTable) -> FactAnswer | None:
    """A cited answer from the facts, or None when the question names no known indicator."""
    if not query.indicator or load_registry().get(query.indicator) is None:
        return None
    facts = facts if isinstance(facts, FactTable) else FactTable(facts)
    # A rank (「增速排名全省第3位」) is kept under the canonical name but is no headline figure.
    pool = [f for f in facts.by_indicator.get(query.indicator, ()) if (f.headline or query.kind == "rank")
            and f.period == query.period and f.kind == query.kind]
    if not query.cities:
        if query.intent.kind != "rank":
            return None
        return _rank_answer(query, pool, facts, whole_kb=True)
    if query.intent.kind == "rank" and len(query.cities) > 1:
        return _rank_answer(query, pool, facts, whole_kb=False)
    if len(query.cities) > 1:
        return _compare_answer(query, pool, facts)
    return _single_answer(query, pool, facts)


def _city_facts(pool: list[Fact], city: str, new: bool = False) -> list[Fact]:
    """One fact per report, for one city: its first statement, a total before a new count
    (「新增市场主体3.6万户、总量达到30.2万户」 answers 「市场主体有多少」 with the total)."""
    first: dict[str, Fact] = {}
    for f in sorted(pool, key=lambda f: (bool(_shown_name(f, "")) != new, f.start)):
        if f.city == city:
            first.setdefault(f.doc_id, f)
    return list(first.values())


def _distinct(found: list[Fact]) -> list[Fact]:
    """Facts of several reports: identical values collapse, different ones stay (a conflict)."""
    out: list[Fact] = []
    for f in found:
        if not any(_same_value(f, g) for g in out):
            out.append(f)
    return out


def signed_value(f: Fact) -> float:
    """The value with a 下降 as negative, for ordering."""
    return -f.value if f.direction == "down" else f.value


def _same_value(f: Fact, g: Fact) -> bool:
    if f.unit == g.unit:
        return abs(signed_value(f) - signed_value(g)) < 1e-9
    converted = convert(signed_value(f), f.unit, g.unit)
    return converted is not None and abs(converted - signed_value(g)) < 1e-6 * max(1.0, abs(g.value))


def _label(query: FactQuery) -> str:
    ind = load_registry().get(query.indicator)
    suffix = {"growth": "增速", "share": "", "rank": "排位"}.get(query.kind, "")
    if query.kind == "growth" and ind.kinds == ("growth",):
        suffix = ""
    return f"{_period_label(query.period)}{query.indicator}{suffix}"


def _period_label(period: str) -> str:
    if period == MULTI:
        return "过去五年"
    if period.isdigit() and period == "2022":
        return "2022年"
    return f"{period}年" + ("目标" if period.isdigit() and int(period) >= 2023 else "")


def render_value(f: Fact) -> str:
    """「增长4.3%」「2201.1亿元左右」「力争增长6%」: the value as a reader expects it."""
    number = _num(f.value) + (f"—{_num(f.value_max)}" if f.value_max is not None else "")
    if f.kind == "growth":
        body = ("下降" if f.direction == "down" else "增长") + number + f.unit
    elif f.kind == "rank":
        body = f"第{number}位"
    else:  # a change of a level (「民生支出增加47亿元」) has a direction, the level itself none
        body = {"up": "增加", "down": "减少", None: ""}[f.direction] + number + f.unit
    first = [q for q in f.qualifiers if q in _PREFIX_QUALS and q != "扣除…因素" or _PARTIAL_YEAR_RE.fullmatch(q)]
    before = "".join(first)
    after = "".join(q for q in f.qualifiers if q not in _PREFIX_QUALS and q not in first)
    note = "（扣除…因素）" if "扣除…因素" in f.qualifiers else ""
    return before + body + after + note


def _num(x: float) -> str:
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def _single_answer(query: FactQuery, pool: list[Fact], facts: FactTable) -> FactAnswer:
    city = query.cities[0]
    cites = _Cites()
    found = _distinct(_city_facts(pool, city, query.new))
    if not found:
        return _absent_answer(query, city, facts)
    if len(found) > 1:
        text = _conflict_text(query, city, found, cites)
        return FactAnswer(text, tuple(cites.facts), False,
                          tuple(FactRow(city, f.value, f.unit, f.qualifiers, cites.mark(f), "两份报告不一致") for f in found),
                          (tuple(found),))
    f = found[0]
    n = cites.mark(f)
    plan = query.period.isdigit() and int(query.period) == (f.report_year or 2023)
    verb = "的目标是" if plan else ("" if f.kind in ("growth", "rank") else "为")
    rank = "排名" if f.kind == "rank" else ""
    name = _shown_name(f, query.indicator)
    text = f"{city}{_period_label(query.period).removesuffix('目标')}{name}{rank}{verb}{render_value(f)}[{n}]。"
    return FactAnswer(text, tuple(cites.facts), False, (FactRow(city, f.value, f.unit, f.qualifiers, n),))


def _conflict_text(query: FactQuery, city: str, found: list[Fact], cites: _Cites) -> str:
    parts = "；".join(f"《{f.doc_id}》为{render_value(f)}[{cites.mark(f)}]" for f in found)
    return f"知识库中有{len(found)}份报告给出的{city}{_label(query)}不一致：{parts}。请核对原文。"


def _absent_answer(query: FactQuery, city: str, facts: FactTable) -> FactAnswer:
    cites = _Cites()
    label = _label(query)
    if not facts.by_city.get(city):
        return FactAnswer(f"知识库中没有{city}的报告，无法回答{city}{label}。", (), True)
    nearby = _nearby(query, facts.by_city[city])
    text = f"报告没有给出{city}{label}"
    if nearby:
        parts = "，".join(f"{_nearby_label(query, f)}{render_value(f)}[{cites.mark(f)}]" for f in nearby)
        text += f"；报告给出了{parts}"
    return FactAnswer(text + "。", tuple(cites.facts), True)


def _nearby(query: FactQuery, mine: list[Fact], limit: int = 3) -> list[Fact]:
    """What the city's report (its facts: mine) does state near the asked figure: the same indicator
    in another kind or period, then the related indicators, then statistics whose wording shares the topic."""
    ind = load_registry().get(query.indicator)
    same_period = [f for f in mine if f.period == query.period]
    picks: list[Fact] = []
    picks += [f for f in same_period if f.headline and f.indicator == query.indicator]
    picks += [f for f in same_period if not f.headline and f.indicator == query.indicator]  # 「前三季度……」
    picks += [f for f in mine if f.headline and f.indicator == query.indicator and f.period != query.period]
    for name in ind.related:
        picks += [f for f in same_period if f.headline and f.indicator == name]
    topic = _topic_of(query.indicator)
    picks += [f for f in same_period if not f.headline and topic and topic in f.wording]
    out: list[Fact] = []
    for f in picks:
        if f not in out and not any(g.indicator == f.indicator and g.kind == f.kind and g.period == f.period for g in out):
            out.append(f)
    return out[:limit]


def _topic_of(name: str) -> str:
    m = re.search(r"(粮食|旅游|税收|研发|空气|工业|财政|民生|存款|贷款|外资|游客|人口|就业|出口|进出口|消费|投资|收入)", name)
    return m.group(1) if m else ""


def _nearby_label(query: FactQuery, f: Fact) -> str:
    when = "" if f.period == query.period else _period_label(f.period)
    return when + (f.wording if f.headline and f.wording else f.indicator)


def _compare_answer(query: FactQuery, pool: list[Fact], facts: FactTable) -> FactAnswer:
    cites = _Cites()
    parts, rows, conflicts = [], [], []
    for city in query.cities:
        found = _distinct(_city_facts(pool, city, query.new))
        if not found:
            note = "报告未给出" if facts.by_city.get(city) else "知识库中没有该市的报告"
            parts.append(f"{city}{note}")
            rows.append(FactRow(city, None, "", (), None, note))
        elif len(found) > 1:
            values = "、".join(f"《{f.doc_id}》{render_value(f)}[{cites.mark(f)}]" for f in found)
            parts.append(f"{city}两份报告不一致（{values}）")
            rows += [FactRow(city, f.value, f.unit, f.qualifiers, cites.mark(f), "两份报告不一致") for f in found]
            conflicts.append(tuple(found))
        else:
            f = found[0]
            n = cites.mark(f)
            parts.append(f"{city}{_flow(f)}{render_value(f)}[{n}]")
            rows.append(FactRow(city, f.value, f.unit, f.qualifiers, n))
    text = f"{_label(query)}：" + "；".join(parts) + "。"
    stated = [r for r in rows if r.value is not None]
    return FactAnswer(text, tuple(cites.facts), not stated, tuple(rows), tuple(conflicts))


_CN_COUNT = {2: "两", 3: "三", 4: "四", 5: "五", 6: "六", 7: "七", 8: "八", 9: "九", 10: "十"}


def _rank_answer(query: FactQuery, pool: list[Fact], facts: FactTable, whole_kb: bool) -> FactAnswer:
    cities = query.cities or tuple(dict.fromkeys(f.city for f in pool if f.city))
    cites = _Cites()
    stated, missing, conflicts, mixed = _gather(pool, cities, query.new)
    unit, comparable, odd = _common_unit(stated)
    desc = query.intent.order != "asc"
    comparable.sort(key=lambda fv: fv[1], reverse=desc)
    label = _label(query)
    word = "最高" if desc else "最低"
    lines: list[str] = []
    if len(comparable) >= 2 or (whole_kb and comparable):
        best = comparable[0][1]
        tops = [f for f, v in comparable if abs(v - best) < 1e-9]
        scope = "知识库的报告中" if whole_kb else f"{_CN_COUNT.get(len(cities), len(cities))}市中"
        lead = "、".join(f.city for f in tops) + ("并列" if len(tops) > 1 else "") + word
        values = "、".join(f"{_with_unit(f, unit)}[{cites.mark(f)}]" for f in tops)
        lines.append(f"{scope}{lead}：{values}。")
    elif comparable:
        f = comparable[0][0]
        lines.append(f"只有{f.city}的报告给出了{label}：{_with_unit(f, unit)}[{cites.mark(f)}]，无从比较。")
    shown = comparable
    if whole_kb:
        shown = comparable[: query.intent.top_n or 5]
    if len(shown) >= 2:
        order = "从高到低" if desc else "从低到高"
        head = f"{label}{order}" + (f"前{len(shown)}位" if whole_kb else "")
        lines.append(head + "：" + "；".join(
            f"{i}. {f.city} {_with_unit(f, unit)}[{cites.mark(f)}]" for i, (f, _) in enumerate(shown, 1)) + "。")
    lines += _left_out(mixed, odd, conflicts, unit, cites)
    if whole_kb:
        stating = {f.doc_id for f in pool}
        if len(facts.by_doc.keys() - stating):
            lines.append(f"另有{len(facts.by_doc.keys() - stating)}份报告没有给出{label}。")
    elif missing:
        lines.append("、".join(missing) + f"的报告没有给出{label}。")
    rows = tuple(
        [FactRow(f.city, f.value, f.unit, f.qualifiers, cites.mark(f)) for f, _ in shown]
        + [FactRow(f.city, f.value, f.unit, f.qualifiers, cites.mark(f), "单位无法换算") for f in odd]
        + [FactRow(f.city, f.value, f.unit, f.qualifiers, cites.mark(f), "新增数与总量不可比") for f in mixed]
        + [FactRow(f.city, f.value, f.unit, f.qualifiers, cites.mark(f), "两份报告不一致") for g in conflicts for f in g]
        + [FactRow(c, None, "", (), None, "报告未给出") for c in missing]
    )
    if not lines:
        lines.append(f"报告没有给出{'、'.join(cities)}的{label}。")
    return FactAnswer("".join(lines), tuple(cites.facts), not comparable and not odd and not conflicts and not mixed,
                      rows, tuple(conflicts))


def _gather(pool: list[Fact], cities: tuple[str, ...], new: bool) -> tuple[list[Fact], list[str], list[tuple[Fact, ...]], list[Fact]]:
    """Per city: its value, or missing, or a conflict; new counts set apart when others are totals."""
    stated, missing, conflicts = [], [], []
    by_city: dict[str | None, list[Fact]] = {}
    for f in pool:  # once: a whole-knowledge-base ranking at 1000x has 24,000 cities
        by_city.setdefault(f.city, []).append(f)
    for city in cities:
        found = _distinct(_city_facts(by_city.get(city, []), city, new))
        if not found:
            missing.append(city)
        elif len(found) > 1:
            conflicts.append(tuple(found))
        else:
            stated.append(found[0])
    others = [f for f in stated if bool(_shown_name(f, "")) != new]
    mixed = others if 0 < len(others) < len(stated) else []  # new counts do not rank against totals
    set_apart = set(mixed)
    return [f for f in stated if f not in set_apart], missing, conflicts, mixed


def _left_out(mixed: list[Fact], odd: list[Fact], conflicts: list[tuple[Fact, ...]], unit: str, cites: _Cites) -> list[str]:
    """Why some stated values take no part in the comparison, each cited."""
    lines = [f"{f.city}只给出了{f.wording}{render_value(f)}[{cites.mark(f)}]，"
             + ("是新增数，不是总量" if _shown_name(f, "") else "是总量，不是新增数") + "，未参与比较。" for f in mixed]
    lines += [f"{f.city}为{render_value(f)}[{cites.mark(f)}]，单位是{f.unit}，与{unit}之间没有确定的换算，未参与比较。" for f in odd]
    for group in conflicts:
        values = "、".join(f"《{f.doc_id}》{render_value(f)}[{cites.mark(f)}]" for f in group)
        lines.append(f"{group[0].city}有两份报告数字不一致（{values}），未参与比较。")
    return lines


def _shown_name(f: Fact, name: str) -> str:
    """A count says whether it is new or the total: 「新增市场主体」 vs 「市场主体」."""
    return f.wording if f.kind == "count" and f.wording.startswith(("新", "净")) else name


def _flow(f: Fact) -> str:
    return f.wording if _shown_name(f, "") else ""


def _with_unit(f: Fact, unit: str) -> str:
    text = _flow(f) + render_value(f)
    if f.unit != unit and f.kind != "growth":
        converted = convert(signed_value(f), f.unit, unit)
        text += f"（合{_num(round(converted, 6))}{unit}）"
    return text


def _common_unit(stated: list[Fact]) -> tuple[str, list[tuple[Fact, float]], list[Fact]]:
    """The unit most values are in; values converted to it exactly, and those that cannot be."""
    if not stated:
        return "", [], []
    unit = Counter(f.unit for f in stated).most_common(1)[0][0]
    comparable, odd = [], []
    for f in stated:
        v = signed_value(f) if f.unit == unit else convert(signed_value(f), f.unit, unit)
        (odd.append(f) if v is None else comparable.append((f, v)))
    return unit, comparable, odd


def convert(value: float, from_unit: str, to_unit: str) -> float | None:
    """Exact conversion through the registry's [[units]] table; None when there is none."""
    if from_unit == to_unit:
        return value
    factors = _unit_graph(load_registry())
    seen, frontier = {from_unit}, [(from_unit, 1.0)]
    while frontier:
        unit, factor = frontier.pop()
        for nxt, f in factors.get(unit, ()):
            if nxt == to_unit:
                return value * factor * f
            if nxt not in seen:
                seen.add(nxt)
                frontier.append((nxt, factor * f))
    return None


@lru_cache(maxsize=4)
def _unit_graph(registry: Registry) -> dict[str, tuple[tuple[str, float], ...]]:
    graph: dict[str, list[tuple[str, float]]] = {}
    for a, b, f in registry.conversions:
        graph.setdefault(a, []).append((b, f))
        graph.setdefault(b, []).append((a, 1.0 / f))
    return {k: tuple(v) for k, v in graph.items()}
