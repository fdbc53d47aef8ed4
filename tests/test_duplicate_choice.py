"""An upload that claims the city and year of a report already in the knowledge base waits for the
user's choice — 替换 / 并存为新版本 / 取消 — on the page and through Gradio's API (issue 14, item 7).

The fast tests isolate the handler's logic (manage's functions replaced by recorders); the slow
ones run it over a copy of the small real knowledge base, and through the real server with
gradio_client. The browser side is in tests/test_ui_e2e.py."""
from pathlib import Path

import pytest

import qa
from qa import manage
from qa.index import load
from qa.web import handlers
from qa.web.handlers import KBView

FAKE_BINZHOU = "2023年彬州市政府工作报告\n一、2022年工作回顾\n过去一年，全市生产总值1万亿元，增长50%。\n"
OTHER = "2023年测试市政府工作报告\n一、2022年工作回顾\n全市生产总值123.4亿元,增长5.6%。\n"
GDP = "彬州去年GDP总量有多大？"
DUP = manage.Duplicate("彬州-改.txt", "2023年彬州市政府工作报告", "彬州市", 2023, ("2023年彬州市政府工作报告",),
                       ("2023年彬州市政府工作报告",))


# ---------------------------------------------------------------- the handler's logic (fast)


class Recorder:
    """Stands in for manage.find_duplicates / add_files and the knowledge base (the logic only)."""

    def __init__(self, duplicates):
        self.duplicates, self.added = duplicates, []

    def find_duplicates(self, paths, kb_dir=None):
        return self.duplicates

    def add_files(self, paths, kb_dir=None, progress=None, on_duplicate="ask"):
        self.added.append((list(paths), on_duplicate))
        return _FakeKB(), []


class _FakeKB:
    documents: dict = {}

    class manifest:
        embedded_now = 0


@pytest.fixture
def recorder(monkeypatch):
    def make(duplicates):
        rec = Recorder(duplicates)
        monkeypatch.setattr(handlers.manage, "find_duplicates", rec.find_duplicates)
        monkeypatch.setattr(handlers.manage, "add_files", rec.add_files)
        monkeypatch.setattr(handlers, "kb_view", lambda root, cities=None: KBView("", [], [], [], []))
        monkeypatch.setattr(handlers, "open_kb", lambda root: _FakeKB())
        return rec

    return make


def test_a_duplicate_stops_the_batch_until_a_choice(recorder):
    rec = recorder([DUP])
    step = handlers.add("kb", ["/up/彬州-改.txt", "/up/other.txt"], [])
    assert rec.added == []  # nothing added
    assert step.pending == ("/up/彬州-改.txt", "/up/other.txt") and not step.clear_files
    assert "彬州-改.txt" in step.question and "《2023年彬州市政府工作报告》" in step.question
    assert all(label in step.question for label in ("替换", "并存为新版本", "取消")) and "还没有添加" in step.question
    assert "其余 1 个文件照常添加" in step.question


@pytest.mark.parametrize("choice", ["replace", "keep", "cancel"])
def test_the_choice_adds_the_pending_files_with_it(recorder, choice):
    rec = recorder([DUP])
    step = handlers.add("kb", ["/up/彬州-改.txt"], [], on_duplicate=choice)
    assert rec.added == [(["/up/彬州-改.txt"], choice)] and step.pending == () and step.clear_files


def test_without_a_duplicate_the_files_are_added_at_once(recorder):
    rec = recorder([])
    step = handlers.add("kb", ["/up/other.txt"], [])
    assert rec.added == [(["/up/other.txt"], "ask")] and step.pending == () and step.question == ""


@pytest.mark.parametrize("paths, choice, expected", [([], "keep", "没有等待处理的文件"), ([], "ask", "请先选择"),
                                                     (["/up/a.txt"], "maybe", "未知的选择")])
def test_a_choice_without_files_or_an_unknown_choice_adds_nothing(recorder, paths, choice, expected):
    rec = recorder([DUP])
    step = handlers.add("kb", paths, [], on_duplicate=choice)
    assert rec.added == [] and expected in step.message and step.pending == ()


def test_every_button_is_a_choice_of_manage():
    assert set(handlers.DUPLICATE_BUTTONS) == set(manage.DUPLICATE_CHOICES) - {"ask"}


# ---------------------------------------------------------------- over a real knowledge base (slow)


@pytest.fixture
def fake(tmp_path) -> Path:
    path = tmp_path / "in" / "彬州-改.txt"
    path.parent.mkdir()
    path.write_text(FAKE_BINZHOU, encoding="utf-8")
    return path


def test_the_handler_asks_then_keeps_both_versions_and_answers_name_theirs(kb_copy, fake):
    before = load(kb_copy).manifest
    step = handlers.add(kb_copy, [str(fake)], [])
    assert step.pending == (str(fake),) and "彬州-改.txt" in step.question and "《2023年彬州市政府工作报告》" in step.question
    assert load(kb_copy).manifest == before  # nothing added, nothing rebuilt
    assert not (kb_copy / "uploads").exists() or not list((kb_copy / "uploads").iterdir())
    step = handlers.add(kb_copy, list(step.pending), [], on_duplicate="keep")
    assert "已添加 1 份报告" in step.message and "彬州-改.txt" in step.message and step.pending == ()
    titles = [row[0] for row in step.view.rows if row[1] == "彬州市"]
    assert sorted(titles) == ["2023年彬州市政府工作报告（彬州-改.txt）", "2023年彬州市政府工作报告（彬州市.txt）"]
    assert sorted(label for label, _ in step.view.reports if "彬州" in label) == sorted(titles)  # named once
    answer = qa.ask(GDP, kb_dir=kb_copy, mode="extractive")
    cited = {c.passage.title for c in answer.citations}
    assert cited and all(f"《{t}》" in answer.text for t in cited)  # the answer says which version it cites


def test_the_handler_replaces_or_cancels(kb_copy, fake):
    step = handlers.add(kb_copy, [str(fake)], [], on_duplicate="cancel")
    assert "已按选择取消" in step.message and "彬州-改.txt" in step.message
    assert "326.3亿元" in qa.ask(GDP, kb_dir=kb_copy, mode="extractive").text
    step = handlers.add(kb_copy, [str(fake)], [], on_duplicate="replace")
    assert "已替换" in step.message and "《2023年彬州市政府工作报告》（彬州市.txt）" in step.message
    assert [r[-1] for r in step.view.rows if r[1] == "彬州市"] == ["彬州-改.txt（上传）"]


def _table(outputs) -> dict:
    """The knowledge-base table among an API call's outputs."""
    return next(o for o in outputs if isinstance(o, dict) and "data" in o)


def test_gradio_api_follows_the_same_rule(kb_copy, fake, tmp_path):
    """Gradio's API (what gradio_client calls) is an upload path too: /add with a duplicate adds
    nothing and asks; the session's choice (/add_keep) then adds the file it asked about."""
    from gradio_client import Client, handle_file

    from qa.web.process import running_server

    with running_server(kb_copy, tmp_path / "serve.log") as server:
        client = Client(server["url"], verbose=False)
        out = client.predict([handle_file(str(fake))], [], [], api_name="/add")  # files, chat cities, 指标对比 cities
        message, question, table = out[0], next(o for o in out if isinstance(o, str) and "替换" in o), _table(out)
        assert "尚未添加" in message and "彬州-改.txt" in question and len(table["data"]) == 3
        assert not (kb_copy / "uploads").exists() or not list((kb_copy / "uploads").iterdir())
        out = client.predict([], [], api_name="/add_keep")
        assert "已添加 1 份报告" in out[0] and len(_table(out)["data"]) == 4
        assert [f.name for f in (kb_copy / "uploads").iterdir()] == ["彬州-改.txt"]
