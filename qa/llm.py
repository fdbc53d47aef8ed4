"""Generative answers through a LangChain chat model, used only when the user configures one
($QA_LLM, e.g. `openai:qwen2.5-7b-instruct` or `llamacpp:/models/qwen.gguf`).

An LLM answer is only trusted after checks that need no model: every [n] marker must point at
a passage that was given, every sentence must cite one, and every figure in the text must occur
in a cited passage. A failing answer is repaired when that is mechanical (drop a bad marker,
cite the passage a sentence was taken from) and otherwise reported as "failed", so that the
caller can fall back to the extractive answer.
"""
from __future__ import annotations

import importlib.util
import logging
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .config import LLMConfig
from .errors import ConfigError
from .schema import Citation, History, Passage
from .text import bigrams, contains_whole, has_content, normalize_figures, split_sentences

if TYPE_CHECKING:  # langchain-core is light, but keep model classes out of import time
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

log = logging.getLogger(__name__)

PROMPTS_DIR = Path(__file__).parent.parent / "prompts"
REFUSAL = "报告中没有找到相关内容。"
MAX_HISTORY_TURNS = 3  # older turns rarely matter and small local models have short contexts
MIN_OVERLAP = 0.4  # share of a sentence's bigrams a passage must hold to be cited by repair
_DELIMITERS = ("<<<段落开始>>>", "<<<段落结束>>>")



# ---------------------------------------------------------------- model configuration


@lru_cache(maxsize=4)
def load_chat_model(settings: LLMConfig) -> BaseChatModel | None:
    """The chat model of the settings (QA_LLM), built once per process, or None when none is configured.

    `openai:<model>`: any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp server,
    DeepSeek, Qwen/DashScope) via OPENAI_BASE_URL and OPENAI_API_KEY.
    `llamacpp:<path.gguf>`: a local GGUF file run in-process by llama-cpp-python.
    """
    spec = settings.spec
    if not spec:
        return None
    kind, _, arg = spec.partition(":")  # first colon only: Ollama names look like qwen2.5:7b
    kind, arg = kind.strip().lower(), arg.strip()
    if kind == "openai" and arg:
        if importlib.util.find_spec("langchain_openai") is None:
            raise ConfigError(f"QA_LLM={spec!r} 需要 langchain-openai：pip install langchain-openai")
        from langchain_openai import ChatOpenAI

        kwargs: dict = {}
        if settings.openai_base_url and not os.environ.get("OPENAI_API_KEY"):
            kwargs["api_key"] = "EMPTY"  # local servers (vLLM, Ollama) ignore the key but the client wants one
        return ChatOpenAI(model=arg, temperature=0, timeout=120, max_retries=1, **kwargs)
    if kind == "llamacpp" and arg:
        if importlib.util.find_spec("llama_cpp") is None:
            raise ConfigError(f"QA_LLM={spec!r} 需要 llama-cpp-python：pip install llama-cpp-python")
        path = Path(arg).expanduser()
        if not path.is_file():
            raise ConfigError(f"QA_LLM={spec!r}：{path} 不是 GGUF 文件")
        from langchain_community.chat_models.llamacpp import ChatLlamaCpp

        return ChatLlamaCpp(model_path=str(path), n_ctx=settings.context_tokens, temperature=0, max_tokens=512, verbose=False)
    raise ConfigError(f"QA_LLM={spec!r} 无法识别：请用 openai:<模型名>（OpenAI 兼容服务，配合 OPENAI_BASE_URL/"
                      "OPENAI_API_KEY）或 llamacpp:/path/to/model.gguf")


def describe_chat_model(settings: LLMConfig) -> str:
    """A short name for the UI ('' when no model is configured); never loads the model."""
    if not settings.spec:
        return ""
    kind, _, arg = settings.spec.partition(":")
    kind, arg = kind.strip().lower(), arg.strip()
    if kind == "openai":
        base = settings.openai_base_url
        return f"{arg}（{base}）" if base else f"{arg}（OpenAI）"
    if kind == "llamacpp":
        return f"{Path(arg).name}（llama.cpp 本地）"
    return settings.spec


# ---------------------------------------------------------------- prompts and generation


@lru_cache(maxsize=None)
def load_prompt(name: str) -> str:
    return (PROMPTS_DIR / f"{name}.txt").read_text(encoding="utf-8")


def render_passages(passages: list[Passage]) -> str:
    blocks = []
    for n, p in enumerate(passages, 1):
        head = f"[{n}] 《{p.title.strip('《》')}》" + (f" {p.section}" if p.section else "")
        text = p.text
        for d in _DELIMITERS:  # a passage must not be able to close the quoted block
            text = text.replace(d, "")
        blocks.append(f"{head}\n{text.strip()}")
    return "\n\n".join(blocks)


def build_messages(question: str, passages: list[Passage], history: History | None = None) -> list[BaseMessage]:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    messages: list[BaseMessage] = [SystemMessage(load_prompt("answer_system"))]
    for q, a in (history or [])[-MAX_HISTORY_TURNS:]:
        # Old answers' markers point at old passages; left in, they invite wrong citations.
        messages += [HumanMessage(q), AIMessage(strip_markers(a))]
    user = load_prompt("answer_user").format(question=question.strip(), passages=render_passages(passages))
    messages.append(HumanMessage(user))
    return messages


def generate_answer(
    question: str, passages: list[Passage], chat_model: BaseChatModel, history: History | None = None
) -> Iterator[str]:
    """Text deltas of the model's answer as they arrive, reasoning blocks (<think>…</think>)
    left out (unverified: verify the joined text)."""
    raw = (str(chunk.text) for chunk in chat_model.stream(build_messages(question, passages, history)) if chunk.text)
    yield from without_reasoning(raw)  # .text flattens content blocks some providers send


_OPEN, _CLOSE = "<think>", "</think>"


def without_reasoning(deltas: Iterator[str]) -> Iterator[str]:
    """The deltas with reasoning blocks removed, even when a tag is split across deltas: nothing
    a reasoning model thinks (figures included) is ever shown."""
    buffer, thinking = "", False
    for delta in deltas:
        buffer += delta
        while True:
            tag = _CLOSE if thinking else _OPEN
            at = buffer.find(tag)
            if at < 0:
                break
            if not thinking and buffer[:at]:
                yield buffer[:at]
            buffer, thinking = buffer[at + len(tag):], not thinking
        # Hold back what could be the start of a tag; drop what is inside a block.
        keep = next((n for n in range(len(tag) - 1, 0, -1) if buffer.endswith(tag[:n])), 0)
        if not thinking and len(buffer) > keep:
            yield buffer[: len(buffer) - keep]
        buffer = buffer[len(buffer) - keep:] if keep else ""
    if buffer and not thinking:
        yield buffer


# ---------------------------------------------------------------- verification

# [1] ［1］ 【1】 [1,2] [1、2]; [1][2] is two markers.
_MARKER_RE = re.compile(r"[\[［【]\s*(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\s*[\]］】]")
# A sentence ends at 。！？；, a newline, or the end; markers written after the stop still
# belong to it (「……326.3亿元。[1]」).
_SENTENCE_END_RE = re.compile(
    r"[。！？；!?;…]+[”’」』）)]*(?:[ \t]*" + _MARKER_RE.pattern + r")*|\n"
)
_TRAILING_PUNCT_RE = re.compile(r"[。！？；!?;…，,、：:\s]*[”’」』）)]*\s*$")
_LIST_NUMBER_RE = re.compile(r"(?m)^\s*(?:\d{1,2}[.、)）](?!\d)|[(（]\d{1,2}[)）])")
_NUMBER_RE = re.compile(
    r"(?<![\d.])\d+(?:\.\d+)?(?:%|‰|万亿元|亿元|万元|元|万人次|人次|万人|人|个百分点|万吨|吨|万亩|亩|"
    r"平方公里|公里|万平方米|平方米|万户|户|万家|家|个|项|所|座|倍|年|月|日|天|位)?"
)
_THINK_RE = re.compile(r"<think>.*?(?:</think>|$)", re.S)  # reasoning models (DeepSeek-R1, Qwen3)


@dataclass
class Verification:
    ok: bool  # a usable answer: cited throughout, markers valid, figures supported (a refusal is not ok)
    bad_markers: list[int] = field(default_factory=list)
    unsupported_numbers: list[str] = field(default_factory=list)
    uncited_sentences: list[str] = field(default_factory=list)
    refused: bool = False
    empty: bool = False  # nothing but markers and punctuation (「[1] [2]」): small models do that


def find_markers(text: str) -> list[int]:
    """Every cited number, in order of appearance (repeats kept)."""
    return [int(n) for m in _MARKER_RE.finditer(text) for n in re.split(r"\s*[,，、]\s*", m.group(1))]


def strip_markers(text: str) -> str:
    return _MARKER_RE.sub("", text)


def clean_output(text: str) -> str:
    """Model output minus reasoning blocks and surrounding whitespace."""
    return _THINK_RE.sub("", text).strip()


def is_refusal(text: str) -> bool:
    """The fixed refusal, however decorated; what a model adds after it is not trusted as an answer."""
    core = re.sub(r"[\s「」“”\"'*]", "", strip_markers(text))
    return core.startswith(REFUSAL.rstrip("。"))


def _sentences(text: str) -> list[tuple[int, int]]:
    return split_sentences(text, end_re=_SENTENCE_END_RE)


def _needs_citation(sentence: str) -> bool:
    """Sentences that state something; not lead-ins (「具体如下：」), bare bullets or the refusal."""
    body = strip_markers(sentence).strip()
    if not has_content(body) or REFUSAL.rstrip("。") in body:
        return False
    return not body.rstrip("*").endswith(("：", ":"))


def _numbers(text: str) -> list[str]:
    text = _LIST_NUMBER_RE.sub(" ", normalize_figures(strip_markers(text)))  # 「1. 」 list numbering is no claim
    return [m.group(0) for m in _NUMBER_RE.finditer(text)]


def _supported(number: str, passages: list[Passage]) -> bool:
    value = re.match(r"\d+(?:\.\d+)?", number).group(0)
    for p in passages:
        if contains_whole(normalize_figures(f"{p.title} {p.section} {p.text}"), value):  # 0.7 is not in 30.7
            return True
        # A report of year Y speaks of Y-1 as 「去年/一年来」 without writing the year.
        if p.year and value in (str(p.year), str(p.year - 1)):
            return True
    return False


def verify_answer(text: str, passages: list[Passage]) -> Verification:
    text = clean_output(text)
    if is_refusal(text):
        return Verification(ok=False, refused=True)
    markers = find_markers(text)
    bad = sorted({n for n in markers if not 1 <= n <= len(passages)})
    cited = [passages[n - 1] for n in dict.fromkeys(markers) if 1 <= n <= len(passages)]
    unsupported = list(dict.fromkeys(x for x in _numbers(text) if not _supported(x, cited)))
    uncited = [text[a:b] for a, b in _sentences(text) if _needs_citation(text[a:b]) and not find_markers(text[a:b])]
    empty = not has_content(strip_markers(text))
    ok = not empty and bool(cited) and not bad and not unsupported and not uncited
    return Verification(ok=ok, bad_markers=bad, unsupported_numbers=unsupported, uncited_sentences=uncited, empty=empty)


# ---------------------------------------------------------------- repair and renumbering


def best_passage(sentence: str, passages: list[Passage]) -> int | None:
    """1-based index of the passage sharing most of the sentence's character bigrams, if enough."""
    grams = bigrams(strip_markers(sentence))
    if not grams:
        return None
    # The heading counts too: 「彬州2022年……」 names what the title and section say.
    scores = [len(grams & bigrams(f"{p.title}{p.section}{p.text}")) / len(grams) for p in passages]
    best = max(range(len(scores)), key=lambda i: scores[i], default=None)
    return None if best is None or scores[best] < MIN_OVERLAP else best + 1


def _rewrite_markers(text: str, keep: Callable[[list[int]], list[int]]) -> str:
    """Each marker group rewritten as [a][b] from keep(list of numbers) (empty: removed)."""

    def sub(m: re.Match) -> str:
        nums = keep([int(n) for n in re.split(r"\s*[,，、]\s*", m.group(1))])
        return "".join(f"[{n}]" for n in dict.fromkeys(nums))

    return _MARKER_RE.sub(sub, text)


def repair_answer(text: str, passages: list[Passage]) -> str | None:
    """The answer with bad markers dropped and uncited sentences cited by matching, if it then
    holds up (valid markers, every figure in a cited passage); else None."""
    text = clean_output(text)
    if not text or is_refusal(text):
        return None
    text = _rewrite_markers(text, lambda ns: [n for n in ns if 1 <= n <= len(passages)])
    out, pos = [], 0
    for a, b in _sentences(text):
        sentence = text[a:b]
        if _needs_citation(sentence) and not find_markers(sentence):
            n = best_passage(sentence, passages)
            if n is not None:
                # The marker goes before the closing punctuation: 「……326.3亿元[1]。」
                cut = _TRAILING_PUNCT_RE.search(sentence).start()
                sentence = f"{sentence[:cut]}[{n}]{sentence[cut:]}"
        out += [text[pos:a], sentence]
        pos = b
    out.append(text[pos:])
    repaired = "".join(out)
    v = verify_answer(repaired, passages)
    if v.refused or v.empty or v.bad_markers or v.unsupported_numbers or not find_markers(repaired):
        return None
    return repaired


def renumber_citations(text: str, passages: list[Passage]) -> tuple[str, list[Passage]]:
    """Only the cited passages, in order of first citation, with markers renumbered 1..m."""
    order = list(dict.fromkeys(n for n in find_markers(text) if 1 <= n <= len(passages)))
    new = {old: i for i, old in enumerate(order, 1)}
    text = _rewrite_markers(text, lambda ns: [new[n] for n in ns if n in new])
    return text, [passages[n - 1] for n in order]


MIN_SPAN_OVERLAP = 0.3  # share of a cited clause's bigrams a passage sentence must hold to be its span


def _cited_clauses(text: str) -> list[tuple[int, str]]:
    """(marker number, the clause it cites) for every marker; adjacent markers 「…[1][2]」 share
    the clause before them."""
    out, previous_end, clause = [], 0, ""
    for m in _MARKER_RE.finditer(text):
        piece = re.sub(r"^.*?据《[^》]*》[：:]", "", text[previous_end : m.start()]).strip(" ，,；;：:。、\n")
        previous_end = m.end()
        if len(piece) >= 2:
            clause = re.split(r"[。！？!?\n]", piece)[-1].strip(" ，,；;：:、") or piece
        out += [(n, clause) for n in find_markers(m.group(0)) if len(clause) >= 2]
    return out


def _span_of(clause: str, passage: Passage) -> tuple[int, int] | None:
    """Document offsets of what the clause cites in the passage: the clause itself when it is
    quoted, else the passage sentence most like it (when alike enough)."""
    at = passage.text.find(clause)
    if at >= 0:
        return passage.start + at, passage.start + at + len(clause)
    want = bigrams(clause)
    sentences = split_sentences(passage.text)
    if not want or not sentences:
        return None
    overlap = [len(want & bigrams(passage.text[a:b])) / len(want) for a, b in sentences]
    best = max(range(len(sentences)), key=overlap.__getitem__)
    a, b = sentences[best]
    return (passage.start + a, passage.start + b) if overlap[best] >= MIN_SPAN_OVERLAP else None


def cite(text: str, passages: list[Passage]) -> list[Citation]:
    """Citations of a (renumbered) generated answer, each with the spans its sentences state."""
    spans: dict[int, set[tuple[int, int]]] = {n: set() for n in range(1, len(passages) + 1)}
    for n, clause in _cited_clauses(text):
        if n in spans and (span := _span_of(clause, passages[n - 1])):
            spans[n].add(span)
    return [Citation(p, tuple(sorted(spans[n]))) for n, p in enumerate(passages, 1)]


# ---------------------------------------------------------------- rewriting follow-ups


def _render_history(history: History) -> str:
    lines = []
    for q, a in history[-MAX_HISTORY_TURNS:]:
        a = strip_markers(a).strip()
        lines += [f"用户：{q.strip()}", f"助手：{a[:200] + '…' if len(a) > 200 else a}"]
    return "\n".join(lines)


def rewrite_with_llm(question: str, history: History | None, chat_model: BaseChatModel) -> str:
    """A standalone version of a follow-up question; the question itself when in doubt."""
    question = question.strip()
    if not history:
        return question
    from langchain_core.messages import HumanMessage

    prompt = load_prompt("rewrite_followup").format(history=_render_history(history), question=question)
    try:
        out = clean_output(chat_model.invoke([HumanMessage(prompt)]).text)
    except Exception as exc:
        log.warning("chat model failed to rewrite the question: %s", exc)
        return question
    lines = [line for line in out.splitlines() if line.strip()]
    out = lines[0] if lines else ""
    out = re.sub(r"^(?:改写后的问题|问题)[：:]\s*", "", out.strip())
    out = out.strip().strip("「」“”\"'‘’` ").strip()
    return question if not out or len(out) > 200 else out
