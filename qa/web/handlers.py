"""What the page's events do, as plain functions of plain values (no Gradio objects), so tests
call them directly. `layout` binds them to the components.

The conversation is kept as `turns`: [{"question": typed, "answer": Answer.to_dict()}], the
same record the HTTP API returns; the chat history for follow-ups and the Markdown export are
made from it.
"""
from __future__ import annotations

import logging
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

from .. import manage
from ..answer import ask_stream
from ..errors import ManageError, QuestionError
from ..pipeline import open_kb
from ..schema import Answer, History
from .export import conversation_markdown
from .render import answer_plain, fact_source_panel, render_answer, render_error, render_pending

log = logging.getLogger(__name__)

MAX_HISTORY_TURNS = 6  # earlier turns passed to ask_stream for follow-ups
TABLE_HEADERS = ["标题", "城市", "年份", "字数", "段落数", "来源文件"]
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class KBView:
    """What the knowledge-base tab and the city filter show."""

    summary: str
    rows: list[list]
    reports: list[tuple[str, str]]  # (label, doc_id) for the remove dropdown
    cities: list[str]
    cities_kept: list[str]  # the user's city selection, minus cities no longer in the KB


# ---------------------------------------------------------------- chat


def history_of(turns: list[dict]) -> History:
    """(standalone question, answer text) pairs of the last turns, for follow-ups."""
    return [(t["answer"]["question"] or t["question"], t["answer"]["text"]) for t in turns[-MAX_HISTORY_TURNS:]]


def respond(root: str | Path, message: str, chat: list, turns: list, cities: list[str] | None, k: int,
            mode: str) -> Iterator[tuple[str, list, list, str | None]]:
    """Yields (question box, chat messages, turns, text to copy or None = unchanged), each a new
    list: a pending bubble, streamed text, then the rendered answer; a bad question becomes an
    error bubble."""
    chat, turns = list(chat or []), list(turns or [])
    question = (message or "").strip()
    if question:
        chat.append({"role": "user", "content": question})
    chat.append({"role": "assistant", "content": render_pending()})
    yield "", list(chat), list(turns), None
    started, streamed, turn = time.perf_counter(), "", uuid.uuid4().hex[:8]
    try:
        for event in ask_stream(question, history=history_of(turns), k=int(k), city=list(cities or []) or None,
                                kb_dir=Path(root), mode=mode or "extractive"):
            if event["type"] == "answer":
                answer: Answer = event["answer"]
                seconds = time.perf_counter() - started
                chat[-1] = {"role": "assistant", "content": render_answer(answer, turn, seconds)}
                turns.append({"question": question, "answer": answer.to_dict()})
                log.info("answered in %.2f s (%s, %d citations): %s", seconds, answer.mode, len(answer.citations), question)
                yield "", list(chat), list(turns), answer_plain(answer)
                return
            streamed = streamed + event["text"] if event["type"] == "delta" else event["text"]
            chat[-1] = {"role": "assistant", "content": render_pending(streamed)}
            yield "", list(chat), list(turns), None
    except QuestionError as exc:
        chat[-1] = {"role": "assistant", "content": render_error(str(exc))}
    except Exception as exc:  # noqa: BLE001 - a failing question must not break the session
        log.exception("question failed: %s", question)
        chat[-1] = {"role": "assistant", "content": render_error(f"出错了：{exc}")}
    yield "", chat, turns, ""


def example_text(value) -> str:
    """The question of a clicked example (Gradio passes {"text": ...})."""
    return value.get("text", "") if isinstance(value, dict) else str(value)


def export_file(turns: list[dict], folder: str | Path | None = None) -> str | None:
    """The conversation written as Markdown to a new file; None when there is nothing to export."""
    if not turns:
        return None
    folder = Path(folder or tempfile.mkdtemp(prefix="qa-export-"))
    path = folder / f"对话记录-{datetime.now():%Y%m%d-%H%M%S}.md"
    path.write_text(conversation_markdown(turns), encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------- knowledge base


def kb_view(root: str | Path, cities_value: list[str] | None = None) -> KBView:
    kb = open_kb(Path(root))
    reports = manage.list_reports(kb)
    m = kb.manifest
    summary = (f"共 **{len(reports)}** 份报告、**{len(kb.passages)}** 个段落 · 索引建于 {m.built_at or '?'} · "
               f"嵌入模型 `{m.embed_model}`")
    rows = [[r["title"], r["city"] or "—", r["year"] or "", f"{r['chars']:,}", r["passages"],
             r["source"] + ("（上传）" if r["uploaded"] else "")] for r in reports]
    # a version's title already names its file (「…（彬州.txt）」)
    choices = [(r["title"] if r["title"].endswith(f"（{r['source']}）") else f"{r['title']}（{r['source']}）", r["doc_id"])
               for r in reports]
    kept = [c for c in (cities_value or []) if c in kb.cities]
    return KBView(summary, rows, choices, list(kb.cities), kept)


def _error_list(errors: list[tuple[str, str]]) -> str:
    return "\n".join(f"- **{name}**：{reason}" for name, reason in errors)


DUPLICATE_BUTTONS = {"replace": "替换", "keep": "并存为新版本", "cancel": "取消"}  # manage's on_duplicate -> button


@dataclass(frozen=True)
class AddStep:
    """What one step of adding files did: the message, the new view, whether the file box is
    cleared, and the files waiting for the user's choice about reports of the same city and year
    (the choice dialog shows while `pending` is not empty, with `question` in it)."""

    message: str
    view: KBView
    clear_files: bool
    pending: tuple[str, ...] = ()
    question: str = ""


def duplicate_question(duplicates: list[manage.Duplicate], files: int) -> str:
    """The dialog's text: for each conflict, the new file and the report(s) already in the
    knowledge base; then what each button does. Nothing has been added yet."""
    lines = [f"- 新文件 **{d.file}**（《{d.title}》）与知识库中已有的 "
             + "、".join(f"《{t}》" for t in d.existing_titles) + f" 都是{d.year}年{d.city}的报告" for d in duplicates]
    others = files - len({d.file for d in duplicates})
    rest = f"；其余 {others} 个文件照常添加" if others > 0 else ""
    return ("**发现同一城市、同一年份的报告，还没有添加任何文件。** 请选择：\n\n" + "\n".join(lines) + "\n\n"
            f"- **{DUPLICATE_BUTTONS['replace']}**：删除原报告，由新文件代替\n"
            f"- **{DUPLICATE_BUTTONS['keep']}**：两份都保留，标题注明文件名，回答会写明引用的是哪个版本\n"
            f"- **{DUPLICATE_BUTTONS['cancel']}**：不添加有冲突的文件{rest}")


def add(root: str | Path, paths: list[str], cities: list[str] | None, progress: Progress | None = None,
        on_duplicate: str = "ask") -> AddStep:
    """Add uploaded files. With on_duplicate "ask" (the 添加 button), files that claim the city and
    year of a report already in the knowledge base stop the whole batch: nothing is added, the
    files wait in `pending` for the dialog's choice, which calls this again with "replace",
    "keep" or "cancel" (manage.add_files' on_duplicate)."""
    if not paths:
        text = "请先选择要添加的文件。" if on_duplicate == "ask" else "没有等待处理的文件：请重新选择文件并点击“添加到知识库”。"
        return AddStep(text, kb_view(root, cities), False)
    if on_duplicate not in DUPLICATE_BUTTONS and on_duplicate != "ask":
        return AddStep(f"没有添加：未知的选择 {on_duplicate!r}", kb_view(root, cities), False)
    if on_duplicate == "ask":
        try:
            duplicates = manage.find_duplicates(paths, kb_dir=root)
        except Exception as exc:  # noqa: BLE001
            log.exception("checking uploads failed")
            return AddStep(f"添加失败：{exc}", kb_view(root, cities), False)
        if duplicates:
            return AddStep("尚未添加：请在上方选择如何处理同一城市、同一年份的报告。", kb_view(root, cities), False,
                           tuple(paths), duplicate_question(duplicates, len(paths)))
    message, taken = _add_files(root, paths, on_duplicate, progress)
    return AddStep(message, kb_view(root, cities), taken)


def _add_files(root: str | Path, paths: list[str], on_duplicate: str, progress: Progress | None) -> tuple[str, bool]:
    """(message, whether the files were taken in: added or rejected one by one, rather than failed
    as a whole)."""
    # (doc_id, source): a replacing upload can have the doc_id (its title) of the report it replaces
    before = {(d.doc_id, d.source): d for d in open_kb(Path(root)).documents.values()}
    started = time.perf_counter()
    try:
        kb, errors = manage.add_files(paths, kb_dir=root, progress=progress, on_duplicate=on_duplicate)
    except Exception as exc:  # noqa: BLE001
        log.exception("adding files failed")
        return f"添加失败：{exc}", False
    after = {(d.doc_id, d.source) for d in kb.documents.values()}
    new = [d for d in kb.documents.values() if (d.doc_id, d.source) not in before]
    gone = [d for key, d in before.items() if key not in after]
    lines = []
    if new:
        lines.append(f"已添加 {len(new)} 份报告：" + "、".join(f"《{d.title}》" for d in new)
                     + f"（新嵌入 {kb.manifest.embedded_now} 条文本，用时 {time.perf_counter() - started:.1f} 秒）")
    if gone:
        lines.append("已替换（移出知识库）：" + "、".join(f"《{d.title}》（{d.source}）" for d in gone))
    if not new and len({name for name, _ in errors}) < len(paths):
        lines.append("文件已保存，但没有新增报告（内容可能与已有报告重复）。")
    if errors:
        lines.append("以下文件没有添加：\n" + _error_list(errors))
    return "\n\n".join(lines), True


def remove(root: str | Path, doc_id: str | None, cities: list[str] | None,
           progress: Progress | None = None) -> tuple[str, KBView]:
    """Remove one report (doc_id None: the user did not choose or did not confirm)."""
    if not doc_id:
        return "没有删除：请先在下拉框中选择要删除的报告（并确认）。", kb_view(root, cities)
    kb = open_kb(Path(root))
    title = kb.documents[doc_id].title if doc_id in kb.documents else doc_id
    try:
        manage.remove_report(doc_id, kb_dir=root, progress=progress)
    except ManageError as exc:
        return f"没有删除：{exc}", kb_view(root, cities)
    except Exception as exc:  # noqa: BLE001
        log.exception("removing %s failed", doc_id)
        return f"删除失败：{exc}", kb_view(root, cities)
    return f"已删除《{title}》。", kb_view(root, cities)


def rebuild(root: str | Path, cities: list[str] | None, progress: Progress | None = None) -> tuple[str, KBView]:
    started = time.perf_counter()
    try:
        kb, errors = manage.rebuild(kb_dir=root, progress=progress)
    except Exception as exc:  # noqa: BLE001
        log.exception("rebuild failed")
        return f"重建失败：{exc}", kb_view(root, cities)
    text = (f"索引已重建：{len(kb.documents)} 份报告、{len(kb.passages)} 个段落，"
            f"新嵌入 {kb.manifest.embedded_now} 条文本，用时 {time.perf_counter() - started:.1f} 秒。")
    if errors:
        text += "\n\n以下文件无法读取，已跳过：\n" + _error_list(errors)
    return text, kb_view(root, cities)


# ---------------------------------------------------------------- indicator comparison (指标对比)

FACT_HEADERS = ["城市", "数值", "单位", "说明", "原文", "出处"]
KIND_LABELS = {"amount": "总量", "growth": "增速", "share": "比重", "count": "数量", "rank": "位次"}
PERIOD_LABELS = {"2022": "2022年实际", "2023": "2023年目标", "五年": "过去五年"}


@dataclass(frozen=True)
class FactTable:
    """One indicator across reports: the table rows (each with the sentence that states the value,
    and where it is), the bar chart's points (one kind and unit), a CSV file, and a message."""

    rows: list[list]
    chart: list[dict]
    csv_path: str | None
    message: str
    sources: list[tuple] = ()  # per row: (doc_id, value start, value end, sentence start, sentence end)


def fact_table(root: str | Path, indicator: str, period: str, kind: str | None, cities: list[str] | None,
               folder: str | Path | None = None) -> FactTable:
    """The statistics the reports state for an indicator (any wording: 社零, 经济增速), period and
    kind, in the cities chosen (none: every report), highest first."""
    from ..facts import select_facts, signed_value

    kb = open_kb(root)
    try:
        facts = select_facts(kb.facts, indicator or None, None, period or None, kind or None)
    except ValueError as exc:
        return FactTable([], [], None, str(exc))
    facts = sorted((f for f in facts if not cities or f.city in cities), key=signed_value, reverse=True)
    if not facts:
        return FactTable([], [], None, "知识库中的报告没有给出这个指标。")
    rows = [_fact_row(kb, f, signed_value(f)) for f in facts]
    main = max({(f.kind, f.unit) for f in facts}, key=lambda ku: sum((f.kind, f.unit) == ku for f in facts))
    seen: set[str] = set()
    chart = [{"城市": f.city, "数值": signed_value(f)} for f in facts
             if (f.kind, f.unit) == main and not (f.city in seen or seen.add(f.city))]
    chart_note = f"图中为{KIND_LABELS.get(main[0], main[0])}（{main[1]}）。" if main[1] else ""
    missing = sorted(set(cities or kb.cities) - {f.city for f in facts})
    message = f"{len(facts)} 条数值，来自 {len({f.doc_id for f in facts})} 份报告。{chart_note}" + (
        f"报告未给出：{'、'.join(missing)}。" if missing else "")
    sources = [(f.doc_id, f.start, f.end, f.sentence_start, f.sentence_end) for f in facts]
    return FactTable(rows, chart, _write_csv(rows, folder), message, sources)


def _fact_row(kb, f, value: float) -> list:
    document = kb.documents[f.doc_id]
    # The sentence around the value: long report sentences list many figures.
    a, b = max(f.sentence_start, f.start - 50), min(f.sentence_end, f.end + 30)
    excerpt = ("……" if a > f.sentence_start else "") + document.text[a:b] + ("……" if b < f.sentence_end else "")
    notes = "、".join([KIND_LABELS.get(f.kind, f.kind), *f.qualifiers])
    return [f.city or "", f"{value:g}", f.unit, notes, excerpt, f"《{document.title}》第 {f.start} 字"]


def _write_csv(rows: list[list], folder: str | Path | None) -> str:
    import csv

    folder = Path(folder or tempfile.mkdtemp(prefix="qa-facts-"))
    path = folder / f"指标对比-{datetime.now():%Y%m%d-%H%M%S}.csv"
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:  # BOM: Excel reads it as UTF-8
        writer = csv.writer(fh)
        writer.writerow(FACT_HEADERS)
        writer.writerows(rows)
    return str(path)


FACT_SOURCE_HINT = "点击表中的一个数值（或它所在的行），在这里查看原文：所在段落、报告和章节，数值所在的句子高亮。"


def fact_source_placeholder() -> str:
    return fact_source_panel(None, FACT_SOURCE_HINT)


def clicked_row(rows: list[list], index, row_value: list | None) -> int | None:
    """The table row the user clicked, found by its values; by Gradio's index only when the event
    carries none. Gradio 6.31 reports the row's index in the data also after the user sorts the
    table, but earlier releases gave the place on screen (gradio-app/gradio#10702): the values
    make a click show its own row's source whatever the index means."""
    if row_value is not None:
        wanted = [str(v) for v in row_value]
        return next((i for i, row in enumerate(rows) if [str(v) for v in row] == wanted), None)
    at = index[0] if isinstance(index, (list, tuple)) else index
    return at if isinstance(at, int) and 0 <= at < len(rows) else None


def fact_source(root: str | Path, rows: list[list], sources: list, index, row_value: list | None) -> str:
    """The source panel for a clicked row of the 指标对比 table: the passage around the value,
    its report and section, the sentence highlighted and the value in it emphasised."""
    i = clicked_row(rows, index, row_value)
    if i is None or i >= len(sources):
        return fact_source_placeholder()
    doc_id, start, end, sentence_start, sentence_end = sources[i]
    kb = open_kb(Path(root))
    if doc_id not in kb.documents:
        return fact_source_panel(None, "这份报告已不在知识库中：请重新点击「对比」。")
    passage = kb.passage_at(doc_id, start)  # the value's passage (a long sentence may span two)
    city, value, unit = rows[i][:3]
    return fact_source_panel(f"{city} {value}{unit}", "", passage, (sentence_start, sentence_end), (start, end))
