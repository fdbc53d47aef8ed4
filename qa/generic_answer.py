"""Extractive answers from generic documents (news, Wikipedia-like notes): the sentence(s) of the
retrieved passages that answer a factoid question (who, what, when, where, how many), cited.

A sentence of the best passage's document scores by how much of the question it repeats (its
character pairs and words, rarer ones weighing more; the document's title counts as the subject
of every sentence, so 「本鱼分布于……」 answers a question naming the fish), by the rank of its
passage, and by whether it holds what the question type asks for (a date for 「什么时候」, a figure
for 「多少」, a place for 「在哪里」, a definition of X for 「什么是X」). Sentences that follow each
other are quoted as one; a sentence starting 「因此」 brings the one before it, and the next one
comes along when only it holds the asked-for date or figure. A refusal, with the closest passages
shown, when the passages repeat too little of the question, or when the answering document lacks
a number or Latin word the question names (2022, ChatGPT).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .text import normalize_zh, split_sentences
from .generic_search import char_bigrams
from .schema import Answer, Citation, Passage

REFUSAL = "资料中没有找到“{topic}”的相关内容。"
# Share of the question's (weighted) terms the best sentence must repeat to answer. Chosen on the
# CMRC trial questions and 24 written unanswerable ones (docs/measurements.md).
MIN_COVERAGE = 0.4
SAME_DOCUMENT_ONLY = True
MAX_PASSAGES = 5  # read for an answer
W_RANK = 0.03  # per passage rank below the first
W_TYPE = 0.15  # the sentence holds what the question type asks for
W_NEAR = 0.25  # per unit of overlap of the best neighbouring sentence
SECOND_MARGIN = 0.2  # another sentence is added when its score is this close to the best
MAX_SENTENCES = 3
MAX_ANSWER_CHARS = 240
TITLE_IN_EVERY_SENTENCE = True
JOIN_ADJACENT = True
NAMES_REQUIRED = True
PREV_CONNECTIVE = True
# Switches above (True as measured in docs/measurements.md) let each rule be measured, and tested, alone.

# Question words: they say what is asked, not about what; their bigrams are not looked for.
_QUESTION_WORDS_RE = re.compile(
    r"什么时候|哪一年|哪年|何时|几月|几日|哪天|多少|多大|多长|多高|多久|几[个位年次种名部项条家座]?|"
    r"什么|哪里|哪儿|哪些|哪个|哪位|哪种|哪一|哪|谁|怎样|怎么|如何|为什么|为何|是否|吗|呢|请问|是")
_ASKS_TIME_RE = re.compile(r"什么时候|哪一年|哪年|何时|几月|几日|哪天|什么时间|哪个时期|年代|多少年|哪一天")
_ASKS_NUMBER_RE = re.compile(r"多少|多大|多长|多高|多重|多久|几[个位年次种名部项条家座]|排名第|第几")
_TIME_RE = re.compile(r"\d{1,4}\s*年|\d{1,2}\s*月|\d{1,2}\s*日|[一二三四五六七八九十〇零]{2,4}年|世纪|年代|朝|时期|期间")
# A sentence stating a consequence of the one before it.
_CONSEQUENCE_RE = re.compile(r"因此|所以|于是|因而|故而|从而|故此|由此")
_NUMBER_RE = re.compile(r"\d|[一二两三四五六七八九十百千万亿]+[个位年次种名部项条家座米公里人]")


@dataclass
class _Sentence:
    passage_index: int
    start: int  # offsets in the passage's document
    end: int
    text: str
    overlap: float
    score: float


_ALNUM_RE = re.compile(r"[0-9a-z]+(?:[.][0-9]+)?")
_HAN_RE = re.compile(r"[\u4e00-\u9fff]")
_FUNCTION_CHARS = frozenset("的了是在和与及等也都就而对把被为以于其之或并从到向给让将这那有个些一不")
W_CHAR = 0.3  # a single character says less than a pair
W_FUNCTION_PAIR = 0.3


def question_terms(question: str, function_pair: float = 1.0) -> dict[str, float]:
    """What a sentence must repeat to be about the question: character pairs, single characters
    (less), numbers and Latin words; question words left out."""
    text = normalize_zh(_QUESTION_WORDS_RE.sub(" ", question))
    terms: dict[str, float] = {b: (function_pair if set(b) & _FUNCTION_CHARS else 1.0) for b in char_bigrams(text)}
    for ch in _HAN_RE.findall(text):
        if ch not in _FUNCTION_CHARS:
            terms.setdefault(ch, W_CHAR)
    for token in _ALNUM_RE.findall(text):
        terms[token] = 1.0
    return terms


def _weights(terms: dict[str, float], sentences: list[str]) -> dict[str, float]:
    """Rarer terms among the candidate sentences weigh more (smoothed inverse document frequency):
    the subject's name, in every sentence, tells them apart least."""
    n = len(sentences)
    return {t: w * math.log(1 + (n + 1) / (1 + sum(t in s for s in sentences))) for t, w in terms.items()}


def _overlap(sentence: str, weights: dict[str, float]) -> float:
    total = sum(weights.values())
    if not total:
        return 0.0
    norm = normalize_zh(sentence)
    return sum(w for b, w in weights.items() if b in norm) / total


# Other factoid types: what the question asks for, and how a sentence holding it usually reads.
# Such a sentence gains; one without the mark loses nothing (these marks are often left implicit).
_ASKS_PLACE_RE = re.compile(r"哪里|哪儿|何处|何地|什么地方|哪个地方|地址|地理位置|位置|在哪|所在地|哪[个些]?(?:国家|省|城市|地区|州|县)|什么地区")
_PLACE_RE = re.compile(r"位于|地处|坐落|座落|分布|境内|[东西南北]部|[省市县州郡镇村岛洲]")
_DEFINITION_RES = (re.compile(r"^(?:请问)?什么(?:是|叫|叫做)[“「《]?(.+?)[”」》]?[？?。]?$"),
                   re.compile(r"^[“「《]?(.+?)[”」》]?(?:的(?:定义|含义|意思|概念)是什么|是什么|指什么|是指什么|是什么意思)[？?。]?$"))


def _defined_term(question: str) -> str | None:
    """X of 「什么是X」, 「X的定义是什么」, 「X是什么」: a definition is asked for."""
    for pattern in _DEFINITION_RES:
        m = pattern.match(normalize_zh(question.strip()))
        if m and 1 < len(m.group(1)) <= 20:
            return m.group(1)
    return None


TYPE_RULES = {"definition": True, "place": True}  # switches, for measuring each rule


def _type_fit(question: str, sentence: str) -> float:
    if _ASKS_TIME_RE.search(question):
        return 1.0 if _TIME_RE.search(sentence) else -1.0
    if _ASKS_NUMBER_RE.search(question):
        return 1.0 if _NUMBER_RE.search(sentence) else -1.0
    if TYPE_RULES["definition"] and (term := _defined_term(question)):
        defines = re.escape(term) + r"(?:\s*[（(][^）)]*[）)])?\s*[，,]?\s*(?:是|指|为|乃|即)"  # X（…），是/指…
        return 1.0 if re.search(defines, normalize_zh(sentence)) else 0.0
    if TYPE_RULES["place"] and _ASKS_PLACE_RE.search(question):
        return 1.0 if _PLACE_RE.search(sentence) else 0.0
    return 0.0


def passage_coverage(question: str, passage: Passage) -> float:
    """Share of the question's terms (single characters weighing less) found in the passage or its
    title: whether the passage is about what is asked at all."""
    terms = question_terms(question)
    text = normalize_zh(f"{passage.title}\n{passage.text}")
    total = sum(terms.values())
    return sum(w for t, w in terms.items() if t in text) / total if total else 0.0


def missing_names(question: str, passages: list[Passage]) -> list[str]:
    """The question's numbers and Latin words (2022, ChatGPT, Mate60) that the answering document
    (its passages read, and its title) does not contain: a question naming a year or a product the
    document never names asks about something else, however much of its wording the document shares."""
    if not passages:
        return []
    top_doc = passages[0].doc_id
    read = [p.text for p in passages[:MAX_PASSAGES] if p.doc_id == top_doc]
    text = normalize_zh("\n".join([passages[0].title, *read]))
    return [t for t in _ALNUM_RE.findall(normalize_zh(question)) if t not in text]


def ranked_sentences(question: str, passages: list[Passage]) -> list[_Sentence]:
    """Sentences of the passages from the best passage's document, best first. Weighed against each
    other, the subject's name (in most of them) counts little and what is asked about counts."""
    top_doc = passages[0].doc_id if passages else None
    chosen = [(pi, p) for pi, p in enumerate(passages[:MAX_PASSAGES]) if SAME_DOCUMENT_ONLY is False or p.doc_id == top_doc]
    # The document's title is the subject of each of its sentences (「本鱼分布于……」 under 《斯氏腔吻鳕》).
    subject = lambda p, t: f"{p.title}\n{t}" if TITLE_IN_EVERY_SENTENCE else t
    texts = [normalize_zh(subject(p, p.text[a:b])) for _, p in chosen for a, b in split_sentences(p.text)]
    weights = _weights(question_terms(question, W_FUNCTION_PAIR), texts)
    out = []
    for pi, p in chosen:
        spans = split_sentences(p.text)
        for si, (a, b) in enumerate(spans):
            text = p.text[a:b]
            overlap = _overlap(subject(p, text), weights)
            # The context may sit in a neighbour sentence (「……。其中，……」): half credit for it.
            near = max((_overlap(subject(p, p.text[c:d]), weights) for c, d in spans[max(0, si - 1) : si + 2]
                        if (c, d) != (a, b)), default=0.0)
            score = overlap + W_NEAR * near + W_TYPE * _type_fit(question, text) - W_RANK * pi
            out.append(_Sentence(pi, p.start + a, p.start + b, text, overlap, score))
    return sorted(out, key=lambda s: -s.score)


def _topic(question: str) -> str:
    topic = _QUESTION_WORDS_RE.sub("", question).strip("？?。！!，, ")
    return topic[:20] or "这个问题"


def generic_answer(question: str, passages: list[Passage]) -> Answer:
    """The sentence(s) answering the question, cited; or a refusal with the closest passages."""
    ranked = ranked_sentences(question, passages)
    about = max((passage_coverage(question, p) for p in passages[:3]), default=0.0)
    if not ranked or about < MIN_COVERAGE or (NAMES_REQUIRED and missing_names(question, passages)):
        return Answer(REFUSAL.format(topic=_topic(question)), refused=True, related=passages[:3], question=question)
    best = ranked[0]
    chosen = [best]
    follower = _next_sentence(best, passages)
    if follower is not None and _type_fit(question, best.text) < 0 < _type_fit(question, follower.text):
        chosen.append(follower)  # what is asked is stated in the sentence that continues the best one
    before = _previous_sentence(best, passages)
    if before is not None and PREV_CONNECTIVE and _CONSEQUENCE_RE.match(best.text):
        chosen.append(before)  # 「因此……」 states a consequence of the sentence before it
    for s in ranked[1:6]:
        if len(chosen) >= MAX_SENTENCES:
            break
        if s.score >= best.score - SECOND_MARGIN and all(abs(s.start - c.start) > 0 or
                                                                                     s.passage_index != c.passage_index for c in chosen):
            chosen.append(s)
    return _cite(question, chosen, passages)


def _previous_sentence(s: _Sentence, passages: list[Passage]) -> _Sentence | None:
    p = passages[s.passage_index]
    before = [(a, b) for a, b in split_sentences(p.text) if p.start + b <= s.start]
    if not before:
        return None
    a, b = before[-1]
    return _Sentence(s.passage_index, p.start + a, p.start + b, p.text[a:b], 0.0, 0.0)


def _next_sentence(s: _Sentence, passages: list[Passage]) -> _Sentence | None:
    p = passages[s.passage_index]
    for a, b in split_sentences(p.text):
        if p.start + a >= s.end:
            return _Sentence(s.passage_index, p.start + a, p.start + b, p.text[a:b], 0.0, 0.0)
    return None


def _cite(question: str, chosen: list[_Sentence], passages: list[Passage]) -> Answer:
    citations: list[Passage] = []
    spans: dict[str, list[tuple[int, int]]] = {}  # passage id -> the sentences quoted from it
    parts: list[str] = []
    previous: _Sentence | None = None
    # In document order within a passage, so a continued sentence reads on.
    for s in sorted(chosen, key=lambda s: (chosen.index(s) if s.passage_index != chosen[0].passage_index else 0,
                                            s.passage_index, s.start)):
        passage = passages[s.passage_index]
        if passage not in citations:
            citations.append(passage)
        spans.setdefault(passage.id, []).append((s.start, s.end))
        text = s.text if len(s.text) <= MAX_ANSWER_CHARS else s.text[:MAX_ANSWER_CHARS] + "……"
        marker = f"[{citations.index(passage) + 1}]"
        if JOIN_ADJACENT and previous is not None and _adjacent(previous, s, passages) and parts[-1].endswith(marker):
            # One quote for sentences that follow each other: the marker after the last of them.
            parts[-1] = parts[-1][: -len(marker)]
        elif not parts or passage.title != citations[0].title:
            text = f"据《{passage.title}》：{text}"
        # The sentence as written (its own end mark kept), then its marker.
        parts.append(f"{text}{marker}")
        previous = s
    cited = [Citation(p, tuple(sorted(spans[p.id]))) for p in citations]
    return Answer("".join(parts), citations=cited, question=question, mode="extractive")


def _adjacent(a: _Sentence, b: _Sentence, passages: list[Passage]) -> bool:
    """b follows a in the same passage with nothing but white space between."""
    p = passages[a.passage_index]
    between = p.text[a.end - p.start : b.start - p.start]
    return a.passage_index == b.passage_index and a.end <= b.start and not between.strip()
