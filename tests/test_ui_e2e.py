"""The app in a real browser: ask, open a cited source, follow up, export the conversation, add a
report, ask about it.

Starts `app.py` as a subprocess over a copy of the small real knowledge base and drives it
with Playwright in Debian's Chromium (`apt-get install -y chromium fonts-noto-cjk`).
Screenshots go to artifacts/e2e/; the chat and knowledge-base ones are copied to docs/screenshots/.
"""
import json
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

from qa.web.process import ROOT, running_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = ROOT / "artifacts" / "e2e"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NEW_REPORT = ("2023年测试市政府工作报告\n"
              "一、2022年工作回顾\n"
              "过去一年，全市经济稳中向好。全市生产总值123.4亿元,增长5.6%<b id=\"qa-injected\">加粗</b>"
              "<img src=x onerror=\"window.qaPwned=1\"><script>window.qaPwned=2</script>。城镇新增就业1.2万人。\n"
              "二、2023年主要目标\n"
              "全市生产总值增长6%左右。\n")
FINAL = "#qa-chat .qa-answer:has(.qa-note), #qa-chat .qa-error"  # a finished answer or an error


@pytest.fixture
def app_server(small_kb_dir, tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(small_kb_dir, kb, symlinks=True)
    try:
        with running_server(kb, tmp_path / "app.log", command=[sys.executable, str(ROOT / "app.py")]) as server:
            yield {**server, "kb": kb}
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium fonts-noto-cjk")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _settle(page) -> None:
    """Wait until no component shows Gradio's pending/progress overlay (for clean screenshots)."""
    page.wait_for_function("() => !document.querySelector('.pending, .generating, .progress-bar, .eta-bar')")
    page.wait_for_timeout(400)


def _ask(page, question: str, timeout_s: float = 90) -> str:
    """Type a question, send it, wait for its finished answer; returns the answer's text."""
    before = page.locator(FINAL).count()
    page.locator("#qa-question textarea").fill(question)
    page.locator("#qa-send").click()
    page.wait_for_function(f"n => document.querySelectorAll({json.dumps(FINAL)}).length > n", arg=before,
                           timeout=timeout_s * 1000)
    _settle(page)
    last = page.locator(FINAL).last
    assert "qa-error" not in (last.get_attribute("class") or ""), last.inner_text()
    return last.locator(".qa-text").inner_text()


def test_chat_sources_followup_and_upload(app_server, browser, tmp_path, capsys):
    t_test = time.perf_counter()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    shot = lambda page, name: page.screenshot(path=str(ARTIFACTS / name), full_page=False)  # noqa: E731
    page, errors = _open(browser, app_server["url"])
    page.wait_for_selector("#qa-question textarea")
    _settle(page)
    shot(page, "01-start.png")

    # 1. a question with a figure: answer with 326.3亿元 and a citation marker
    text = _ask(page, "彬州去年GDP总量有多大？")
    first_answer = time.perf_counter() - app_server["started"]
    assert "326.3亿元" in text and "[1]" in text, text
    answer = page.locator(FINAL).last
    assert answer.locator("a.cite").count() >= 1
    shot(page, "02-answer.png")

    # 2. the marker opens its source: the passage is visible, the cited span highlighted
    marker = answer.locator("a.cite").first
    target = marker.get_attribute("href").lstrip("#")
    source = page.locator(f"[id='{target}']")
    assert not source.locator(".qa-passage").is_visible()
    marker.click()
    page.wait_for_function("id => document.getElementById(id).open", arg=target)
    assert source.locator(".qa-passage").is_visible()
    assert "326.3亿元" in source.locator("mark").first.inner_text()
    assert "政府工作报告" in source.locator("summary").inner_text()
    shot(page, "03-source-open.png")
    shutil.copy(ARTIFACTS / "03-source-open.png", DOCS_SHOTS / "chat.png")

    # 3. a follow-up that only makes sense with the history
    text = _ask(page, "那财政收入呢？")
    assert "彬州" in text or any(ch.isdigit() for ch in text), text
    assert "报告中没有找到" not in text, text
    shot(page, "04-followup.png")

    # 4. export the conversation: a Markdown file with both questions, the answers and their sources
    page.wait_for_function("() => !document.querySelector('#qa-export').disabled")
    with page.expect_download() as download:
        page.locator("#qa-export").click()
    exported = tmp_path / "export.md"
    download.value.save_as(exported)
    md = exported.read_text(encoding="utf-8")
    assert download.value.suggested_filename.endswith(".md")
    assert "## 问题 1：彬州去年GDP总量有多大？" in md and "## 问题 2：那财政收入呢？" in md and "326.3亿元" in md
    assert md.count("《2023年彬州市政府工作报告》") >= 2 and "一、2022年工作回顾" in md and "**" in md

    # 4b. a comparison across reports: each city's value, cited, and a table under the text
    text = _ask(page, "彬州和咸阳去年GDP分别是多少？")
    assert "326.3" in text and "咸阳" in text, text
    table = page.locator("#qa-chat .qa-answer").last.locator("table.qa-rows")
    assert table.count() == 1 and "326.3" in table.inner_text() and table.locator("a.cite").count() == 4
    # each value links to its source, as its [n] does: a click opens the box with the sentence highlighted
    value = table.locator("a.cite.qa-cell").filter(has_text="326.3")
    target = value.get_attribute("href").lstrip("#")
    assert target and target == table.locator("tr").filter(has_text="326.3").locator("a.cite").last.get_attribute("href").lstrip("#")
    assert not page.locator(f"[id='{target}'] .qa-passage").is_visible()
    value.click()
    page.wait_for_function("id => document.getElementById(id).open", arg=target)
    assert "326.3" in page.locator(f"[id='{target}'] mark").first.inner_text()
    assert page.locator(f"[id='{target}'] .qa-passage").is_visible()
    _settle(page)
    shot(page, "04b-comparison-source.png")

    # 4c. the indicator tab: every report's value with its sentence, a bar chart, a CSV download
    page.get_by_role("tab", name="指标对比").click()
    page.locator("#qa-fact-go").click()
    page.wait_for_function("() => document.querySelector('#qa-fact-table').innerText.includes('326.3')", timeout=60_000)
    table_text = page.locator("#qa-fact-table").inner_text()
    assert "彬州市" in table_text and "咸阳市" in table_text and "全年完成生产总值326.3亿元" in table_text
    page.wait_for_selector("#qa-fact-chart canvas, #qa-fact-chart svg", timeout=30_000)
    page.wait_for_function("() => !document.querySelector('#qa-fact-csv').disabled")
    with page.expect_download() as download:
        page.locator("#qa-fact-csv").click()
    csv_file = tmp_path / "facts.csv"
    download.value.save_as(csv_file)
    assert "326.3" in csv_file.read_text(encoding="utf-8-sig")
    _settle(page)
    shot(page, "04c-facts-tab.png")
    shutil.copy(ARTIFACTS / "04c-facts-tab.png", DOCS_SHOTS / "facts.png")

    # 5. add a report in the knowledge-base tab; the index is rebuilt
    report = tmp_path / "upload" / "2023年测试市政府工作报告.txt"
    report.parent.mkdir()
    report.write_text(NEW_REPORT, encoding="utf-8")
    page.get_by_role("tab", name="知识库").click()
    page.wait_for_selector("#qa-kb-table")
    assert page.locator("#qa-kb-table").inner_text().count("政府工作报告") == 3
    page.locator("#qa-upload input[type=file]").set_input_files(str(report))
    page.wait_for_function("() => document.querySelector('#qa-upload').innerText.includes('测试市')")
    page.locator("#qa-add").click()
    page.wait_for_function("() => document.querySelector('#qa-kb-msg').innerText.includes('已添加')", timeout=180_000)
    msg = page.locator("#qa-kb-msg").inner_text()
    assert "测试市" in msg, msg
    page.wait_for_function("() => document.querySelector('#qa-kb-table').innerText.includes('测试市')")
    assert (app_server["kb"] / "uploads" / report.name).is_file()
    _settle(page)
    shot(page, "05-kb-added.png")
    shutil.copy(ARTIFACTS / "05-kb-added.png", DOCS_SHOTS / "kb.png")

    # 6. the new report answers questions
    page.get_by_role("tab", name="问答").click()
    text = _ask(page, "测试市去年生产总值是多少？")
    assert "123.4亿元" in text, text
    # the report's HTML is shown as text, in the answer and in its source: nothing of it runs or renders
    page.locator("#qa-chat .qa-answer").last.locator("a.cite").first.click()
    assert "<b id=\"qa-injected\">" in page.locator("#qa-chat .qa-answer").last.inner_text()
    assert page.locator("#qa-injected").count() == 0 and page.evaluate("() => window.qaPwned") is None
    shot(page, "06-new-report.png")

    # 6b. its figures in 指标对比: the new city can be chosen; its value's source shows the report's
    # HTML as text, as the chat does
    page.get_by_role("tab", name="指标对比").click()
    _pick(page, "#qa-fact-cities", ["测试市"])
    page.locator("#qa-fact-kind").get_by_text("增速").click()
    page.locator("#qa-fact-go").click()
    page.wait_for_function("() => document.querySelector('#qa-fact-msg').innerText.includes('1 条数值')")
    row = page.locator("#qa-fact-table .virtual-row").first
    assert row.inner_text().startswith("测试市"), row.inner_text()
    row.locator("[role=gridcell]").nth(1).click()
    page.wait_for_function("() => document.querySelector('#qa-fact-source summary')?.innerText.includes('测试市 5.6%')")
    assert "5.6%" in page.locator("#qa-fact-source strong.qa-value").inner_text()
    assert "<b id=\"qa-injected\">" in page.locator("#qa-fact-source mark").inner_text()
    assert page.locator("#qa-injected").count() == 0 and page.evaluate("() => window.qaPwned") is None

    # 7. remove it again: the browser asks first; cancelling removes nothing
    page.get_by_role("tab", name="知识库").click()
    answers = []
    page.on("dialog", lambda dialog: dialog.accept() if answers.pop(0) else dialog.dismiss())
    for confirm, expected in ((False, "没有删除"), (True, "已删除《2023年测试市政府工作报告》")):
        page.locator("#qa-remove-choice input").click()
        page.get_by_role("option").filter(has_text="测试市").first.click()
        answers.append(confirm)
        page.locator("#qa-remove").click()
        page.wait_for_function("t => document.querySelector('#qa-kb-msg').innerText.includes(t)", arg=expected,
                               timeout=180_000)
    assert not answers  # each click asked once
    page.wait_for_function("() => !document.querySelector('#qa-kb-table').innerText.includes('测试市')")
    assert not (app_server["kb"] / "uploads" / report.name).exists()
    assert "测试市" not in page.locator("#qa-fact-cities").text_content()  # no longer chosen in 指标对比

    assert not errors, errors
    elapsed = time.perf_counter() - t_test
    timing = {"app_serving_s": round(app_server["serving"], 1), "start_to_first_answer_s": round(first_answer, 1),
              "browser_steps_s": round(elapsed, 1), "total_s": round(time.perf_counter() - app_server["started"], 1)}
    (ARTIFACTS / "timing.json").write_text(json.dumps(timing, indent=2))
    with capsys.disabled():
        print(f"\n[e2e] app serving after {timing['app_serving_s']} s; `python app.py` start -> first answer "
              f"{timing['start_to_first_answer_s']} s; browser steps {timing['browser_steps_s']} s; "
              f"whole test (without building the shared KB fixture) {timing['total_s']} s")


def _open(browser, url: str):
    """A Chinese-locale page at url, and the list its script errors are collected in."""
    page = browser.new_page(viewport={"width": 1360, "height": 960}, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(60_000)
    page.goto(url)
    return page, errors


def _pick(page, dropdown: str, options: list[str], typed: str = "") -> None:
    """Choose options of a Gradio dropdown, after typing into its search when `typed`; then close its list."""
    box = page.locator(f"{dropdown} input")
    for option in options:
        box.click()
        if typed:
            box.fill(typed)
        page.get_by_role("option", name=option, exact=True).click()
    box.press("Escape")


def _panel_shows(page, row: list[str]) -> None:
    """The source panel shows this table row's value: its report's passage, the row's sentence
    highlighted and the value emphasised in it."""
    city, value, unit, excerpt = row[0], row[1], row[2], row[4]
    page.wait_for_function("t => document.querySelector('#qa-fact-source summary')?.innerText.includes(t)",
                           arg=f"{city} {value}{unit}")
    panel = page.locator("#qa-fact-source")
    assert panel.locator("details[open] .qa-passage").is_visible()
    assert "政府工作报告" in panel.locator("summary").inner_text()
    marked = panel.locator("mark").inner_text()
    assert excerpt.strip("…") in marked, (excerpt, marked)  # the table's sentence is the highlighted one
    strong = panel.locator("mark strong.qa-value").inner_text()
    assert f"{value}{unit}" in strong, strong  # the value itself, as the report writes it


def test_indicator_values_link_to_their_source(app_server, browser):
    """指标对比: search an indicator, choose period, kind and cities, click a value: its source
    sentence is shown, the value highlighted; also after the user sorts the table."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    page, errors = _open(browser, app_server["url"])
    page.wait_for_selector("#qa-question textarea")
    page.get_by_role("tab", name="指标对比").click()
    _pick(page, "#qa-fact-indicator", ["地区生产总值"], typed="生产总值")
    page.locator("#qa-fact-period").get_by_text("2022年实际").click()
    page.locator("#qa-fact-kind").get_by_text("增速").click()
    cities = ["彬州市", "咸阳市", "宁波市"]
    _pick(page, "#qa-fact-cities", cities)
    assert page.locator("#qa-fact-source details").count() == 0  # nothing clicked yet: a hint
    page.locator("#qa-fact-go").click()
    page.wait_for_function("() => document.querySelector('#qa-fact-msg').innerText.includes('条数值')")
    _settle(page)
    rows = page.locator("#qa-fact-table .virtual-row")
    table = [[c.inner_text() for c in r.locator("[role=gridcell]").all()] for r in rows.all()]
    count = int(page.locator("#qa-fact-msg").inner_text().split(" 条数值")[0])
    assert len(table) == count >= 2 and {r[0] for r in table} <= set(cities), table
    assert all(r[2] == "%" and r[3].startswith("增速") for r in table), table

    # a click on the last row's value shows that row's source, not another's
    rows.nth(len(table) - 1).locator("[role=gridcell]").nth(1).click()
    _panel_shows(page, table[-1])
    _settle(page)
    page.screenshot(path=str(ARTIFACTS / "07-fact-source.png"))
    shutil.copy(ARTIFACTS / "07-fact-source.png", DOCS_SHOTS / "fact-source.png")

    # the user sorts by value, ascending: the rows on screen change places; each click still
    # shows the clicked row's source
    header = page.locator("#qa-fact-table [role=columnheader]").nth(1)
    header.hover()
    header.locator("button.cell-menu-button").click()
    page.locator("[role=menu]").get_by_text("升序排序").click()
    page.wait_for_function("c => !document.querySelector('#qa-fact-table .virtual-row').innerText.startsWith(c)",
                           arg=table[0][0])
    shown = [[c.inner_text() for c in r.locator("[role=gridcell]").all()] for r in rows.all()]
    # click rows that moved, the one on show last: a click read by place on screen would show
    # another row's source (or leave the panel as it was)
    moved = [i for i, row in enumerate(shown) if row != table[i] and row != table[-1]]
    moved += [i for i, row in enumerate(shown) if row != table[i] and row == table[-1]]
    assert len(moved) >= 2, (table, shown)
    rows.nth(moved[0]).locator("[role=gridcell]").nth(1).click()
    _panel_shows(page, shown[moved[0]])
    rows.nth(moved[1]).locator("[role=gridcell]").nth(3).click()  # any cell of a row shows its source
    _panel_shows(page, shown[moved[1]])
    assert not errors, errors


FAKE_BINZHOU = "2023年彬州市政府工作报告\n一、2022年工作回顾\n过去一年，全市生产总值1万亿元，增长50%。\n"


def _upload_and_add(page, path: Path) -> None:
    page.locator("#qa-upload input[type=file]").set_input_files(str(path))
    page.wait_for_function("n => document.querySelector('#qa-upload').innerText.includes(n)", arg=path.stem)
    page.locator("#qa-add").click()


def _kb_message(page, text: str) -> str:
    page.wait_for_function("t => document.querySelector('#qa-kb-msg').innerText.includes(t)", arg=text, timeout=180_000)
    return page.locator("#qa-kb-msg").inner_text()


def test_a_report_of_the_same_city_and_year_waits_for_a_choice(app_server, browser, tmp_path):
    """An upload claiming 2023 彬州 (already in the knowledge base) shows the conflict and three
    buttons; nothing is added until one is clicked: 取消 adds nothing, 并存为新版本 keeps both (and
    answers name the version they cite), 替换 leaves only the new file."""
    page, errors = _open(browser, app_server["url"])
    page.get_by_role("tab", name="知识库").click()
    page.wait_for_selector("#qa-kb-table")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dialog, uploads = page.locator("#qa-dup"), app_server["kb"] / "uploads"
    fake = tmp_path / "in" / "彬州-改.txt"
    fake.parent.mkdir()
    fake.write_text(FAKE_BINZHOU, encoding="utf-8")
    assert not dialog.is_visible()

    # 1. the conflict is shown, nothing is added; 取消 adds nothing either
    _upload_and_add(page, fake)
    dialog.wait_for(state="visible")
    asked = page.locator("#qa-dup-msg").inner_text()
    assert "彬州-改.txt" in asked and "《2023年彬州市政府工作报告》" in asked and "还没有添加" in asked
    assert [page.locator(f"#qa-dup-{c}").inner_text() for c in ("replace", "keep", "cancel")] == ["替换", "并存为新版本", "取消"]
    assert "尚未添加" in page.locator("#qa-kb-msg").inner_text()
    assert page.locator("#qa-kb-table").inner_text().count("彬州市政府工作报告") == 1
    assert not uploads.exists() or not list(uploads.iterdir())
    _settle(page)
    page.screenshot(path=str(ARTIFACTS / "07-duplicate-dialog.png"))
    shutil.copy(ARTIFACTS / "07-duplicate-dialog.png", DOCS_SHOTS / "kb-duplicate.png")
    page.locator("#qa-dup-cancel").click()
    assert "已按选择取消" in _kb_message(page, "已按选择取消")
    dialog.wait_for(state="hidden")
    assert not uploads.exists() or not list(uploads.iterdir())

    # 2. 并存为新版本: both stay, each title names its file, and the answer names the one it cites
    _upload_and_add(page, fake)
    dialog.wait_for(state="visible")
    page.locator("#qa-dup-keep").click()
    _kb_message(page, "已添加")
    dialog.wait_for(state="hidden")
    page.wait_for_function("() => document.querySelector('#qa-kb-table').innerText.includes('彬州-改.txt）')")
    table = page.locator("#qa-kb-table").inner_text()
    assert "2023年彬州市政府工作报告（彬州-改.txt）" in table and "2023年彬州市政府工作报告（彬州市.txt）" in table
    page.get_by_role("tab", name="问答").click()
    text = _ask(page, "彬州去年GDP总量有多大？")
    assert "《2023年彬州市政府工作报告（彬州市.txt）》" in text or "《2023年彬州市政府工作报告（彬州-改.txt）》" in text, text
    if "1万亿元" in text:
        assert "彬州-改.txt" in text, text  # the upload's figure is never cited as the official report's

    # 3. 替换: another version replaces both; only it stays
    other = tmp_path / "in" / "彬州-再改.txt"
    other.write_text(FAKE_BINZHOU.replace("1万亿元", "2万亿元"), encoding="utf-8")
    page.get_by_role("tab", name="知识库").click()
    _upload_and_add(page, other)
    dialog.wait_for(state="visible")
    assert "彬州-再改.txt" in page.locator("#qa-dup-msg").inner_text()
    page.locator("#qa-dup-replace").click()
    assert "已替换" in _kb_message(page, "已替换")
    page.wait_for_function("() => !document.querySelector('#qa-kb-table').innerText.includes('彬州市.txt')")
    assert sorted(f.name for f in uploads.iterdir()) == ["彬州-再改.txt"]
    page.get_by_role("tab", name="问答").click()
    assert "2万亿元" in _ask(page, "彬州去年GDP总量有多大？")

    # 4. other files chosen while the dialog shows close it: the choice was about the files it named
    page.get_by_role("tab", name="知识库").click()
    _upload_and_add(page, fake)
    dialog.wait_for(state="visible")
    plain = tmp_path / "in" / "说明.txt"
    plain.write_text("2023年测试市政府工作报告\n一、2022年工作回顾\n全市生产总值123.4亿元。\n", encoding="utf-8")
    page.locator("#qa-upload input[type=file]").set_input_files(str(plain))
    dialog.wait_for(state="hidden")
    assert sorted(f.name for f in uploads.iterdir()) == ["彬州-再改.txt"]
    assert not errors, errors


def test_the_login_page_shows_nothing_of_the_app_and_logging_in_opens_it(small_kb_dir, browser, tmp_path):
    """With QA_AUTH the page before a login holds no API description (Gradio put every endpoint and
    the knowledge base's cities in it); the login form still works in Chromium."""
    import httpx

    kb = tmp_path / "kb"
    shutil.copytree(small_kb_dir, kb, symlinks=True)
    with running_server(kb, tmp_path / "app.log", env={"QA_AUTH": "alice:pw"}) as server:
        html = httpx.get(server["url"]).text
        assert "彬州市" not in html and "/respond" not in html and "window.gradio_api_info = null;" in html
        page = browser.new_page(locale="zh-CN")
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server["url"])
        page.get_by_label("username").or_(page.get_by_label("用户名")).first.fill("alice")
        page.get_by_label("password").or_(page.get_by_label("密码")).first.fill("pw")
        page.get_by_role("button").filter(has_text=re.compile("Login|登录")).first.click()
        page.wait_for_selector("#qa-question textarea", timeout=60_000)
        assert "彬州市" in page.content() or page.locator("#qa-cities").count() == 1
        assert not errors, errors
