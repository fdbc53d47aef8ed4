"""The app in a real browser: ask, open a cited source, follow up, add a report, ask about it.

Starts `app.py` as a subprocess over a copy of the small real knowledge base and drives it
with Playwright in Debian's Chromium (`apt-get install -y chromium fonts-noto-cjk`).
Screenshots go to artifacts/e2e/; the chat and knowledge-base ones are copied to docs/screenshots/.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts" / "e2e"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NEW_REPORT = ("2023年测试市政府工作报告\n"
              "一、2022年工作回顾\n"
              "过去一年，全市经济稳中向好。全市生产总值123.4亿元,增长5.6%。城镇新增就业1.2万人。\n"
              "二、2023年主要目标\n"
              "全市生产总值增长6%左右。\n")
FINAL = "#qa-chat .qa-answer:has(.qa-note), #qa-chat .qa-error"  # a finished answer or an error


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture
def app_server(small_kb_dir, tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(small_kb_dir, kb, symlinks=True)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {k: v for k, v in os.environ.items() if k not in ("QA_AUTH", "QA_AUTH_FILE", "QA_LLM")}
    env.update(QA_KB_DIR=str(kb), PYTHONUNBUFFERED="1")
    log_path = tmp_path / "app.log"
    log = open(log_path, "w")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not _serving(url):
            if proc.poll() is not None:
                pytest.fail(f"app.py exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not serve {url} within 300 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield {"url": url, "started": started, "serving": time.perf_counter() - started, "kb": kb, "log": log_path}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: the app and nothing else
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


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
    page = browser.new_page(viewport={"width": 1360, "height": 960}, locale="zh-CN")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(60_000)
    page.goto(app_server["url"])
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

    # 4. add a report in the knowledge-base tab; the index is rebuilt
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

    # 5. the new report answers questions
    page.get_by_role("tab", name="问答").click()
    text = _ask(page, "测试市去年生产总值是多少？")
    assert "123.4亿元" in text, text
    shot(page, "06-new-report.png")

    assert not errors, errors
    elapsed = time.perf_counter() - t_test
    timing = {"app_serving_s": round(app_server["serving"], 1), "start_to_first_answer_s": round(first_answer, 1),
              "browser_steps_s": round(elapsed, 1), "total_s": round(time.perf_counter() - app_server["started"], 1)}
    (ARTIFACTS / "timing.json").write_text(json.dumps(timing, indent=2))
    with capsys.disabled():
        print(f"\n[e2e] app serving after {timing['app_serving_s']} s; `python app.py` start -> first answer "
              f"{timing['start_to_first_answer_s']} s; browser steps {timing['browser_steps_s']} s; "
              f"whole test (without building the shared KB fixture) {timing['total_s']} s")
