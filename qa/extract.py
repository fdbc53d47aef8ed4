"""Extractive answering (no LLM): pick the sentence spans of the retrieved passages that answer
the question, and decide when the reports do not say.

Each candidate sentence is scored by how much of the question's topic it covers (with the
synonym table), whether it holds the kind of figure asked for (a number, a unit such as 亿元 or
人次), whether its section fits the time asked about (2022 review vs 2023 plans), and by the
retrieval score of its passage.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .chunking import split_sentences_zh
from .keywords import STOPWORDS, join_noun_suffixes, normalize_zh, tokenize_zh
from .query import TIME_WORDS_RE, QueryAnalysis, section_time, strip_cities, synonym_groups
from .schema import Passage

_ASKS_NUMBER_RE = re.compile(r"多少|几[个家项所处条万亿年次位]?|多大|多高|多长|多快|排第|第几|比例|比重|占比|增长|增速|下降|提高|率|达到|规模|总量|产值|收入")
_UNIT_RE = re.compile(r"多少(亿元|万元|元|万人次|人次|万人|人|个百分点|天|家|个|公里|万吨|吨|亩|万亩|套|所|户|倍)")
_NUMBER_RE = re.compile(r"\d")
_PLAN_SENTENCE_RE = re.compile(r"预期目标|目标|力争|确保|计划|将|要|争取|以上|左右")
_CLAUSE_SPLIT_RE = re.compile(r"(?<=[，,；;：:])")
_DISPLAY_CHARS = 110  # a longer sentence is shown as the clauses around the answer
W_COVERAGE, W_SIMILARITY, W_PASSAGE = 0.5, 3.0, 0.25  # dev grid: similarity picks paraphrased sentences best
W_COVERAGE_DESCRIPTIVE = 0.2
# A sentence that stands out as meaning a question word no report uses (z of its cosine with the
# word alone, among its report's sentences) gains W_STANDOUT per standard deviation above
# STANDOUT_MIN_Z, counted up to STANDOUT_MAX_Z: a nudge among near-equal sentences, not enough to
# turn a refusal into an answer. Measured in docs/measurements.md.
W_STANDOUT, STANDOUT_MIN_Z, STANDOUT_MAX_Z = 0.04, 2.0, 4.0
TIME_WEIGHT = 1.0
MIN_ANSWER_CHARS = 12

# Question words and filler that say nothing about the topic.
_QUESTION_FILLER = re.compile(r"多少|多大|多高|几|什么|哪些|哪个|哪|怎样|怎么样?|如何|为什么|是否|有没有|具体|大概|分别|呢|吗|请问|情况")


@dataclass
class Span:
    passage_index: int  # into the retrieved passages
    start: int  # offsets in the passage's document
    end: int
    score: float
    coverage: float  # share of the question's topic words found
    similarity: float  # the sentence's embedding cosine with the question


def _synonyms_of(token: str) -> list[str]:
    for group in synonym_groups():
        if token in group:
            return group
    return [token]


def topic_terms(question: str, analysis: QueryAnalysis) -> list[str]:
    """The question's content words: no city names, years, question words or stopwords."""
    text = strip_cities(question, analysis.cities)
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


def _readings(sentence: str) -> list[str]:
    """The sentence as topic terms are matched against it. 「城乡居民人均消费支出分别为31200元、
    17400元」 gives the 城镇 and the 农村 figure at once, so it is also read as each of them."""
    norm = normalize_zh(sentence)
    if "城乡" in norm and "分别" in norm:
        return [norm, norm.replace("城乡", "城镇"), norm.replace("城乡", "农村")]
    return [norm]


def coverage(sentence: str, terms: list[str]) -> float:
    """Share of the topic (weighted by term length) found in the sentence, synonyms counted."""
    if not terms:
        return 0.0
    return max(_coverage(norm, terms) for norm in _readings(sentence))


def _coverage(norm: str, terms: list[str]) -> float:
    total = found = 0.0
    for term in terms:
        weight = min(len(term), 4)
        total += weight
        if any(s in norm for s in _synonyms_of(term)):
            found += weight
        elif len(term) >= 3 and sum(ch in norm for ch in term) / len(term) >= 0.5:
            found += 0.5 * weight  # half the characters or more: a near paraphrase (超载/超限超载, 工业园区/园区)
    return found / total


def _time_fit(analysis: QueryAnalysis, section: str, sentence: str) -> float:
    """Reward a sentence from the section of the time asked about (2022 review vs 2023 plans)."""
    if not analysis.time_focus:
        return 0.0
    kind = section_time(section)
    fit = 0.15 * (kind == analysis.time_focus) - 0.15 * (kind is not None and kind != analysis.time_focus)
    if analysis.time_focus == "past":
        return fit - 0.1 * bool(re.search(r"预期目标|力争", sentence))
    return fit + 0.05 * bool(_PLAN_SENTENCE_RE.search(sentence))


def score_sentences(question: str, analysis: QueryAnalysis, passages: list[Passage], similarity: dict,
                    standout: dict | None = None) -> list[Span]:
    """Candidate sentences of the passages, best first. `similarity` maps (doc_id, start) of a
    sentence to its embedding cosine with the question, `standout` to how far it stands out as
    meaning one of the question's words that no report uses (a z-score); both from retrieval."""
    standout = standout or {}
    terms = topic_terms(question, analysis)
    # 「怎样让农民收入更稳」 asks for a measure, not for a figure of 收入; 「……一年省下多少？」 does.
    asks_number = bool(_ASKS_QUANTITY_RE.search(question) or _ASKS_NUMBER_RE.search(question) and not asks_method(question))
    # A figure is named by its words (「一般公共预算收入」); a "how" question is paraphrased
    # in the user's own words, so there only meaning counts.
    w_coverage = W_COVERAGE if asks_quantity(question) else W_COVERAGE_DESCRIPTIVE
    unit = _UNIT_RE.search(question)
    top = max((p.score for p in passages), default=1.0) or 1.0
    spans = []
    for pi, p in enumerate(passages):
        for a, b in split_sentences_zh(p.text):
            sentence = p.text[a:b]
            cov = coverage(sentence, terms)
            sim = similarity.get((p.doc_id, p.start + a), 0.0)
            score = w_coverage * cov + W_SIMILARITY * sim + W_PASSAGE * (p.score / top) - 0.02 * pi
            # Coverage credits the words the reports use; for the others only meaning can.
            z = min(standout.get((p.doc_id, p.start + a), 0.0), STANDOUT_MAX_Z)
            score += W_STANDOUT * max(0.0, z - STANDOUT_MIN_Z)
            if asks_number:
                score += 0.1 if _NUMBER_RE.search(sentence) else -0.3
            if unit:
                score += 0.1 if unit.group(1) in sentence else -0.1
            score += TIME_WEIGHT * _time_fit(analysis, p.section, sentence)
            if len(sentence) < MIN_ANSWER_CHARS and not _NUMBER_RE.search(sentence):
                score -= 1.0  # 「各位代表!」「行程万里,不忘初心。」 carry no answer; 「新增就业1.2万人。」 does
            spans.append(Span(pi, p.start + a, p.start + b, score, cov, sim))
    return sorted(spans, key=lambda s: -s.score)


_ASKS_QUANTITY_RE = re.compile(r"多少|多大|多高|多长|(?<!哪)几[个家项所处条万亿位]?|第几|排名")
# Verbs and measure words that frame a figure question without naming what is measured.
MIN_FIGURE_COVERAGE = 0.5  # half the topic; on dev, unanswerables' best figure sentences cover ≤ 0.43
_FRAME_WORDS = frozenset("完成 达到 实现 全年 具体 平均 做到 想做到 打算 计划 准备 提出 新建 引进 安排 "
                         "其中 以上 规模 现在 当年 累计 目标 要求 提高 增长 下降 比上年 涨 分别 一共 总共 共 "
                         "提到 提高到 增加到 增长到 增至 突破 超过 "
                         "亿元 万元 人次 万人次 万人 公里 千米 万吨 万亩 平方米 万平方米".split())
_ASKS_RATE_RE = re.compile(r"率|比例|比重|占比|强度|增长|增速|涨|下降|提高|百分点|差距|比")
_FIGURE_RE = re.compile(r"(\d[\d.,]*)\s*(%|‰|个百分点|[^\d\s，,。；;、:：%（(）)]{0,4})")
_PLAN_WORDS_RE = re.compile(r"力争|预期目标|确保|计划|争取|目标")


# A "how" question asks for a measure: 「怎么/怎样/如何」 before a verb, 「什么/哪些办法、措施……」,
# 「措施有哪些」, 「靠什么」. Not: 「怎么样」「情况怎样？」「增速如何呢」「是怎样的」 (an outcome or a
# figure), 「如何评价」「怎么看」 (an opinion), 「什么招商项目」.
_METHOD_NOUNS = r"(?:办法|措施|举措|做法|方法|方式|途径|手段|新招|高招|妙招|招数|招(?![商聘生标牌工募才引]))"
_ASKS_METHOD_RE = re.compile(
    r"(?:怎么|怎样|如何)(?![样的了呢啊吧呀嘛么]|评价|看|回事)(?=[\u4e00-\u9fff])"
    rf"|(?:什么|哪些|哪种){_METHOD_NOUNS}|{_METHOD_NOUNS}(?:是|有)(?:什么|哪些)|靠什么")


def asks_method(question: str) -> bool:
    return bool(_ASKS_METHOD_RE.search(question))


def asks_quantity(question: str) -> bool:
    """A figure is asked for, and not as part of a "how" question (「怎么帮企业减负？一年减了多少？」
    is answered by the measure, with its figure)."""
    return bool(_ASKS_QUANTITY_RE.search(question)) and not asks_method(question)


def states_figure(sentence: str, terms: list[str], question: str) -> bool:
    """Does the sentence give a figure for the topic, of the kind asked? 「快递业务量是多少」 needs an
    amount right after 快递业务量 (not just its growth rate); 「增长多少」 accepts a percentage."""
    want_rate = bool(_ASKS_RATE_RE.search(question))
    terms = [t for t in terms if t not in _FRAME_WORDS]
    # Most named aspects must be there, and not the other side of a pair: the rural figure does
    # not answer 「城镇居民的人均消费支出」, though 人均消费支出 is half that topic.
    return bool(terms) and any(_coverage(norm, terms) >= MIN_FIGURE_COVERAGE and not _other_side(norm, terms)
                               and _figure_follows(norm, terms, want_rate) for norm in _readings(sentence))


_PAIRED_SIDES = (("城镇", "农村"),)  # figures reported for each side separately


def _other_side(norm: str, terms: list[str]) -> bool:
    """Does the sentence name only the other side of a pair the question names one side of?"""
    asked = "".join(form for t in terms for form in _synonyms_of(t))
    return any(mine in asked and other in norm and mine not in norm
               for pair in _PAIRED_SIDES for mine, other in (pair, pair[::-1]))


def _figure_follows(norm: str, terms: list[str], want_rate: bool) -> bool:
    for term in terms:
        for form in _synonyms_of(term):
            pos = norm.find(form)
            while pos >= 0:
                window = norm[pos + len(form) : pos + len(form) + 24]
                for m in _FIGURE_RE.finditer(window):
                    unit = m.group(2)
                    is_rate = unit.startswith(("%", "‰", "个百分点"))
                    if want_rate or not is_rate:
                        return True
                    break  # the first figure after the term is the one that belongs to it
                pos = norm.find(form, pos + 1)
    return False


def answer_spans(question: str, analysis: QueryAnalysis, spans: list[Span], passages: list[Passage], limit: int = 10) -> list[Span]:
    """The spans that can answer: for a question asking for a figure, only sentences that state
    that figure (and, for last year's figure, not this year's target)."""
    if not asks_quantity(question):
        return spans
    terms = topic_terms(question, analysis)
    usable = []
    for span in spans[:limit]:
        sentence = _text(span, passages)
        if not _plan_for_past(question, analysis, sentence) and states_figure(sentence, terms, question):
            usable.append(span)
    return usable


def _text(span: Span, passages: list[Passage]) -> str:
    p = passages[span.passage_index]
    return p.text[span.start - p.start : span.end - p.start]


def _plan_for_past(question: str, analysis: QueryAnalysis, sentence: str) -> bool:
    """A target (「力争……」) cannot answer what last year's figure was."""
    return analysis.time_focus == "past" and not _PLAN_WORDS_RE.search(question) and bool(_PLAN_WORDS_RE.search(sentence))


# A figure sentence whose similarity to the question lies this many standard deviations above
# that of the report's other sentences. Over dev and eval/*_extra.jsonl, 4.0 answers 16
# questions this way, 15 rightly, and no unanswerable one; lower values answer more wrongly
# (docs/measurements.md).
PARAPHRASE_MIN_Z = 4.0
MIN_SENTENCES_FOR_Z = 30  # fewer sentences do not tell an outlier from the rest


def unfamiliar_words(question: str, analysis: QueryAnalysis, reports_use: Callable[[str], bool]) -> list[str]:
    """The question's topic words that no report uses, nor any synonym of them (「遛弯」「挖空」):
    only their meaning can match a sentence."""
    return [t for t in topic_terms(question, analysis)
            if t not in _FRAME_WORDS and not any(reports_use(form) for form in _synonyms_of(t))]


def paraphrased_figure_span(question: str, analysis: QueryAnalysis, spans: list[Span], passages: list[Passage],
                            similarity: dict, limit: int = 10) -> Span | None:
    """A figure question in words the reports never use (「挖空了的地」「念书的位子」) cannot pass
    the lexical check of `answer_spans`, whatever the reports say. Its best sentence with a figure
    is accepted when its meaning stands out from the rest of the report (PARAPHRASE_MIN_Z). Only
    for such questions (`unfamiliar_words`); a question in the reports' own words (「快递业务量」)
    keeps the lexical check alone.

    Only when the passages come from one report: one sentence cannot answer for several. With the
    report named (or chosen as a filter), `similarity` holds all of its sentences; without, it holds
    the nearest candidates from everywhere, which only makes the outlier test stricter."""
    if len({p.city for p in passages}) != 1 or len(analysis.cities) > 1:
        return None
    sims = np.fromiter(similarity.values(), dtype=np.float32)
    if len(sims) < MIN_SENTENCES_FOR_Z or float(sims.std()) == 0.0:
        return None
    for span in spans[:limit]:
        sentence = _text(span, passages)
        if _NUMBER_RE.search(sentence) and not _plan_for_past(question, analysis, sentence):
            return span if (span.similarity - float(sims.mean())) / float(sims.std()) >= PARAPHRASE_MIN_Z else None
    return None


def display_span(passage: Passage, span: Span, terms: list[str]) -> tuple[int, int]:
    """The part of a long sentence worth showing: the best clause and its neighbours."""
    a, b = span.start - passage.start, span.end - passage.start
    sentence = passage.text[a:b]
    if len(sentence) <= _DISPLAY_CHARS:
        return span.start, span.end
    clauses, pos = [], a
    for part in _CLAUSE_SPLIT_RE.split(sentence):
        if part:
            clauses.append((pos, pos + len(part)))
            pos += len(part)
    scored = [coverage(passage.text[s:e], terms) + 0.2 * bool(_NUMBER_RE.search(passage.text[s:e])) for s, e in clauses]
    best = max(range(len(clauses)), key=lambda i: scored[i])
    lo = hi = best
    while clauses[hi][1] - clauses[lo][0] < _DISPLAY_CHARS * 0.6 and (lo > 0 or hi < len(clauses) - 1):
        # Grow towards the side that covers more of the topic; figures usually follow their label.
        if hi < len(clauses) - 1 and (lo == 0 or scored[hi + 1] >= scored[lo - 1]):
            hi += 1
        else:
            lo -= 1
    s, e = clauses[lo][0], clauses[hi][1]
    while e > s and passage.text[e - 1] in "，,；;：:":
        e -= 1
    return passage.start + s, passage.start + e
