"""`ask` / `ask_stream`: a question -> its record -> passages -> an Answer whose [n] markers cite
spans of them.

Extractive by default (instant, no LLM): the answer is made of sentence spans copied from the
passages, so every figure in it is in a cited passage. With a chat model configured
(`QA_LLM`), the LLM writes the answer from the same passages and it is verified (markers,
numbers) before it is shown; a failing answer is repaired or replaced by the extractive one.
Whether the reports answer at all is decided first, from retrieval and span signals.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from .config import AnswerConfig, Config, from_env
from .conversation import rewrite_followup
from .errors import ConfigError
from .extract import Span, answer_spans, display_span, paraphrased_figure_span, score_sentences
from .facts import FactAnswer, FactQuery, answer_from_facts, load_registry
from .generic_answer import generic_answer
from .kinds import GENERIC
from .pipeline import get_embedder, open_kb
from .query import Question, analyze, check_k, check_question
from .retrieval import search, to_passages, word_standout
from .schema import Answer, Citation, History, Passage

log = logging.getLogger(__name__)

REFUSAL = "报告中没有找到{topic}的相关内容。"
PARAPHRASE_NOTE = "报告没有用问题里的说法；这是意思最接近、带数字的原文，请核对。"


def _refusal(q: Question, reason: str = "") -> str:
    lowered = q.text.lower()
    # Topic terms are normalised (lower case); show them as the user wrote them (「GDP」).
    terms = [q.text[i : i + len(t)] if (i := lowered.find(t)) >= 0 else t for t in q.topic]
    where = "、".join(q.cities)
    topic = f"{where}{''.join(terms[:3])}" if (where or terms) else "这个问题"
    return REFUSAL.format(topic=f"“{topic}”") + (f"（{reason}）" if reason else "")


def _refused(q: Question, passages: list[Passage], reason: str = "") -> Answer:
    return Answer(_refusal(q, reason), refused=True, related=passages[:3], question=q.text)


def _choose(q: Question, spans: list[Span], cfg: AnswerConfig) -> list[Span]:
    """The best span, and the ones worth adding to it. A figure question gets a second span when
    it covers the topic as well and scores almost as high (it may ask two things: 「是多少？比上年
    涨了多少？」). A "how" question gets up to three sentences: the best of another passage, and any
    within descriptive_margin of the best (measures are rarely one sentence, and among near-equal
    sentences the scores cannot tell which one says it). None scores below min_span_score."""
    best = spans[0]
    chosen = [best]
    descriptive = not q.asks_quantity
    for s in spans[1:8]:
        if len(chosen) == (cfg.descriptive_spans if descriptive else 2) or s.score < cfg.min_span_score:
            break
        if descriptive:
            first_elsewhere = s.passage_index != best.passage_index and all(c.passage_index == best.passage_index for c in chosen)
            close = s.score >= best.score - cfg.descriptive_margin or first_elsewhere
        else:
            close = s.score >= best.score - 0.1 and s.coverage >= best.coverage
        if close and not any(c.passage_index == s.passage_index and abs(c.start - s.start) < 5 for c in chosen):
            chosen.append(s)
    return chosen


def _compose(q: Question, chosen: list[Span], passages: list[Passage]) -> tuple[str, list[Citation]]:
    """The answer text (snippets with [n]) and its citations, each carrying the spans it quotes."""
    cited: dict[int, list[tuple[int, int]]] = {}  # passage index -> spans, in order of first citation
    parts = []
    first_title = passages[chosen[0].passage_index].title
    for span in chosen:
        passage = passages[span.passage_index]
        start, end = display_span(passage, span, q.topic)
        while end > start and passage.text[end - 1 - passage.start] in "。；;，,":
            end -= 1
        cited.setdefault(span.passage_index, []).append((start, end))
        # Each snippet names its report when they differ (「彬州和泸州去年GDP分别是多少？」).
        source = f"据《{passage.title}》：" if not parts or passage.title != first_title else ""
        marker = list(cited).index(span.passage_index) + 1
        parts.append(f"{source}{passage.text[start - passage.start : end - passage.start]}[{marker}]")
    citations = [Citation(passages[i], tuple(sorted(spans))) for i, spans in cited.items()]
    return "；".join(parts) + "。", citations


@dataclass(frozen=True)
class Evidence:
    """What the answer step works from: the analysed question, the passages retrieved, and two
    signals per sentence of them, keyed by (doc_id, start)."""

    question: Question
    passages: list[Passage]
    similarity: dict  # cosine with the question
    standout: dict  # z-score as meaning a question word no report uses (see word_standout)


def extractive_answer(e: Evidence, cfg: AnswerConfig = AnswerConfig()) -> Answer:
    """The best answering span(s), cited; or a refusal with the closest passages as related.
    When the best passage comes from a generic document (not a report), the generic reader answers."""
    q, passages = e.question, e.passages
    if passages and passages[0].kind == GENERIC:
        return generic_answer(q.text, passages)
    if q.unknown_places:
        return _refused(q, passages, f"知识库中没有{'、'.join(q.unknown_places)}的报告")
    scored = score_sentences(q, passages, e.similarity, e.standout, cfg)
    spans = answer_spans(q, scored, passages, cfg)
    note = ""
    if not spans and q.unfamiliar and q.asks_quantity:
        paraphrased = paraphrased_figure_span(q, scored, passages, e.similarity, cfg)
        spans, note = ([paraphrased], PARAPHRASE_NOTE) if paraphrased else ([], "")
    if not spans or spans[0].score < cfg.min_span_score:
        return _refused(q, passages)
    text, citations = _compose(q, _choose(q, spans, cfg), passages)
    return Answer(text=text, citations=citations, question=q.text, mode="extractive", note=note)


def fact_answer(q: Question, kb, from_passages: Answer) -> Answer | None:
    """The answer from the reports' facts table, when the question asks for a headline statistic
    and the facts decide better than sentence matching: several cities, a ranking, a figure the
    passages miss, or one the report does not state while the passage answer quotes other figures
    (said so, with what the report does state nearby). Otherwise the passage answer stands: it
    already states the figure, the question asks about more than the indicator, or the answer
    names the indicator in words no figure was read from (「力争高于全省1个百分点」)."""
    asks_figure = q.asks_quantity or q.asks_number or q.intent.kind != "single"
    if q.indicator is None or q.unknown_places or not asks_figure:
        return None
    found = _facts_for(q, kb)
    if found is None:
        return None
    if len(q.scope) == 1 and not q.only_the_indicator:
        return None
    if len(q.scope) == 1 and not from_passages.refused:
        if found.refused and not _quotes_only_other_figures(kb, from_passages, q.indicator):
            return None
        stated = (kb.documents[f.doc_id].text[f.start : f.end] for f in found.facts)  # as the report writes it
        if not found.refused and all(value in from_passages.text for value in stated):
            return None
    return _with_citations(q, found, kb, from_passages)


def _facts_for(q: Question, kb) -> FactAnswer | None:
    """The facts answer for the kind asked; a question that names no kind (「财政收入今年的目标？」)
    takes the first kind the report states."""
    found = answer_from_facts(FactQuery(q.indicator, q.value_kind, q.scope, q.period, q.intent), kb.fact_table)
    if found is None or not found.refused or q.kind_named:
        return found
    for kind in load_registry().get(q.indicator).kinds:
        other = answer_from_facts(FactQuery(q.indicator, kind, q.scope, q.period, q.intent), kb.fact_table)
        if other is not None and not other.refused:
            return other
    return found


# A wording states a figure when a number follows it in its clause, or opens the next one that goes
# on with a verb: 「地区生产总值增速力争高于全省1个百分点」「地区生产总值突破千亿元大关,达1000.24亿元」
# do, 「进出口总额实现正增长,地方一般公共预算收入增长5.5%」 and 「进出口商品展销中心」 do not.
_NUMBER_IN_CLAUSE = r"[^，。；！？,;!?\n]{0,20}?(?:[，,](?:达到|达|为|完成|实现|增长))?\d"


def _quotes_only_other_figures(kb, answer: Answer, indicator: str) -> bool:
    """Does the passage answer quote no figure of the asked indicator: only figures the extractor
    read of another period or kind, or of others that name it only as a sub-item (「跨境电商进出口」
    for 进出口总额) or not at all (粮食种植面积 for 粮食总产量), or no figure at all after its name?
    A wording with a number after it that the extractor could not read states it."""
    spans = [(c.passage.doc_id, a, b) for c in answer.citations for a, b in c.spans]
    cited = [f for d, a, b in spans for f in kb.fact_table.by_doc.get(d, ()) if a <= f.start and f.end <= b]
    quoted = "。".join(t for c in answer.citations for t in c.quoted())
    stating = [w for w in load_registry().get(indicator).wordings if re.search(re.escape(w) + _NUMBER_IN_CLAUSE, quoted)]
    return all(any(f.indicator == indicator or w in f.wording and not f.wording.startswith(w) for f in cited) for w in stating)


def _with_citations(q: Question, found: FactAnswer, kb, from_passages: Answer) -> Answer:
    """A facts answer as an Answer: each cited fact's sentence is the span of its passage."""
    citations = []
    for f in found.facts:
        passage = kb.passage_at(f.doc_id, f.sentence_start)
        citations.append(Citation(passage, ((f.sentence_start, min(f.sentence_end, passage.end)),)))
    rows = [{"city": r.city, "value": r.value, "unit": r.unit, "qualifiers": list(r.qualifiers), "marker": r.marker,
             "note": r.note} for r in found.rows]
    # A refusal cites what the report does state nearby (「报告给出了粮食种植面积21.84万亩[1]」), and
    # shows the closest passages when it states nothing nearby.
    related = (from_passages.related or [c.passage for c in from_passages.citations]) if found.refused and not citations else []
    return Answer(found.text, citations, refused=found.refused, related=related, question=q.text, mode="facts", rows=rows)


def gather(text: str, k: int, city, kb, embedder, config: Config) -> Evidence:
    """Analyse a standalone question once, retrieve its k passages and their sentence signals."""
    q = analyze(text, kb.cities, kb.default_year, kb.uses, [city] if isinstance(city, str) else city)
    result = search(kb, embedder, q, k, config.retrieval)
    srows = list(result.sentence_sims)
    similarity, standout = {}, {}
    generic = bool(result.hits) and kb.passages[result.hits[0].row].kind == GENERIC  # read by generic_answer
    z_scores = word_standout(kb, embedder, () if generic else q.unfamiliar, srows, config.retrieval.max_standout_words,
                             config.answer.min_sentences_for_z)
    for srow, z in zip(srows, z_scores):
        row, start, _ = kb.sentences[srow]
        key = (kb.passages[row].doc_id, int(start))
        similarity[key], standout[key] = result.sentence_sims[srow], z
    return Evidence(q, to_passages(kb, result.hits), similarity, standout)


def ask(question: str, history: History | None = None, k: int | None = None, city: str | list[str] | None = None,
        kb_dir: str | Path | None = None, mode: str = "auto", config: Config | None = None) -> Answer:
    """Answer a question from the reports, citing passages. `history` holds earlier
    (question, answer) pairs for follow-ups; `k` passages are read (default config.answer.passages);
    mode is "auto" (LLM if configured), "extractive" or "llm"."""
    answer = None
    for event in ask_stream(question, history, k=k, city=city, kb_dir=kb_dir, mode=mode, config=config):
        if event["type"] == "answer":
            answer = event["answer"]
    assert answer is not None
    return answer


def ask_stream(question: str, history: History | None = None, k: int | None = None, city: str | list[str] | None = None,
               kb_dir: str | Path | None = None, mode: str = "auto", config: Config | None = None) -> Iterator[dict]:
    """Events for a UI: {"type": "delta", "text": ...} pieces, then {"type": "answer", "answer": Answer}."""
    config = config or from_env()
    k = check_k(config.answer.passages if k is None else k, 50)
    question = check_question(question, config.max_question_chars)
    chat_model = None
    if mode in ("auto", "llm"):
        from .llm import load_chat_model

        chat_model = load_chat_model(config.llm)
        if chat_model is None and mode == "llm":
            raise ConfigError("没有配置大模型：设置 QA_LLM（例如 openai:qwen2.5-7b-instruct）后再用 LLM 模式。")
    kb = open_kb(kb_dir, config=config)
    if chat_model is not None and history:
        from .llm import rewrite_with_llm

        standalone = rewrite_with_llm(question, history, chat_model)
    else:
        standalone = rewrite_followup(question, history, kb.cities)
    e = gather(standalone, k, city, kb, get_embedder(config), config)
    extractive = extractive_answer(e, config.answer)
    extractive = fact_answer(e.question, kb, extractive) or extractive
    if chat_model is None or extractive.refused:
        # Refusal is decided before any LLM call, so an LLM never gets to invent a figure.
        yield {"type": "delta", "text": extractive.text}
        yield {"type": "answer", "answer": extractive}
        return
    yield from _llm_stream(e.question.text, e.passages, chat_model, history, extractive)


def _llm_stream(question: str, passages: list[Passage], chat_model, history, extractive: Answer) -> Iterator[dict]:
    from .llm import cite, generate_answer, renumber_citations, repair_answer, verify_answer

    def noted(note: str) -> str:  # keeps the extractive step's own caveat (a paraphrased figure)
        return "；".join(n for n in (extractive.note, note) if n)

    pieces = []
    try:
        for delta in generate_answer(question, passages, chat_model, history):
            pieces.append(delta)
            yield {"type": "delta", "text": delta}
    except Exception as exc:  # noqa: BLE001 - a down server, a timeout or a broken model must not break an answer
        log.warning("chat model failed: %r", exc)
        answer = replace(extractive, mode="llm-fallback", note=noted("大模型调用失败，已改用原文摘录。"))
        yield {"type": "replace", "text": answer.text}
        yield {"type": "answer", "answer": answer}
        return
    text = "".join(pieces).strip()
    check = verify_answer(text, passages)

    if check.refused:
        answer = replace(extractive, mode="llm", note=noted("大模型认为报告中没有答案；以下为检索到的原文摘录。"))
        yield {"type": "answer", "answer": answer}
        return
    mode, note = "llm", ""
    if not check.ok:
        repaired = repair_answer(text, passages)  # None for an answer of markers only
        if repaired is None:
            why = "只有引用标记，没有内容" if check.empty else "引用或数字与原文不符"
            answer = replace(extractive, mode="llm-fallback", note=noted(f"大模型的回答未通过核验（{why}），已改用原文摘录。"))
            yield {"type": "replace", "text": answer.text}
            yield {"type": "answer", "answer": answer}
            return
        text, mode, note = repaired, "llm-repaired", "大模型的回答缺少引用，已按原文补全引用标注。"
    text, cited = renumber_citations(text, passages)
    yield {"type": "answer", "answer": Answer(text=text, citations=cite(text, cited), question=question, mode=mode,
                                              note=noted(note))}
