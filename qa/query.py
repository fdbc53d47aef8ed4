"""Query understanding without an LLM: which report a question is about, relative years, and
the domain's common paraphrases (see synonyms.txt)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .keywords import normalize_zh

SYNONYMS_FILE = Path(__file__).with_name("synonyms.txt")
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


@dataclass
class QueryAnalysis:
    question: str
    cities: list[str] = field(default_factory=list)  # KB cities the question names
    unknown_places: list[str] = field(default_factory=list)  # 「XX市」 named but not in the KB
    years: list[int] = field(default_factory=list)  # years the question refers to
    keyword_text: str = ""  # question + resolved years + synonyms, for BM25
    time_focus: str | None = None  # "past" (the year under review) or "plan" (the report's year)
    # The question without the city names, for a dense search inside their reports. Relative years
    # stay as asked: written as 「2023年」 they pulled the query towards the reports' generic year
    # sentences (「2023年是……开局之年」); the section priors use the year instead.
    scoped_dense_text: str = ""


def resolve_cities(names: list[str], cities: list[str]) -> list[str]:
    """Explicit filters as the user wrote them (「彬州」「彬州市」) -> knowledge-base cities."""
    found = find_cities(" ".join(names), cities)
    if not found:
        raise ValueError(f"知识库中没有这些城市的报告：{'、'.join(names)}（已有：{'、'.join(cities) or '无'}）")
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


def analyze(question: str, cities: list[str], default_year: int | None) -> QueryAnalysis:
    """Cities, years and expanded query texts for one (standalone) question."""
    named = find_cities(question, cities)
    known = {a for c in cities for a in city_aliases(c)}
    unknown = [
        m.group(0).lstrip("在和与跟比及") for m in _PLACE_RE.finditer(question)
        if m.group(1) not in _NOT_PLACES and m.group(1)[-1] not in _NOT_PLACES and m.group(0) not in known and m.group(1) not in known
        and not any(a in m.group(0) for a in known)
    ]
    base_year = default_year
    years = [int(y) for y in re.findall(r"((?:19|20)\d{2})年", question)]
    extra: list[str] = []
    if base_year:
        for word, delta in _RELATIVE_YEARS.items():
            if word in question:
                year = base_year + delta
                years.append(year)
                extra.append(f"{year}年")
    extra.extend(expand_synonyms(question))
    focus = None
    if base_year and years:
        past, plan = any(y < base_year for y in years), any(y >= base_year for y in years)
        focus = "past" if past and not plan else "plan" if plan and not past else None
    return QueryAnalysis(
        question=question,
        cities=named,
        unknown_places=unknown if not named else [],
        years=sorted(set(years)),
        keyword_text=" ".join([question, *extra]),
        time_focus=focus,
        scoped_dense_text=strip_cities(question, named) or question,
    )


_PAST_SECTION_RE = re.compile(r"回顾|过去|一年来|去年|(?:19|20)\d{2}年(?:工作)?(?:回顾|总结)")
_PLAN_SECTION_RE = re.compile(r"安排|目标|任务|重点工作|思路|今年|计划")


def section_time(section: str) -> str | None:
    """Whether a section reviews the past year ("past") or sets this year's plans ("plan")."""
    if _PAST_SECTION_RE.search(section):
        return "past"
    if _PLAN_SECTION_RE.search(section):
        return "plan"
    return None
