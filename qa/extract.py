"""Extractive answering (no LLM): pick the sentence spans of the retrieved passages that answer
the question, and decide when the reports do not say.

Each candidate sentence is scored by how much of the question's topic it covers (with the
synonym table), whether it holds the kind of figure asked for (a number, a unit such as 亿元 or
人次), whether its section fits the time asked about (2022 review vs 2023 plans), and by the
retrieval score of its passage. Everything about the question comes from its `Question` record.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .config import AnswerConfig
from .query import FRAME_WORDS, PLAN_WORDS_RE, Question, coverage, coverage_of_reading, readings, section_time, synonyms_of
from .schema import Passage
from .text import split_sentences

_NUMBER_RE = re.compile(r"\d")
_PLAN_SENTENCE_RE = re.compile(r"预期目标|目标|力争|确保|计划|将|要|争取|以上|左右")
_CLAUSE_SPLIT_RE = re.compile(r"(?<=[，,；;：:])")
_DISPLAY_CHARS = 110  # a longer sentence is shown as the clauses around the answer
_FIGURE_RE = re.compile(r"(\d[\d.,]*)\s*(%|‰|个百分点|[^\d\s，,。；;、:：%（(）)]{0,4})")
_PAIRED_SIDES = (("城镇", "农村"),)  # figures reported for each side separately


@dataclass(frozen=True)
class Span:
    passage_index: int  # into the retrieved passages
    start: int  # offsets in the passage's document
    end: int
    score: float
    coverage: float  # share of the question's topic words found
    similarity: float  # the sentence's embedding cosine with the question


def _time_fit(q: Question, passage: Passage, sentence: str) -> float:
    """Reward a sentence from the section of the time asked about (2022 review vs 2023 plans)."""
    if not q.time_focus:
        return 0.0
    kind = section_time(passage.section, passage.year)
    fit = 0.15 * (kind == q.time_focus) - 0.15 * (kind is not None and kind != q.time_focus)
    if q.time_focus == "past":
        return fit - 0.1 * bool(re.search(r"预期目标|力争", sentence))
    return fit + 0.05 * bool(_PLAN_SENTENCE_RE.search(sentence))


def score_sentences(q: Question, passages: list[Passage], similarity: dict, standout: dict,
                    cfg: AnswerConfig) -> list[Span]:
    """Candidate sentences of the passages, best first. `similarity` maps (doc_id, start) of a
    sentence to its embedding cosine with the question, `standout` to how far it stands out as
    meaning one of the question's words that no report uses (a z-score); both from retrieval."""
    # A figure is named by its words (「一般公共预算收入」); a "how" question is paraphrased
    # in the user's own words, so there only meaning counts.
    w_coverage = cfg.w_coverage if q.asks_quantity else cfg.w_coverage_descriptive
    top = max((p.score for p in passages), default=1.0) or 1.0
    spans = []
    for pi, p in enumerate(passages):
        for a, b in split_sentences(p.text):
            sentence = p.text[a:b]
            key = (p.doc_id, p.start + a)
            cov = coverage(sentence, q.topic)
            sim = similarity.get(key, 0.0)
            score = w_coverage * cov + cfg.w_similarity * sim + cfg.w_passage * (p.score / top) - 0.02 * pi
            # Coverage credits the words the reports use; for the others only meaning can.
            z = min(standout.get(key, 0.0), cfg.standout_max_z)
            score += cfg.w_standout * max(0.0, z - cfg.standout_min_z)
            if q.asks_number:
                score += 0.1 if _NUMBER_RE.search(sentence) else -0.3
            if q.unit:
                score += 0.1 if q.unit in sentence else -0.1
            score += cfg.time_weight * _time_fit(q, p, sentence)
            if len(sentence) < cfg.min_answer_chars and not _NUMBER_RE.search(sentence):
                score -= 1.0  # 「各位代表!」「行程万里,不忘初心。」 carry no answer; 「新增就业1.2万人。」 does
            spans.append(Span(pi, p.start + a, p.start + b, score, cov, sim))
    return sorted(spans, key=lambda s: -s.score)


def states_figure(sentence: str, q: Question, min_coverage: float) -> bool:
    """Does the sentence give a figure for the topic, of the kind asked? 「快递业务量是多少」 needs an
    amount right after 快递业务量 (not just its growth rate); 「增长多少」 accepts a percentage."""
    terms = [t for t in q.topic if t not in FRAME_WORDS]
    # Most named aspects must be there, and not the other side of a pair: the rural figure does
    # not answer 「城镇居民的人均消费支出」, though 人均消费支出 is half that topic.
    return bool(terms) and any(coverage_of_reading(norm, terms) >= min_coverage and not _other_side(norm, terms)
                               and _figure_follows(norm, terms, q.asks_rate, dict(q.modifiers)) for norm in readings(sentence))


def _other_side(norm: str, terms: list[str]) -> bool:
    """Does the sentence name only the other side of a pair the question names one side of?"""
    asked = "".join(form for t in terms for form in synonyms_of(t))
    return any(mine in asked and other in norm and mine not in norm
               for pair in _PAIRED_SIDES for mine, other in (pair, pair[::-1]))


def _figure_follows(norm: str, terms: list[str], want_rate: bool, modifiers: dict[str, str]) -> bool:
    """Does a figure follow one of the terms? A term the question writes after another (产量 in
    原煤产量) names the figure only with that one in the same clause."""
    for term in terms:
        for form in synonyms_of(term):
            pos = norm.find(form)
            while pos >= 0:
                if term in modifiers and not _named_in_clause(norm, pos, modifiers[term]):
                    pos = norm.find(form, pos + 1)
                    continue  # 「蔬菜产量4.8万吨」 is no 原煤产量
                window = norm[pos + len(form) : pos + len(form) + 24]
                for m in _FIGURE_RE.finditer(window):
                    is_rate = m.group(2).startswith(("%", "‰", "个百分点"))
                    if want_rate or not is_rate:
                        return True
                    break  # the first figure after the term is the one that belongs to it
                pos = norm.find(form, pos + 1)
    return False


def _named_in_clause(norm: str, pos: int, word: str) -> bool:
    """Is the word (or a synonym) in the clause that runs up to pos?"""
    start = max(norm.rfind(c, 0, pos) for c in "，,；;。：:") + 1
    return any(form in norm[start:pos] for form in synonyms_of(word))


def answer_spans(q: Question, spans: list[Span], passages: list[Passage], cfg: AnswerConfig, limit: int = 10) -> list[Span]:
    """The spans that can answer: for a question asking for a figure, only sentences that state
    that figure (and, for last year's figure, not this year's target)."""
    if not q.asks_quantity:
        return spans
    return [span for span in spans[:limit] if not other_year(q, passages[span.passage_index])
            and not plan_for_past(q, sentence := text_of(span, passages))
            and states_figure(sentence, q, cfg.min_figure_coverage) and counts_in(sentence, q.unit, classifiers=False)]


def other_year(q: Question, passage: Passage) -> bool:
    """Is the passage in the part of the report about the other year than the one asked (the
    2023 plans for last year's figure, the 2022 review for this year's target)?"""
    kind = section_time(passage.section, passage.year)
    return q.time_focus is not None and kind is not None and kind != q.time_focus


def text_of(span: Span, passages: list[Passage]) -> str:
    p = passages[span.passage_index]
    return p.text[span.start - p.start : span.end - p.start]


def plan_for_past(q: Question, sentence: str) -> bool:
    """A target (「力争……」) cannot answer what last year's figure was."""
    return q.time_focus == "past" and not q.asks_target and bool(PLAN_WORDS_RE.search(sentence))


def paraphrased_figure_span(q: Question, spans: list[Span], passages: list[Passage], similarity: dict,
                            cfg: AnswerConfig, limit: int = 10) -> Span | None:
    """A figure question in words the reports never use (「挖空了的地」「念书的位子」) cannot pass
    the lexical check of `answer_spans`, whatever the reports say. Its best sentence with a figure
    is accepted when its meaning stands out from the rest of the report (cfg.paraphrase_min_z).
    Only for such questions (`Question.unfamiliar`); a question in the reports' own words
    (「快递业务量」) keeps the lexical check alone.

    Only when the passages come from one report: one sentence cannot answer for several. With the
    report named (or chosen as a filter), `similarity` holds all of its sentences; without, it holds
    the nearest candidates from everywhere, which only makes the outlier test stricter."""
    if len({p.city for p in passages}) != 1 or len(q.cities) > 1:
        return None
    sims = np.fromiter(similarity.values(), dtype=np.float32)
    if len(sims) < cfg.min_sentences_for_z or float(sims.std()) == 0.0:
        return None
    for span in spans[:limit]:
        sentence = text_of(span, passages)
        if _NUMBER_RE.search(sentence) and not plan_for_past(q, sentence) and not other_year(q, passages[span.passage_index]):
            z = (span.similarity - float(sims.mean())) / float(sims.std())
            return span if z >= cfg.paraphrase_min_z and counts_in(sentence, q.unit) else None
    return None


# Money, people and measures are counted in their unit only; any other thing may also be counted
# with 个, the general classifier (「多少处工程」: 「26个工程」; 「几天」: 「1个工作日」).
_MEASURES = ("元", "人", "人次", "个百分点", "公里", "吨", "亩", "平方米", "倍")


def counts_in(sentence: str, unit: str | None, classifiers: bool = True) -> bool:
    """Does the sentence give a figure in the unit asked (「多少户」: 「1159户」, 「多少钱」: 「776.22万元」)?
    Without `classifiers` only money, people and measures are checked: reports count one thing with
    several classifiers (企业 in 家 or 户), which a sentence that names the topic can be trusted with."""
    measure = unit is not None and unit.endswith(_MEASURES)
    if unit is None or not (measure or classifiers):
        return True
    forms = unit.lstrip("万亿") if measure else f"{unit}|个"  # 「多少万元」: 「1.5亿元」 says it too
    return re.search(rf"\d[\d.]*[万亿]?(?:{forms})", sentence) is not None


def display_span(passage: Passage, span: Span, terms: tuple[str, ...]) -> tuple[int, int]:
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
