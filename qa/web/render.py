"""Answers, refusals and errors as the HTML the chat shows, and as plain text for the clipboard.

Every citation carries the document offsets of the text it cites, so highlighting is slicing:
no searching of the answer text in the passage.
"""
from __future__ import annotations

import html
import re
import uuid

from ..schema import Answer, Passage

MARKER_RE = re.compile(r"\[(\d{1,2})\]")
MODE_LABELS = {"extractive": "原文摘录", "facts": "报告数据（原文摘录）", "llm": "大模型生成", "llm-repaired": "大模型生成（已补全引用）",
               "llm-fallback": "原文摘录（大模型回答未通过核验）"}


def esc(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "<br>")


def local_spans(passage: Passage, spans) -> list[tuple[int, int]]:
    """Document offsets -> merged offsets inside passage.text (clipped to it)."""
    local = sorted((max(0, s - passage.start), min(len(passage.text), e - passage.start)) for s, e in spans)
    merged: list[tuple[int, int]] = []
    for a, b in local:
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def highlight(text: str, spans: list[tuple[int, int]], focus: list[tuple[int, int]] = ()) -> str:
    """text, escaped, with each (start, end) range of it in <mark>, and inside a mark each `focus`
    range (the value a cited sentence states) in <strong class="qa-value">."""
    out, at = [], 0
    for a, b in spans:
        out.append(esc(text[at:a]))
        out.append(f"<mark>{_focused(text, a, b, focus)}</mark>")
        at = b
    out.append(esc(text[at:]))
    return "".join(out)


def _focused(text: str, a: int, b: int, focus) -> str:
    out, at = [], a
    for s, e in focus:
        s, e = max(s, at), min(e, b)
        if e <= s:
            continue
        out += [esc(text[at:s]), f'<strong class="qa-value">{esc(text[s:e])}</strong>']
        at = e
    out.append(esc(text[at:b]))
    return "".join(out)


def source_box(anchor: str, label: str, passage: Passage, spans=(), focus=(), opened: bool = False) -> str:
    """An expandable box with the passage, its report and section; `spans` (highlighted) and
    `focus` (emphasised inside them) in document offsets; `label` is HTML."""
    section = f" · {esc(passage.section)}" if passage.section else ""
    marked = highlight(passage.text, local_spans(passage, spans), local_spans(passage, focus))
    return (
        f'<details class="qa-source" id="{anchor}"{" open" if opened else ""}><summary>{label} 《{esc(passage.title)}》'
        f'<span class="qa-meta">{section}</span></summary>'
        f'<div class="qa-passage">{marked}</div></details>'
    )


def cite_link(turn: str, n: int, inner_html: str, extra_class: str = "") -> str:
    """A link to source box n of this turn (app.js opens it on click)."""
    anchor = f"src-{turn}-{n}"
    cls = f"cite {extra_class}".strip()
    return f'<a class="{cls}" href="#{anchor}" data-target="{anchor}" title="查看来源 {n}">{inner_html}</a>'


def link_markers(text_html: str, turn: str, count: int) -> str:
    """Each [n] with 1 <= n <= count becomes a link to the source box of this turn."""
    def link(m: re.Match) -> str:
        n = int(m.group(1))
        return cite_link(turn, n, f"[{n}]") if 1 <= n <= count else m.group(0)

    return MARKER_RE.sub(link, text_html)


def _sources_html(answer: Answer, turn: str) -> str:
    if answer.citations:
        boxes = [source_box(f"src-{turn}-{n}", f"[{n}]", c.passage, c.spans) for n, c in enumerate(answer.citations, 1)]
        title = "来源（点击展开原文）"
    elif answer.refused and answer.related:
        boxes = [source_box(f"rel-{turn}-{n}", f"相关 {n}", p) for n, p in enumerate(answer.related, 1)]
        title = "最接近的段落（仅供参考，未能回答问题）"
    else:
        return ""
    return f'<div class="qa-sources"><div class="qa-sources-title">{title}</div>{"".join(boxes)}</div>'


def render_answer(answer: Answer, turn: str | None = None, seconds: float | None = None) -> str:
    """An answer as one HTML block for the chatbot: text with [n] linked to its sources, a note,
    then each cited passage (or, for a refusal, the related passages) in an expandable box."""
    turn = turn or uuid.uuid4().hex[:8]
    text = link_markers(esc(answer.text), turn, len(answer.citations))
    parts = [f'<div class="qa-answer"><div class="qa-text">{text}</div>']
    if len(answer.rows) > 1:
        parts.append(rows_table(answer, turn))
    if answer.note:
        parts.append(f'<div class="qa-note">提示：{esc(answer.note)}</div>')
    meta = [MODE_LABELS.get(answer.mode, answer.mode)]
    if seconds is not None:
        meta.append(f"用时 {seconds:.1f} 秒")
    parts.append(f'<div class="qa-note">{" · ".join(esc(m) for m in meta)}</div>')
    parts.append(_sources_html(answer, turn))
    parts.append("</div>")
    return "".join(parts)  # one line, no blank lines: the chatbot keeps it as one raw HTML block


def rows_table(answer: Answer, turn: str) -> str:
    """A comparison's values as a small table under the text; each value links to its source
    box (the same as its [n] marker)."""
    def value(row: dict) -> str:
        if row["value"] is None:
            return "报告未给出"
        quals = "、".join(row["qualifiers"])
        return f"{row['value']:g}{row['unit']}" + (f"（{quals}）" if quals else "")

    body, count = [], len(answer.citations)
    for r in answer.rows:
        linked = r["marker"] and 1 <= r["marker"] <= count
        shown = cite_link(turn, r["marker"], esc(value(r)), "qa-cell") if linked else esc(value(r))
        source = link_markers(f"[{r['marker']}]", turn, count) if r["marker"] else ""
        body.append(f"<tr><td>{esc(r['city'])}</td><td>{shown}</td><td>{source}{esc(r['note'])}</td></tr>")
    body = "".join(body)
    return f'<table class="qa-rows"><thead><tr><th>城市</th><th>数值</th><th>出处</th></tr></thead><tbody>{body}</tbody></table>'


def fact_source_panel(label: str | None, message: str, passage: Passage | None = None,
                      sentence: tuple[int, int] = (0, 0), value: tuple[int, int] = (0, 0)) -> str:
    """The 指标对比 tab's source panel: a value's passage in the chat's source box, opened, with
    its sentence highlighted and the value emphasised; or a message (label None)."""
    if label is None or passage is None:
        return f'<div class="qa-answer qa-fact-source"><div class="qa-note">{esc(message)}</div></div>'
    box = source_box("fact-source", esc(label), passage, [sentence], [value], opened=True)
    return (f'<div class="qa-answer qa-fact-source"><div class="qa-sources">'
            f'<div class="qa-sources-title">原文出处</div>{box}</div></div>')


def render_pending(text: str = "") -> str:
    body = esc(text) if text else "正在检索报告……"
    return f'<div class="qa-answer"><div class="qa-text">{body}</div></div>'


def render_error(message: str) -> str:
    return f'<div class="qa-answer qa-error">{esc(message)}</div>'


def answer_plain(answer: Answer) -> str:
    """The answer and its sources (with the passages' text) as plain text, for the clipboard."""
    lines = [answer.text]
    if answer.citations:
        lines += ["", "来源："]
        for n, citation in enumerate(answer.citations, 1):
            p = citation.passage
            section = f" {p.section}" if p.section else ""
            lines.append(f"[{n}] 《{p.title}》{section}：{p.text}")
    return "\n".join(lines)
