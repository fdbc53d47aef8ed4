"""Follow-up questions -> standalone questions, by rules (an LLM does it when one is configured).

「彬州去年GDP多少？」 then 「那财政收入呢？」 -> 「彬州去年财政收入呢？」 (city and time carried over,
new topic); 「那咸阳呢？」 -> the previous question asked about 咸阳; 「增长了多少？」「它的目标呢？」 ->
the previous question's topic with the new ask. A question that names its own city starts fresh.
"""
from __future__ import annotations

import re

from .query import QUESTION_WORDS, find_cities, strip_cities
from .query import TIME_WORDS_RE as _TIME_RE
from .schema import History

_LEAD_RE = re.compile(r"^(?:那么|那|那个|还有|另外|再问一下|请问|听说)[，,、\s]*")
_TAIL_RE = re.compile(r"[呢吗吧啊呀]?[？?。！!\s]*$")
# Words that ask or point back rather than name a topic: 「它今年的增长目标是多少？」 has no topic
# of its own and keeps the previous one; 「那财政收入呢？」 has one and replaces it.
_ASK_RE = re.compile(
    QUESTION_WORDS + r"|多长|几[个家项所处条万亿]?|是|有|呢|吗|了|的|要|打算|"
    r"计划|定|目标|增长|增速|下降|提高|具体|措施|做法|办法|达到|完成|比上年|同比|它们?|其|这个?|那个?|该|大概|分别|"
    r"建成|新建|新增|建设|实现|引进|开|做|搞|"
    r"[？?，,。、！!\s]"
)


def _strip_question(question: str) -> str:
    return _TAIL_RE.sub("", _LEAD_RE.sub("", question.strip()))


def _content(text: str) -> str:
    """What is left of a question once ask words and time words are gone: its topic."""
    return _ASK_RE.sub("", _TIME_RE.sub("", text))


def rewrite_followup(question: str, history: History | None, cities: list[str]) -> str:
    """A standalone version of `question`, given earlier (question, answer) turns. Earlier
    questions are themselves resolved first, so a third turn still knows the first one's topic."""
    standalone: list[str] = []
    for earlier, _ in history or []:
        standalone.append(_resolve(earlier.strip(), standalone, cities))
    return _resolve(question.strip(), standalone, cities)


def _resolve(question: str, previous_questions: list[str], cities: list[str]) -> str:
    if not previous_questions:
        return question
    named = find_cities(question, cities)
    previous = previous_questions[-1]
    prev_cities = find_cities(previous, cities)
    core = re.sub(r"^(?:它们?|其|这个?|那个?|该)的?", "", _strip_question(strip_cities(question, named)))
    if named:
        if _content(core) or not prev_cities:
            return question  # names its own city and topic: a fresh question
        # 「那咸阳呢？」: the previous question, asked of the new city.
        return named[0] + strip_cities(previous, prev_cities)
    if not prev_cities:
        return question
    time = "" if _TIME_RE.search(question) else "".join(_TIME_RE.findall(previous)[:1])
    if len(_content(core)) >= 2:
        return f"{prev_cities[0]}{time}{core}？"
    topic = _content(_strip_question(strip_cities(previous, prev_cities)))
    return f"{prev_cities[0]}{time}{topic}{core}？"
