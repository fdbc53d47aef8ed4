"""Web app: ask questions about government work reports and manage the knowledge base.

    python app.py [--host 127.0.0.1] [--port 7860] [--kb DIR]

Binds 127.0.0.1 by default and never creates a public share link. Optional login:
QA_AUTH=user:password, or QA_AUTH_FILE=path (one user:password per line).
The knowledge base is DIR, else $QA_KB_DIR, else kb/default (built on first start).
"""
from __future__ import annotations

import argparse
import html
import logging
import os
import re
import sys
import time
import uuid
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from an offline tool

import gradio as gr  # noqa: E402

from qa import manage  # noqa: E402
from qa.answer import ask_stream  # noqa: E402
from qa.config import from_env  # noqa: E402
from qa.errors import QuestionError  # noqa: E402
from qa.llm import describe_chat_model  # noqa: E402
from qa.pipeline import kb_root, open_kb  # noqa: E402
from qa.schema import Answer, Passage  # noqa: E402

log = logging.getLogger("app")

EXAMPLES = ["彬州去年GDP总量有多大？", "宁波2023年要新增多少就业？", "泉州怎么帮企业减负的？"]
UPLOAD_TYPES = list(manage.ALLOWED_SUFFIXES)
MAX_HISTORY_TURNS = 6  # earlier turns passed to ask_stream for follow-ups
MARKER_RE = re.compile(r"\[(\d{1,2})\]")

CSS = """
.qa-answer { line-height: 1.75; }
.qa-answer a.cite { font-size: .78em; vertical-align: super; line-height: 0; text-decoration: none;
  font-weight: 600; color: var(--color-accent); cursor: pointer; padding: 0 1px; }
.qa-answer a.cite:hover { text-decoration: underline; }
.qa-note { color: var(--body-text-color-subdued); font-size: .85em; margin-top: .35em; }
.qa-error { color: var(--error-text-color, #b91c1c); font-weight: 500; }
.qa-sources { margin-top: .7em; padding-top: .45em; border-top: 1px solid var(--border-color-primary); font-size: .93em; }
.qa-sources-title { font-weight: 600; color: var(--body-text-color-subdued); margin-bottom: .2em; }
.qa-sources details { margin: .35em 0; padding: .3em .65em; border: 1px solid var(--border-color-primary);
  border-radius: 6px; background: var(--background-fill-secondary); }
.qa-sources details[open] { background: var(--background-fill-primary); }
.qa-sources details.qa-flash { outline: 2px solid var(--color-accent); }
.qa-sources summary { cursor: pointer; font-weight: 600; }
.qa-sources .qa-meta { color: var(--body-text-color-subdued); font-weight: 400; font-size: .9em; }
.qa-sources .qa-passage { margin-top: .4em; line-height: 1.8; max-height: 20em; overflow-y: auto; }
.qa-sources mark { background: #fde68a; color: inherit; padding: 0 2px; border-radius: 2px; }
#qa-kb-msg ul { margin: .2em 0; }
footer { display: none !important; }
"""

# A click on a citation marker opens its source below the answer and scrolls to it.
HEAD = """
<script>
document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest("a.cite");
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  var id = link.getAttribute("data-target") || (link.getAttribute("href") || "").replace(/^#/, "");
  var box = id && document.getElementById(id);
  if (!box) return;
  box.open = true;
  box.scrollIntoView({behavior: "smooth", block: "center"});
  box.classList.add("qa-flash");
  setTimeout(function () { box.classList.remove("qa-flash"); }, 1600);
}, true);
</script>
"""

COPY_JS = """
(text) => {
  if (!text) return;
  const fallback = () => {
    const area = document.createElement("textarea");
    area.value = text; document.body.appendChild(area); area.select();
    try { document.execCommand("copy"); } finally { area.remove(); }
  };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).catch(fallback);
  else fallback();
}
"""

# Runs before `remove`: its return values replace the inputs (doc_id, cities); cancelling sends no doc_id.
CONFIRM_REMOVE_JS = "(doc, cities) => [doc && confirm('确定要从知识库中删除这份报告吗？') ? doc : null, cities]"


# ---------------------------------------------------------------- rendering answers


def _esc(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "<br>")


def _highlight(passage: Passage, spans) -> str:
    """The passage text with its cited spans (document offsets) marked."""
    text, out, at = passage.text, [], 0
    for a, b in ((a - passage.start, b - passage.start) for a, b in spans):
        out.append(_esc(text[at:a]))
        out.append(f"<mark>{_esc(text[a:b])}</mark>")
        at = b
    out.append(_esc(text[at:]))
    return "".join(out)


def _source_box(anchor: str, label: str, passage: Passage, spans: list[tuple[int, int]]) -> str:
    section = f" · {_esc(passage.section)}" if passage.section else ""
    return (
        f'<details class="qa-source" id="{anchor}"><summary>{label} 《{_esc(passage.title)}》'
        f'<span class="qa-meta">{section}</span></summary>'
        f'<div class="qa-passage">{_highlight(passage, spans)}</div></details>'
    )


def _link_markers(text_html: str, turn: str, count: int) -> str:
    def link(m: re.Match) -> str:
        n = int(m.group(1))
        if not 1 <= n <= count:
            return m.group(0)
        anchor = f"src-{turn}-{n}"
        return f'<a class="cite" href="#{anchor}" data-target="{anchor}" title="查看来源 {n}">[{n}]</a>'

    return MARKER_RE.sub(link, text_html)


MODE_LABELS = {"extractive": "原文摘录", "llm": "大模型生成", "llm-repaired": "大模型生成（已补全引用）",
               "llm-fallback": "原文摘录（大模型回答未通过核验）"}


def render_answer(answer: Answer, turn: str | None = None, seconds: float | None = None) -> str:
    """An answer as one HTML block for the chatbot: text with [n] linked to its sources, a note,
    then each cited passage (or, for a refusal, the related passages) in an expandable box."""
    turn = turn or uuid.uuid4().hex[:8]
    parts = [f'<div class="qa-answer"><div class="qa-text">{_link_markers(_esc(answer.text), turn, len(answer.citations))}</div>']
    if answer.note:
        parts.append(f'<div class="qa-note">提示：{_esc(answer.note)}</div>')
    meta = [MODE_LABELS.get(answer.mode, answer.mode)]
    if seconds is not None:
        meta.append(f"用时 {seconds:.1f} 秒")
    parts.append(f'<div class="qa-note">{" · ".join(_esc(m) for m in meta)}</div>')
    if answer.citations:
        parts.append('<div class="qa-sources"><div class="qa-sources-title">来源（点击展开原文）</div>')
        for n, citation in enumerate(answer.citations, 1):
            parts.append(_source_box(f"src-{turn}-{n}", f"[{n}]", citation.passage, citation.spans))
        parts.append("</div>")
    elif answer.refused and answer.related:
        parts.append('<div class="qa-sources"><div class="qa-sources-title">最接近的段落（仅供参考，未能回答问题）</div>')
        for n, passage in enumerate(answer.related, 1):
            parts.append(_source_box(f"rel-{turn}-{n}", f"相关 {n}", passage, []))
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)  # one line, no blank lines: the chatbot keeps it as one raw HTML block


def render_pending(text: str = "") -> str:
    body = _esc(text) if text else "正在检索报告……"
    return f'<div class="qa-answer"><div class="qa-text">{body}</div></div>'


def render_error(message: str) -> str:
    return f'<div class="qa-answer qa-error">{_esc(message)}</div>'


def answer_plain(answer: Answer) -> str:
    """The answer and its sources as plain text, for the clipboard."""
    lines = [answer.text]
    sources = [c.passage for c in answer.citations]
    if sources:
        lines.append("")
        lines.append("来源：")
        for n, p in enumerate(sources, 1):
            section = f" {p.section}" if p.section else ""
            lines.append(f"[{n}] 《{p.title}》{section}：{p.text}")
    return "\n".join(lines)


# ---------------------------------------------------------------- knowledge-base views


def _kb_views(kb_dir: Path | None, cities_value: list[str] | None = None):
    """(summary, table rows, remove-dropdown update, city-multiselect update) for the current KB."""
    kb = open_kb(kb_dir)
    reports = manage.list_reports(kb)
    m = kb.manifest
    summary = (f"共 **{len(reports)}** 份报告、**{len(kb.passages)}** 个段落 · 索引建于 {m.built_at} · "
               f"嵌入模型 `{m.embed_model}`")
    rows = [[r["title"], r["city"] or "—", r["year"] or "", f"{r['chars']:,}", r["passages"],
             r["source"] + ("（上传）" if r["uploaded"] else "")] for r in reports]
    choices = [(f"{r['title']}（{r['source']}）", r["doc_id"]) for r in reports]
    cities = kb.cities
    kept = [c for c in (cities_value or []) if c in cities]
    return (summary, rows, gr.update(choices=choices, value=None),
            gr.update(choices=cities, value=kept))


TABLE_HEADERS = ["标题", "城市", "年份", "字数", "段落数", "来源文件"]


def _error_list(errors: list[tuple[str, str]]) -> str:
    return "\n".join(f"- **{name}**：{reason}" for name, reason in errors)


# ---------------------------------------------------------------- the app


def build_app(kb_dir: str | Path | None = None) -> gr.Blocks:
    """The Gradio Blocks app over the knowledge base at kb_dir (default: $QA_KB_DIR or kb/default).
    Opens (and if needed builds) the knowledge base first."""
    config = from_env()
    root = kb_root(kb_dir, config)
    kb = open_kb(root, config=config)
    llm_name = describe_chat_model(config.llm)
    mode_choices = [("原文摘录（不用大模型，快）", "extractive"),
                    (f"大模型：{llm_name}" if llm_name else "大模型（未配置）", "llm")]

    def respond(message, chat, history, cities, k, mode):
        chat = list(chat or [])
        history = list(history or [])
        question = (message or "").strip()
        if question:
            chat.append({"role": "user", "content": question})
        chat.append({"role": "assistant", "content": render_pending()})
        yield "", chat, history, gr.update()
        turn = uuid.uuid4().hex[:8]
        started = time.perf_counter()
        streamed = ""
        try:
            for event in ask_stream(question, history=history[-MAX_HISTORY_TURNS:], k=int(k),
                                    city=list(cities) or None, kb_dir=root, mode=mode or "extractive"):
                if event["type"] == "delta":
                    streamed += event["text"]
                elif event["type"] == "replace":
                    streamed = event["text"]
                elif event["type"] == "answer":
                    answer: Answer = event["answer"]
                    seconds = time.perf_counter() - started
                    chat[-1] = {"role": "assistant", "content": render_answer(answer, turn, seconds)}
                    history.append((answer.question or question, answer.text))
                    log.info("answered in %.2f s (%s, %d citations): %s", seconds, answer.mode, len(answer.citations), question)
                    yield "", chat, history, answer_plain(answer)
                    return
                chat[-1] = {"role": "assistant", "content": render_pending(streamed)}
                yield "", chat, history, gr.update()
        except QuestionError as exc:
            chat[-1] = {"role": "assistant", "content": render_error(str(exc))}
        except Exception as exc:  # noqa: BLE001 - a failing question must not break the session
            log.exception("question failed: %s", question)
            chat[-1] = {"role": "assistant", "content": render_error(f"出错了：{exc}")}
        yield "", chat, history, ""

    def pick_example(evt: gr.SelectData):
        value = evt.value
        return value.get("text", "") if isinstance(value, dict) else str(value)

    def refresh(cities):
        return _kb_views(root, cities)

    def progress_cb(progress: gr.Progress):
        return lambda fraction, message: progress(fraction, desc=message)

    def add(files, cities, progress=gr.Progress()):
        paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (files or [])]
        if not paths:
            return ("请先选择要添加的文件。", gr.update(), *_kb_views(root, cities))
        before = set(open_kb(root).documents)
        started = time.perf_counter()
        try:
            kb, errors = manage.add_files(paths, kb_dir=root, progress=progress_cb(progress))
        except Exception as exc:  # noqa: BLE001
            log.exception("adding files failed")
            return (f"添加失败：{exc}", gr.update(), *_kb_views(root, cities))
        new = [d for d in kb.documents.values() if d.doc_id not in before]
        rejected = {name for name, _ in errors}
        lines = []
        if new:
            lines.append(f"已添加 {len(new)} 份报告：" + "、".join(f"《{d.title}》" for d in new)
                         + f"（新嵌入 {kb.manifest.embedded_now} 条文本，用时 {time.perf_counter() - started:.1f} 秒）")
        elif len(rejected) < len(paths):
            lines.append("文件已保存，但没有新增报告（内容可能与已有报告重复）。")
        if errors:
            lines.append("以下文件没有添加：\n" + _error_list(errors))
        return ("\n\n".join(lines), None, *_kb_views(root, cities))

    def remove(doc_id, cities, progress=gr.Progress()):
        if not doc_id:
            return ("没有删除：请先在下拉框中选择要删除的报告（并确认）。", *_kb_views(root, cities))
        kb = open_kb(root)
        title = kb.documents[doc_id].title if doc_id in kb.documents else doc_id
        try:
            manage.remove_report(doc_id, kb_dir=root, progress=progress_cb(progress))
        except manage.ManageError as exc:
            return (f"没有删除：{exc}", *_kb_views(root, cities))
        except Exception as exc:  # noqa: BLE001
            log.exception("removing %s failed", doc_id)
            return (f"删除失败：{exc}", *_kb_views(root, cities))
        return (f"已删除《{title}》。", *_kb_views(root, cities))

    def rebuild(cities, progress=gr.Progress()):
        started = time.perf_counter()
        try:
            kb, errors = manage.rebuild(kb_dir=root, progress=progress_cb(progress))
        except Exception as exc:  # noqa: BLE001
            log.exception("rebuild failed")
            return (f"重建失败：{exc}", *_kb_views(root, cities))
        text = (f"索引已重建：{len(kb.documents)} 份报告、{len(kb.passages)} 个段落，"
                f"新嵌入 {kb.manifest.embedded_now} 条文本，用时 {time.perf_counter() - started:.1f} 秒。")
        if errors:
            text += "\n\n以下文件无法读取，已跳过：\n" + _error_list(errors)
        return (text, *_kb_views(root, cities))

    summary0, rows0, _, _ = _kb_views(root)
    theme = gr.themes.Soft(font=["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"],
                           font_mono=["Noto Sans Mono CJK SC", "ui-monospace", "monospace"])
    with gr.Blocks(title="政府工作报告问答", analytics_enabled=False) as demo:
        demo.launch_defaults = {"css": CSS, "head": HEAD, "theme": theme}  # gradio 6 takes these in launch()
        history = gr.State([])
        gr.Markdown("## 政府工作报告问答\n回答只依据知识库中的政府工作报告，每句都标出出处；点击 [1] 这样的标记可查看原文。")
        with gr.Tabs():
            with gr.Tab("问答", id="chat"):
                with gr.Row():
                    with gr.Column(scale=4):
                        chatbot = gr.Chatbot(
                            label="对话", height=620, elem_id="qa-chat", latex_delimiters=[],
                            examples=[{"text": q} for q in EXAMPLES],
                            placeholder="### 问点什么？\n例如某市去年的经济数据、今年的目标或措施。",
                            feedback_options=None, buttons=[],
                        )
                        with gr.Row():
                            question = gr.Textbox(placeholder="输入问题，按回车发送，例如：彬州去年GDP总量有多大？",
                                                  show_label=False, scale=6, max_lines=4, elem_id="qa-question", autofocus=True)
                            send = gr.Button("发送", variant="primary", scale=1, min_width=80, elem_id="qa-send")
                        with gr.Row():
                            clear = gr.Button("清空对话", size="sm", elem_id="qa-clear")
                            copy = gr.Button("复制回答", size="sm", elem_id="qa-copy")
                        last_answer = gr.Textbox(visible="hidden", elem_id="qa-last-answer")
                    with gr.Column(scale=2, min_width=260):
                        cities = gr.Dropdown(choices=kb.cities, value=[], multiselect=True, label="检索范围",
                                             info="不选 = 全部报告；也可只选几个城市", elem_id="qa-cities")
                        k = gr.Slider(3, 12, value=config.answer.passages, step=1, label="检索段落数",
                                      info="阅读多少个最相关的段落来回答", elem_id="qa-k")
                        mode = gr.Radio(mode_choices, value="llm" if llm_name else "extractive", label="回答方式",
                                        interactive=bool(llm_name), elem_id="qa-mode",
                                        info=("大模型根据检索到的段落作答，数字和引用会自动核验" if llm_name
                                              else "未配置大模型：设置环境变量 QA_LLM 后可用（见 README）"))
            with gr.Tab("知识库", id="kb"):
                kb_summary = gr.Markdown(summary0, elem_id="qa-kb-summary")
                table = gr.Dataframe(value=rows0, headers=TABLE_HEADERS, interactive=False, wrap=True,
                                     max_height=420, elem_id="qa-kb-table", column_widths=["34%", "10%", "8%", "10%", "10%", "28%"])
                with gr.Row():
                    with gr.Column():
                        files = gr.File(label="添加报告（.txt .md .pdf .docx .jsonl，每个不超过 20 MB）", file_count="multiple",
                                        file_types=UPLOAD_TYPES, type="filepath", elem_id="qa-upload")
                        add_btn = gr.Button("添加到知识库", variant="primary", elem_id="qa-add")
                    with gr.Column():
                        to_remove = gr.Dropdown(label="删除报告", choices=[], value=None, elem_id="qa-remove-choice",
                                                info="上传的文件会被删除；自带报告会被排除出索引（记在 config.json 的 excluded 中）")
                        remove_btn = gr.Button("删除所选报告", variant="stop", elem_id="qa-remove")
                        rebuild_btn = gr.Button("重建索引", elem_id="qa-rebuild")
                kb_msg = gr.Markdown("", elem_id="qa-kb-msg")

        ask_io = dict(fn=respond, inputs=[question, chatbot, history, cities, k, mode],
                      outputs=[question, chatbot, history, last_answer], show_progress="hidden")
        question.submit(**ask_io)
        send.click(**ask_io)
        chatbot.example_select(pick_example, None, question).then(**ask_io)
        clear.click(lambda: ([], [], ""), None, [chatbot, history, last_answer], queue=False)
        chatbot.clear(lambda: ([], ""), None, [history, last_answer], queue=False)  # its own trash button
        copy.click(None, [last_answer], None, js=COPY_JS).then(
            lambda t: gr.Info("已复制回答和来源") if t else gr.Warning("还没有可复制的回答"), [last_answer], None)

        views = [kb_summary, table, to_remove, cities]
        kb_queue = dict(concurrency_limit=1, concurrency_id="kb-change")
        add_btn.click(add, [files, cities], [kb_msg, files, *views], **kb_queue)
        remove_btn.click(remove, [to_remove, cities], [kb_msg, *views], js=CONFIRM_REMOVE_JS, **kb_queue)
        rebuild_btn.click(rebuild, [cities], [kb_msg, *views], **kb_queue)
        demo.load(refresh, [cities], views)
    return demo


# ---------------------------------------------------------------- command line


def console_progress(prefix: str = "索引"):
    """A (fraction, message) callback that logs at most every 2 s (and at the end)."""
    last = [0.0]

    def report(fraction: float, message: str) -> None:
        now = time.monotonic()
        if fraction >= 1.0 or now - last[0] >= 2.0:
            last[0] = now
            log.info("[%s] %3.0f%% %s", prefix, fraction * 100, message)

    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="政府工作报告问答 web app")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--kb", default=None, help="knowledge-base folder (default $QA_KB_DIR or kb/default)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    auth = list(from_env().web.auth) or None
    root = kb_root(args.kb)
    t0 = time.perf_counter()
    log.info("opening the knowledge base at %s (the first start builds the index; this can take minutes)", root)
    kb = open_kb(root, progress=console_progress())
    log.info("knowledge base ready: %d reports, %d passages (%.1f s)", len(kb.documents), len(kb.passages), time.perf_counter() - t0)
    try:  # warm up the tokenizer and the model, so the first question is fast
        from qa.pipeline import retrieve

        retrieve("去年地区生产总值增长多少", k=1, kb_dir=root)
    except Exception:  # noqa: BLE001 - warm-up only
        log.exception("warm-up failed")
    demo = build_app(root)
    if args.host not in ("127.0.0.1", "localhost", "::1") and not auth:
        log.warning("listening on %s without a login: anyone who can reach this port can use the app "
                    "and change the knowledge base (set QA_AUTH=user:password)", args.host)
    log.info("ready after %.1f s", time.perf_counter() - t0)
    demo.queue(default_concurrency_limit=4, max_size=64).launch(
        server_name=args.host, server_port=args.port, share=False, auth=auth,
        auth_message="请登录" if auth else None, max_file_size="50mb", ssr_mode=False,
        show_error=False, inbrowser=False, **demo.launch_defaults,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
