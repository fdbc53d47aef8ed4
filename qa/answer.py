"""`ask` / `ask_stream`: retrieved passages -> an Answer whose [n] markers cite them.

Extractive by default (instant, no LLM): the answer is made of sentence spans copied from the
passages, so every figure in it is in a cited passage. With a chat model configured
(`QA_LLM`), the LLM writes the answer from the same passages and it is verified (markers,
numbers) before it is shown; a failing answer is repaired or replaced by the extractive one.
Whether the reports answer at all is decided first, from retrieval and span signals.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from .conversation import rewrite_followup
from .extract import (answer_spans, asks_quantity, display_span, paraphrased_figure_span, score_sentences, topic_terms,
                      unfamiliar_words)
from .generic_answer import generic_answer
from .kinds import GENERIC
from .pipeline import get_embedder, open_kb
from .query import QueryAnalysis
from .retrieval import check_question, search, to_passages, word_standout
from .schema import Answer, History, Passage

REFUSAL = "报告中没有找到{topic}的相关内容。"
PARAPHRASE_NOTE = "报告没有用问题里的说法；这是意思最接近、带数字的原文，请核对。"
ANSWER_PASSAGES = 6  # passages read for an answer
# Below this no sentence is a credible answer (a sentence scores ≈ 3 × its cosine with the question).
MIN_SPAN_SCORE = float(os.environ.get("QA_MIN_SPAN_SCORE", "1.9"))
DESCRIPTIVE_SPANS, DESCRIPTIVE_MARGIN = 3, 0.05  # dev: 3 within 0.05 (≈ 0.017 cosine) beat 2, or a wider margin


def _refusal(question: str, analysis, reason: str = "") -> str:
    lowered = question.lower()
    # Topic terms are normalised (lower case); show them as the user wrote them (「GDP」).
    terms = [question[i : i + len(t)] if (i := lowered.find(t)) >= 0 else t for t in topic_terms(question, analysis)]
    where = "、".join(analysis.cities) if analysis.cities else ""
    topic = f"{where}{''.join(terms[:3])}" if (where or terms) else "这个问题"
    text = REFUSAL.format(topic=f"“{topic}”")
    return text + (f"（{reason}）" if reason else "")


def extractive_answer(question: str, analysis, passages: list[Passage], similarity: dict | None = None,
                      unfamiliar: list[str] | None = None, standout: dict | None = None) -> Answer:
    """The best answering span(s), cited; or a refusal with the closest passages as related.
    `unfamiliar` are the question's topic words that no indexed report uses (see `unfamiliar_words`);
    `similarity` and `standout` are the sentence signals of `score_sentences`.
    When the best passage comes from a generic document (not a report), the generic reader answers."""
    if passages and passages[0].kind == GENERIC:
        return generic_answer(question, passages)
    if analysis.unknown_places:
        return Answer(_refusal(question, analysis, f"知识库中没有{'、'.join(analysis.unknown_places)}的报告"),
                      refused=True, related=passages[:3], question=question)
    similarity = similarity or {}
    scored = score_sentences(question, analysis, passages, similarity, standout)
    spans = answer_spans(question, analysis, scored, passages)
    note = ""
    if not spans and unfamiliar and asks_quantity(question):
        paraphrased = paraphrased_figure_span(question, analysis, scored, passages, similarity)
        spans, note = ([paraphrased], PARAPHRASE_NOTE) if paraphrased else ([], "")
    if not spans or spans[0].score < MIN_SPAN_SCORE:
        return Answer(_refusal(question, analysis), refused=True, related=passages[:3], question=question)
    terms = topic_terms(question, analysis)
    best = spans[0]
    chosen = [best]
    # A figure question gets a second span when it covers the topic as well and scores almost as
    # high (it may ask two things: 「是多少？比上年涨了多少？」). A "how" question gets up to three
    # sentences: the best of another passage, and any within DESCRIPTIVE_MARGIN of the best
    # (measures are rarely one sentence, and among near-equal sentences the scores cannot tell
    # which one says it). None scores below MIN_SPAN_SCORE.
    descriptive = not asks_quantity(question)
    for s in spans[1:8]:
        if len(chosen) == (DESCRIPTIVE_SPANS if descriptive else 2) or s.score < MIN_SPAN_SCORE:
            break
        if descriptive:
            first_elsewhere = s.passage_index != best.passage_index and all(c.passage_index == best.passage_index for c in chosen)
            close = s.score >= best.score - DESCRIPTIVE_MARGIN or first_elsewhere
        else:
            close = s.score >= best.score - 0.1 and s.coverage >= best.coverage
        if close and not any(c.passage_index == s.passage_index and abs(c.start - s.start) < 5 for c in chosen):
            chosen.append(s)
    citations: list[Passage] = []
    parts = []
    for span in chosen:
        passage = passages[span.passage_index]
        if passage not in citations:
            citations.append(passage)
        start, end = display_span(passage, span, terms)
        snippet = passage.text[start - passage.start : end - passage.start].rstrip("。；;，,")
        # Each snippet names its report when they differ (「彬州和泸州去年GDP分别是多少？」).
        source = f"据《{passage.title}》：" if not parts or passage.title != citations[0].title else ""
        parts.append(f"{source}{snippet}[{citations.index(passage) + 1}]")
    text = "；".join(parts) + "。"
    return Answer(text=text, citations=citations, question=question, mode="extractive", note=note)


@dataclass
class Evidence:
    """What the answer step works from: the question made standalone, its analysis, the passages
    retrieved, and two signals per sentence of them, keyed by (doc_id, start)."""

    question: str
    analysis: QueryAnalysis
    passages: list[Passage]
    similarity: dict  # cosine with the question
    standout: dict  # z-score as meaning a question word no report uses (see word_standout)
    unfamiliar: list[str]  # topic words no report uses


def _gather(question: str, history: History | None, k: int, city, kb_dir, chat_model=None) -> Evidence:
    question = check_question(question)
    kb = open_kb(kb_dir)
    if chat_model is not None and history:
        from .llm import rewrite_with_llm

        standalone = rewrite_with_llm(question, history, chat_model)
    else:
        standalone = rewrite_followup(question, history, kb.cities)
    cities = [city] if isinstance(city, str) else city
    embedder = get_embedder()
    result = search(kb, embedder, standalone, k=max(k, ANSWER_PASSAGES), cities=cities)
    srows = list(result.sentence_sims)
    generic = bool(result.hits) and kb.passages[result.hits[0].row].kind == GENERIC  # read by generic_answer
    words = [] if result.analysis.unknown_places or generic else unfamiliar_words(standalone, result.analysis, kb.uses)
    evidence = Evidence(standalone, result.analysis, to_passages(kb, result.hits), {}, {}, words)
    for srow, z in zip(srows, word_standout(kb, embedder, words, srows)):
        row, start, _ = kb.sentences[srow]
        key = (kb.passages[row].doc_id, int(start))
        evidence.similarity[key], evidence.standout[key] = result.sentence_sims[srow], z
    return evidence


def ask(
    question: str,
    history: History | None = None,
    k: int = ANSWER_PASSAGES,
    city: str | list[str] | None = None,
    kb_dir: str | Path | None = None,
    mode: str = "auto",
) -> Answer:
    """Answer a question from the reports, citing passages. `history` holds earlier
    (question, answer) pairs for follow-ups; mode is "auto" (LLM if configured), "extractive" or "llm"."""
    answer = None
    for event in ask_stream(question, history, k=k, city=city, kb_dir=kb_dir, mode=mode):
        if event["type"] == "answer":
            answer = event["answer"]
    assert answer is not None
    return answer


def ask_stream(
    question: str,
    history: History | None = None,
    k: int = ANSWER_PASSAGES,
    city: str | list[str] | None = None,
    kb_dir: str | Path | None = None,
    mode: str = "auto",
) -> Iterator[dict]:
    """Events for a UI: {"type": "delta", "text": ...} pieces, then {"type": "answer", "answer": Answer}."""
    chat_model = None
    if mode in ("auto", "llm"):
        from .llm import load_chat_model

        chat_model = load_chat_model()
        if chat_model is None and mode == "llm":
            raise ValueError("没有配置大模型：设置 QA_LLM（例如 openai:qwen2.5-7b-instruct）后再用 LLM 模式。")
    e = _gather(question, history, k, city, kb_dir, chat_model)
    extractive = extractive_answer(e.question, e.analysis, e.passages, e.similarity, e.unfamiliar, e.standout)
    if chat_model is None or extractive.refused:
        # Refusal is decided before any LLM call, so an LLM never gets to invent a figure.
        yield {"type": "delta", "text": extractive.text}
        yield {"type": "answer", "answer": extractive}
        return
    yield from _llm_stream(e.question, e.passages[:ANSWER_PASSAGES], chat_model, history, extractive)


def _llm_stream(question: str, passages: list[Passage], chat_model, history, extractive: Answer) -> Iterator[dict]:
    from .llm import generate_answer, renumber_citations, repair_answer, verify_answer

    pieces = []
    for delta in generate_answer(question, passages, chat_model, history):
        pieces.append(delta)
        yield {"type": "delta", "text": delta}
    text = "".join(pieces).strip()
    check = verify_answer(text, passages)

    def noted(note: str) -> str:  # keeps the extractive step's own caveat (a paraphrased figure)
        return "；".join(n for n in (extractive.note, note) if n)

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
    text, citations = renumber_citations(text, passages)
    yield {"type": "answer", "answer": Answer(text=text, citations=citations, question=question, mode=mode, note=noted(note))}
