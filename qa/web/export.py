"""A conversation as Markdown: every question, its answer, and under it the passages the answer
cites, with report title, section and document offsets; the cited text is in bold.

A turn is {"question": what the user typed, "answer": Answer.to_dict()} (spans: [start, end] pairs).
"""
from __future__ import annotations

from datetime import datetime

from .render import MODE_LABELS


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines() or [""])


def _bold_spans(citation: dict) -> str:
    """The passage text with each cited span in **bold** (spans in document offsets)."""
    text, start = citation["text"], citation["start"]
    out, at = [], 0
    for s, e in sorted(citation.get("spans", [])):
        a, b = max(at, s - start), min(len(text), e - start)
        if b <= a:
            continue
        out += [text[at:a], f"**{text[a:b]}**"]
        at = b
    out.append(text[at:])
    return "".join(out)


def _passage_md(label: str, p: dict) -> list[str]:
    section = f" · {p['section']}" if p.get("section") else ""
    return [f"{label} 《{p['title']}》{section}（第 {p['start']}–{p['end']} 字）", "", _quote(_bold_spans(p)), ""]


def turn_markdown(n: int, turn: dict) -> list[str]:
    answer = turn["answer"]
    lines = [f"## 问题 {n}：{turn['question']}", ""]
    if answer["question"] and answer["question"] != turn["question"]:
        lines += [f"（按上下文理解为：{answer['question']}）", ""]
    lines += [f"**回答**（{MODE_LABELS.get(answer['mode'], answer['mode'])}）：", "", answer["text"], ""]
    if answer.get("note"):
        lines += [f"提示：{answer['note']}", ""]
    if answer["citations"]:
        lines += ["**来源**", ""]
        for n, c in enumerate(answer["citations"], 1):
            lines += _passage_md(f"[{n}]", c)
    elif answer["refused"] and answer.get("related"):
        lines += ["**最接近的段落**（仅供参考，未能回答问题）", ""]
        for i, p in enumerate(answer["related"], 1):
            lines += _passage_md(f"相关 {i}", p)
    return lines


def conversation_markdown(turns: list[dict], when: datetime | None = None) -> str:
    """The whole conversation as one Markdown document."""
    when = when or datetime.now()
    lines = ["# 政府工作报告问答：对话记录", "", f"导出于 {when:%Y-%m-%d %H:%M}，共 {len(turns)} 个问题。", ""]
    for n, turn in enumerate(turns, 1):
        lines += turn_markdown(n, turn)
    return "\n".join(lines).rstrip() + "\n"
