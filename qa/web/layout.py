"""The page: Gradio components (chat tab, knowledge-base tab) and the events that connect them
to `handlers`. The adapters here only translate between Gradio (updates, progress, uploaded
files) and the handlers' plain values. CSS and JS are the files in static/, read once.
"""
from __future__ import annotations

import os
from functools import lru_cache, partial
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from an offline tool

import gradio as gr  # noqa: E402

from .. import manage  # noqa: E402
from ..config import Config, from_env  # noqa: E402
from ..llm import describe_chat_model  # noqa: E402
from ..pipeline import kb_root, open_kb  # noqa: E402
from . import handlers  # noqa: E402
from .handlers import TABLE_HEADERS, KBView  # noqa: E402

STATIC = Path(__file__).resolve().parent / "static"
EXAMPLES = ["彬州去年GDP总量有多大？", "宁波2023年要新增多少就业？", "泉州怎么帮企业减负的？"]
FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]


@lru_cache(maxsize=1)
def page_assets() -> dict:
    """css, head (the page script) and theme, for gr.mount_gradio_app / launch (gradio 6 takes them there)."""
    script = (STATIC / "app.js").read_text(encoding="utf-8")
    theme = gr.themes.Soft(font=FONTS, font_mono=["Noto Sans Mono CJK SC", "ui-monospace", "monospace"])
    return {"css": (STATIC / "app.css").read_text(encoding="utf-8"), "head": f"<script>\n{script}</script>", "theme": theme}


# ---------------------------------------------------------------- adapters: Gradio <-> handlers


def _views(view: KBView, fact_cities: list[str] | None) -> tuple:
    """The knowledge-base tab and both city choices (the chat's and 指标对比's) after a change."""
    fact_kept = [c for c in (fact_cities or []) if c in view.cities]
    return (view.summary, view.rows, gr.update(choices=view.reports, value=None),
            gr.update(choices=view.cities, value=view.cities_kept), gr.update(choices=view.cities, value=fact_kept))


def _reporter(progress: gr.Progress):
    return lambda fraction, message: progress(fraction, desc=message)


def _respond(root, message, chat, turns, cities, k, mode):
    for box, chat, turns, copied in handlers.respond(root, message, chat, turns, cities, k, mode):
        yield box, chat, turns, gr.update() if copied is None else copied


def _add_outputs(step: handlers.AddStep, fact_cities) -> tuple:
    """kb message, file box, choice dialog, its text, pending files, then the views."""
    asking = bool(step.pending)
    return (step.message, None if step.clear_files else gr.update(), gr.update(visible=asking),
            step.question, list(step.pending), *_views(step.view, fact_cities))


def _add(root, files, cities, fact_cities, progress=gr.Progress()):
    paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (files or [])]
    return _add_outputs(handlers.add(root, paths, cities, progress=_reporter(progress)), fact_cities)


def _choose(root, choice, pending, cities, fact_cities, progress=gr.Progress()):
    """A button of the same-city-and-year dialog: the files kept in the session's state (never
    paths sent by the client) are added with that choice."""
    return _add_outputs(handlers.add(root, list(pending or []), cities, progress=_reporter(progress),
                                     on_duplicate=choice), fact_cities)


def _dialog_closed():
    return gr.update(visible=False), "", []


def _remove(root, doc_id, cities, fact_cities, progress=gr.Progress()):
    message, view = handlers.remove(root, doc_id, cities, progress=_reporter(progress))
    return (message, *_views(view, fact_cities))


def _rebuild(root, cities, fact_cities, progress=gr.Progress()):
    message, view = handlers.rebuild(root, cities, progress=_reporter(progress))
    return (message, *_views(view, fact_cities))


def _refresh(root, cities, fact_cities):
    return _views(handlers.kb_view(root, cities), fact_cities)


def _facts(root, indicator, period, kind, cities):
    import pandas as pd

    table = handlers.fact_table(root, indicator, period, kind, cities)
    chart = pd.DataFrame(table.chart or [], columns=["城市", "数值"])
    values = [p["数值"] for p in table.chart] or [0.0]
    # Bars start at zero: an axis cut at the smallest value hides it.
    y_lim = [min(0.0, min(values)) * 1.1, max(0.0, max(values)) * 1.1 or 1.0]
    return (table.rows, gr.update(value=chart, y_lim=y_lim), gr.update(value=table.csv_path, interactive=table.csv_path is not None),
            table.message, {"rows": table.rows, "sources": list(table.sources)}, handlers.fact_source_placeholder())


def _fact_source_for(root: str):
    """The select listener of the 指标对比 table (a closure, not a partial: Gradio reads the
    gr.SelectData annotation from a plain function only)."""
    def fact_source(shown, evt: gr.SelectData):
        return handlers.fact_source(root, shown["rows"], shown["sources"], evt.index, evt.row_value)

    return fact_source


def _export(turns):
    path = handlers.export_file(turns)
    return gr.update(value=path, interactive=path is not None)


def _pick_example(evt: gr.SelectData):
    return handlers.example_text(evt.value)


def _cleared():
    return [], [], "", gr.update(value=None, interactive=False)


def _copied_note(text):
    if text:
        gr.Info("已复制回答和来源")
    else:
        gr.Warning("还没有可复制的回答")


# ---------------------------------------------------------------- components


def _chat_column(c: SimpleNamespace) -> None:
    c.chatbot = gr.Chatbot(label="对话", height=620, elem_id="qa-chat", latex_delimiters=[],
                           examples=[{"text": q} for q in EXAMPLES],
                           placeholder="### 问点什么？\n例如某市去年的经济数据、今年的目标或措施。",
                           feedback_options=None, buttons=[])
    with gr.Row():
        c.question = gr.Textbox(placeholder="输入问题，按回车发送，例如：彬州去年GDP总量有多大？", show_label=False,
                                scale=6, max_lines=4, elem_id="qa-question", autofocus=True)
        c.send = gr.Button("发送", variant="primary", scale=1, min_width=80, elem_id="qa-send")
    with gr.Row():
        c.clear = gr.Button("清空对话", size="sm", elem_id="qa-clear")
        c.copy = gr.Button("复制回答", size="sm", elem_id="qa-copy")
        c.export = gr.DownloadButton("导出对话（Markdown）", size="sm", elem_id="qa-export", interactive=False)
    c.last_answer = gr.Textbox(visible="hidden", elem_id="qa-last-answer")


def _settings_column(c: SimpleNamespace, cities: list[str], config: Config) -> None:
    llm_name = describe_chat_model(config.llm)
    modes = [("原文摘录（不用大模型，快）", "extractive"), (f"大模型：{llm_name}" if llm_name else "大模型（未配置）", "llm")]
    c.cities = gr.Dropdown(choices=cities, value=[], multiselect=True, label="检索范围",
                           info="不选 = 全部报告；也可只选几个城市", elem_id="qa-cities")
    c.k = gr.Slider(3, 12, value=config.answer.passages, step=1, label="检索段落数",
                    info="阅读多少个最相关的段落来回答", elem_id="qa-k")
    c.mode = gr.Radio(modes, value="llm" if llm_name else "extractive", label="回答方式", interactive=bool(llm_name),
                      elem_id="qa-mode", info=("大模型根据检索到的段落作答，数字和引用会自动核验" if llm_name
                                               else "未配置大模型：设置环境变量 QA_LLM 后可用（见 README）"))


def _kb_tab(c: SimpleNamespace, view: KBView) -> None:
    c.kb_summary = gr.Markdown(view.summary, elem_id="qa-kb-summary")
    c.table = gr.Dataframe(value=view.rows, headers=TABLE_HEADERS, interactive=False, wrap=True, max_height=420,
                           elem_id="qa-kb-table", column_widths=["34%", "10%", "8%", "10%", "10%", "28%"])
    with gr.Row():
        with gr.Column():
            c.files = gr.File(label="添加报告（.txt .md .pdf .docx .jsonl，每个不超过 20 MB）", file_count="multiple",
                              file_types=list(manage.ALLOWED_SUFFIXES), type="filepath", elem_id="qa-upload")
            c.add = gr.Button("添加到知识库", variant="primary", elem_id="qa-add")
            # Shown when an upload claims the city and year of a report already here: nothing is
            # added until one of these is clicked (manage.add_files' on_duplicate).
            with gr.Column(visible=False, variant="panel", elem_id="qa-dup") as c.dup_box:
                c.dup_msg = gr.Markdown("", elem_id="qa-dup-msg")
                with gr.Row():
                    c.dup_buttons = {choice: gr.Button(label, elem_id=f"qa-dup-{choice}", size="sm",
                                                       variant="stop" if choice == "replace" else "secondary")
                                     for choice, label in handlers.DUPLICATE_BUTTONS.items()}
        with gr.Column():
            c.to_remove = gr.Dropdown(label="删除报告", choices=[], value=None, elem_id="qa-remove-choice",
                                      info="上传的文件会被删除；自带报告会被排除出索引（记在 config.json 的 excluded 中）")
            c.remove = gr.Button("删除所选报告", variant="stop", elem_id="qa-remove")
            c.rebuild = gr.Button("重建索引", elem_id="qa-rebuild")
    c.kb_msg = gr.Markdown("", elem_id="qa-kb-msg")


def _facts_tab(c: SimpleNamespace, cities: list[str]) -> None:
    from ..facts import load_registry

    names = [i.name for i in load_registry().indicators]
    with gr.Row():
        c.fact_indicator = gr.Dropdown(names, value="地区生产总值", label="指标", filterable=True, allow_custom_value=True,
                                       info="可以输入说法，如 经济增速、社零、粮食产量", elem_id="qa-fact-indicator")
        c.fact_period = gr.Radio([(v, k) for k, v in handlers.PERIOD_LABELS.items()], value="2022", label="时期",
                                 elem_id="qa-fact-period")
        c.fact_kind = gr.Radio([("全部", ""), *((v, k) for k, v in handlers.KIND_LABELS.items())], value="", label="数值类型",
                               elem_id="qa-fact-kind")
    c.fact_cities = gr.Dropdown(cities, value=[], multiselect=True, label="城市", info="不选 = 全部报告",
                                elem_id="qa-fact-cities")
    with gr.Row():
        c.fact_go = gr.Button("对比", variant="primary", elem_id="qa-fact-go")
        c.fact_csv = gr.DownloadButton("下载 CSV", interactive=False, elem_id="qa-fact-csv")
    c.fact_msg = gr.Markdown("", elem_id="qa-fact-msg")
    c.fact_chart = gr.BarPlot(x="城市", y="数值", label="各市数值", elem_id="qa-fact-chart", sort="-y")
    c.fact_table = gr.Dataframe(headers=handlers.FACT_HEADERS, interactive=False, wrap=True, max_height=420,
                                elem_id="qa-fact-table", column_widths=["8%", "7%", "6%", "9%", "50%", "20%"],
                                label="点击数值（或它所在的行）查看原文")
    c.fact_shown = gr.State({"rows": [], "sources": []})  # the table's rows and each row's source offsets
    c.fact_source = gr.HTML(handlers.fact_source_placeholder(), elem_id="qa-fact-source", js_on_load=None)


# ---------------------------------------------------------------- events


def _bound(fn, root: str):
    """fn with the knowledge base folder as its first argument (keeps fn's name for Gradio's API)."""
    bound = partial(fn, root)
    bound.__name__ = fn.__name__.lstrip("_")
    return bound


def _wire(c: SimpleNamespace, demo: gr.Blocks, root: str) -> None:
    ask_io = dict(fn=_bound(_respond, root), inputs=[c.question, c.chatbot, c.turns, c.cities, c.k, c.mode],
                  outputs=[c.question, c.chatbot, c.turns, c.last_answer], show_progress="hidden")
    for trigger in (c.question.submit(**ask_io), c.send.click(**ask_io),
                    c.chatbot.example_select(_pick_example, None, c.question).then(**ask_io)):
        trigger.then(_export, [c.turns], [c.export], show_progress="hidden")
    c.clear.click(_cleared, None, [c.chatbot, c.turns, c.last_answer, c.export], queue=False)
    c.chatbot.clear(lambda: _cleared()[1:], None, [c.turns, c.last_answer, c.export], queue=False)  # its trash button
    c.copy.click(None, [c.last_answer], None, js="(text) => window.qaCopy(text)").then(_copied_note, [c.last_answer], None)

    views = [c.kb_summary, c.table, c.to_remove, c.cities, c.fact_cities]
    one_change = dict(concurrency_limit=1, concurrency_id="kb-change")
    added = [c.kb_msg, c.files, c.dup_box, c.dup_msg, c.pending, *views]
    c.add.click(_bound(_add, root), [c.files, c.cities, c.fact_cities], added, **one_change)
    for choice, button in c.dup_buttons.items():
        choose = partial(_choose, root, choice)
        choose.__name__ = f"add_{choice}"  # the API names: add_replace, add_keep, add_cancel
        button.click(choose, [c.pending, c.cities, c.fact_cities], added, **one_change)
    # other files chosen while the dialog shows: the choice would no longer be about what it names
    c.files.change(_dialog_closed, None, [c.dup_box, c.dup_msg, c.pending], queue=False)
    c.remove.click(_bound(_remove, root), [c.to_remove, c.cities, c.fact_cities], [c.kb_msg, *views],
                   js="(doc, cities, factCities) => window.qaConfirmRemove(doc, cities, factCities)", **one_change)
    c.rebuild.click(_bound(_rebuild, root), [c.cities, c.fact_cities], [c.kb_msg, *views], **one_change)
    demo.load(_bound(_refresh, root), [c.cities, c.fact_cities], views)
    c.fact_go.click(_bound(_facts, root), [c.fact_indicator, c.fact_period, c.fact_kind, c.fact_cities],
                    [c.fact_table, c.fact_chart, c.fact_csv, c.fact_msg, c.fact_shown, c.fact_source])
    # A click on a value (or its row) shows its source below the table, scrolled into view.
    c.fact_table.select(_fact_source_for(root), [c.fact_shown], [c.fact_source], show_progress="hidden").then(
        None, None, None, js="() => window.qaShowFactSource()")


def build_app(kb_dir: str | Path | None = None, config: Config | None = None) -> gr.Blocks:
    """The page over the knowledge base at kb_dir (default: the configured one), opened (and if
    needed built) first."""
    config = config or from_env()
    root = kb_root(kb_dir, config)
    view = handlers.kb_view(root)
    c = SimpleNamespace()
    with gr.Blocks(title="政府工作报告问答", analytics_enabled=False) as demo:
        c.turns = gr.State([])
        c.pending = gr.State([])  # uploads waiting for the same-city-and-year choice
        gr.Markdown("## 政府工作报告问答\n回答只依据知识库中的政府工作报告，每句都标出出处；点击 [1] 这样的标记可查看原文。")
        with gr.Tabs():
            with gr.Tab("问答", id="chat"):
                with gr.Row():
                    with gr.Column(scale=4):
                        _chat_column(c)
                    with gr.Column(scale=2, min_width=260):
                        _settings_column(c, open_kb(root).cities, config)
            with gr.Tab("指标对比", id="facts"):
                _facts_tab(c, open_kb(root).cities)
            with gr.Tab("知识库", id="kb"):
                _kb_tab(c, view)
        _wire(c, demo, str(root))
    return demo
