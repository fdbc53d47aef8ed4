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
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .schema import History, Passage

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


def _spec(spec: str | None) -> str:
    return (os.environ.get("QA_LLM", "") if spec is None else spec).strip()


def load_chat_model(spec: str | None = None) -> BaseChatModel | None:
    """The chat model named by `spec` (default $QA_LLM), or None when none is configured.

    `openai:<model>`: any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp server,
    DeepSeek, Qwen/DashScope) via OPENAI_BASE_URL and OPENAI_API_KEY.
    `llamacpp:<path.gguf>`: a local GGUF file run in-process by llama-cpp-python.
    """
    spec = _spec(spec)
    if not spec:
        return None
    kind, _, arg = spec.partition(":")  # first colon only: Ollama names look like qwen2.5:7b
    kind, arg = kind.strip().lower(), arg.strip()
    if kind == "openai" and arg:
        if importlib.util.find_spec("langchain_openai") is None:
            raise ImportError(f"QA_LLM={spec!r} needs langchain-openai: pip install langchain-openai")
        from langchain_openai import ChatOpenAI

        kwargs: dict = {}
        if os.environ.get("OPENAI_BASE_URL") and not os.environ.get("OPENAI_API_KEY"):
            kwargs["api_key"] = "EMPTY"  # local servers (vLLM, Ollama) ignore the key but the client wants one
        return ChatOpenAI(model=arg, temperature=0, timeout=120, max_retries=1, **kwargs)
    if kind == "llamacpp" and arg:
        if importlib.util.find_spec("llama_cpp") is None:
            raise ImportError(f"QA_LLM={spec!r} needs llama-cpp-python: pip install llama-cpp-python")
        path = Path(arg).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"QA_LLM={spec!r}: no GGUF file at {path}")
        from langchain_community.chat_models.llamacpp import ChatLlamaCpp

        return ChatLlamaCpp(
            model_path=str(path),
            n_ctx=int(os.environ.get("QA_LLM_CTX", "4096")),  # the default 512 cannot hold 5 passages
            temperature=0,
            max_tokens=512,
            verbose=False,
        )
    raise ValueError(
        f"unknown chat model {spec!r}: use 'openai:<model>' (OpenAI-compatible server, "
        "set OPENAI_BASE_URL/OPENAI_API_KEY) or 'llamacpp:/path/to/model.gguf'"
    )


def describe_chat_model(spec: str | None = None) -> str:
    """A short name for the UI ('' when no model is configured); never loads the model."""
    spec = _spec(spec)
    if not spec:
        return ""
    kind, _, arg = spec.partition(":")
    kind, arg = kind.strip().lower(), arg.strip()
    if kind == "openai":
        base = os.environ.get("OPENAI_BASE_URL", "").strip()
        return f"{arg}（{base}）" if base else f"{arg}（OpenAI）"
    if kind == "llamacpp":
        return f"{Path(arg).name}（llama.cpp 本地）"
    return spec


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
    """Text deltas of the model's answer as they arrive (unverified: verify the joined text)."""
    for chunk in chat_model.stream(build_messages(question, passages, history)):
        if chunk.text:
            yield str(chunk.text)  # .text flattens content blocks some providers send


# ---------------------------------------------------------------- verification

# [1] ［1］ 【1】 [1,2] [1、2]; [1][2] is two markers.
_MARKER_RE = re.compile(r"[\[［【]\s*(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\s*[\]］】]")
# A sentence ends at 。！？；, a newline, or the end; markers written after the stop still
# belong to it (「……326.3亿元。[1]」).
_SENTENCE_END_RE = re.compile(
    r"[。！？；!?;…]+[”’」』）)]*(?:[ \t]*" + _MARKER_RE.pattern + r")*|\n"
)
_TRAILING_PUNCT_RE = re.compile(r"[。！？；!?;…，,、：:\s]*[”’」』）)]*\s*$")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_LIST_NUMBER_RE = re.compile(r"(?m)^\s*(?:\d{1,2}[.、)）](?!\d)|[(（]\d{1,2}[)）])")
_NUMBER_RE = re.compile(
    r"(?<![\d.])\d+(?:\.\d+)?(?:%|‰|万亿元|亿元|万元|元|万人次|人次|万人|人|个百分点|万吨|吨|万亩|亩|"
    r"平方公里|公里|万平方米|平方米|万户|户|万家|家|个|项|所|座|倍|年|月|日|天|位)?"
)
_THINK_RE = re.compile(r"<think>.*?(?:</think>|$)", re.S)  # reasoning models (DeepSeek-R1, Qwen3)
_CONTENT_RE = re.compile(r"[^\W_]", re.U)


@dataclass
class Verification:
    ok: bool  # a usable answer: cited throughout, markers valid, figures supported (a refusal is not ok)
    bad_markers: list[int] = field(default_factory=list)
    unsupported_numbers: list[str] = field(default_factory=list)
    uncited_sentences: list[str] = field(default_factory=list)
    refused: bool = False
    empty: bool = False  # nothing but markers and punctuation (「[1] [2]」): small models do that


def _norm(text: str) -> str:
    """NFKC folds full-width digits and signs (３２６．３％); thousands separators go."""
    return _THOUSANDS_RE.sub("", unicodedata.normalize("NFKC", text))


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
    spans, pos = [], 0
    for m in _SENTENCE_END_RE.finditer(text):
        spans.append((pos, m.end()))
        pos = m.end()
    spans.append((pos, len(text)))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def _needs_citation(sentence: str) -> bool:
    """Sentences that state something; not lead-ins (「具体如下：」), bare bullets or the refusal."""
    body = strip_markers(sentence).strip()
    if not _CONTENT_RE.search(body) or REFUSAL.rstrip("。") in body:
        return False
    return not body.rstrip("*").endswith(("：", ":"))


def _numbers(text: str) -> list[str]:
    text = _LIST_NUMBER_RE.sub(" ", _norm(strip_markers(text)))  # 「1. 」 list numbering is no claim
    return [m.group(0) for m in _NUMBER_RE.finditer(text)]


def _supported(number: str, passages: list[Passage]) -> bool:
    value = re.match(r"\d+(?:\.\d+)?", number).group(0)
    # Whole numbers only: 0.7 is not in 30.7, 6 is not in 6.8.
    pattern = re.compile(r"(?<!\d)(?<!\d\.)" + re.escape(value) + r"(?!\.?\d)")
    for p in passages:
        if pattern.search(_norm(f"{p.title} {p.section} {p.text}")):
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
    empty = not _CONTENT_RE.search(strip_markers(text))
    ok = not empty and bool(cited) and not bad and not unsupported and not uncited
    return Verification(ok=ok, bad_markers=bad, unsupported_numbers=unsupported, uncited_sentences=uncited, empty=empty)


# ---------------------------------------------------------------- repair and renumbering


def _bigrams(text: str) -> set[str]:
    chars = "".join(_CONTENT_RE.findall(_norm(strip_markers(text))))
    return {chars[i : i + 2] for i in range(len(chars) - 1)}


def best_passage(sentence: str, passages: list[Passage]) -> int | None:
    """1-based index of the passage sharing most of the sentence's character bigrams, if enough."""
    grams = _bigrams(sentence)
    if not grams:
        return None
    # The heading counts too: 「彬州2022年……」 names what the title and section say.
    scores = [len(grams & _bigrams(f"{p.title}{p.section}{p.text}")) / len(grams) for p in passages]
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


# ---------------------------------------------------------------- the whole generative path


def llm_answer(
    question: str, passages: list[Passage], chat_model: BaseChatModel, history: History | None = None
) -> tuple[str, list[Passage], str]:
    """(text, citations, status): status "ok" | "repaired" (text and citations usable),
    "refused" (text is REFUSAL) or "failed" (use the extractive answer; text is the raw output)."""
    if not passages:
        return REFUSAL, [], "refused"
    try:
        raw = "".join(generate_answer(question, passages, chat_model, history))
    except Exception as exc:  # a down server or a broken model must not break the app
        log.warning("chat model failed: %s", exc)
        return "", [], "failed"
    text = clean_output(raw)
    v = verify_answer(text, passages)
    if v.refused:
        return REFUSAL, [], "refused"
    if v.ok:
        return (*renumber_citations(text, passages), "ok")
    repaired = repair_answer(text, passages)
    if repaired is None:
        log.info("LLM answer rejected: %s", v)
        return text, [], "failed"
    return (*renumber_citations(repaired, passages), "repaired")


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
