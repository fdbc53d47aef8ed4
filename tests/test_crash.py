"""Crashes and concurrency with real processes (issue 14, items 3 and 4, without the web server):
a build killed with SIGKILL at several points leaves the previous index answering and the next
build succeeding; two builds at once on one knowledge base from two processes; questions asked
during a rebuild are answered from the old index, then from the new one.

The kill points are reached by a test-only wrapper inside the child process (it wraps a function
of qa.index, writes a marker file and sleeps), so the product has no test hook of its own."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import qa
from qa import manage
from qa.index import build, load
from qa.pipeline import forget_kb, open_kb

ROOT = Path(__file__).resolve().parent.parent
GDP = "彬州去年GDP总量有多大？"
NEW_REPORT = "2023年测试市政府工作报告\n一、2022年工作回顾\n" + "".join(
    f"第{i}项民生实事完成投资{i}.5亿元，惠及群众{i}万人。" for i in range(1, 300)) + "\n"  # more than one batch (256) of sentences to embed

# Runs one build of the knowledge base argv[1]; pauses for ever at the stage argv[2], after
# writing argv[3], so that the parent can kill it there.
CHILD = r"""
import sys, time
from pathlib import Path
import qa.index as index

root, stage, marker = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])

def pause_at(name, fn, after=False):
    def wrapper(*args, **kwargs):
        result = fn(*args, **kwargs) if after else None
        if name == stage:
            marker.write_text(name)
            time.sleep(600)
        return result if after else fn(*args, **kwargs)
    return wrapper

# embedding: after the first batch of new vectors is in the cache
index.EmbeddingCache.put_many = pause_at("embedding", index.EmbeddingCache.put_many, after=True)
index._write_store = pause_at("store", index._write_store)           # nothing of the new build is written yet
index.save_bm25 = pause_at("keywords", index.save_bm25)
index._swap_current = pause_at("before-swap", index._swap_current)   # the new build is complete, not current
index._remove_old_builds = pause_at("after-swap", index._remove_old_builds)  # current, old build still there
index.build(root, sources=[Path(p) for p in sys.argv[4:]] or None)  # as `python -m qa --kb ROOT index PATH`
print("built")
"""


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _kill_at(root: Path, stage: str, tmp_path: Path, sources: list[Path]) -> None:
    marker = tmp_path / f"reached-{stage}"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(root), stage, str(marker), *map(str, sources)], env=_env(), cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not marker.exists():
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            out, err = child.communicate()
            pytest.fail(f"the build never reached {stage}: rc={child.returncode} {err.decode()[-2000:]}")
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL


def _answers(root: Path) -> str:
    kb = load(root)  # the index on disk loads and verifies, whatever the build got to
    forget_kb(root)
    answer = qa.ask(GDP, kb_dir=root, mode="extractive")
    assert "326.3亿元" in answer.text, answer.text
    return kb.manifest.built_at


@pytest.mark.parametrize("stage", ["embedding", "store", "keywords", "before-swap", "after-swap"])
def test_a_build_killed_at_any_point_leaves_a_working_index(kb_copy, stage, tmp_path, embedder):
    """`index PATH` with a new folder (the three reports and one more), killed at `stage`."""
    source = Path(json.loads((kb_copy / "config.json").read_text(encoding="utf-8"))["sources"][0])
    new_src = tmp_path / "src"
    shutil.copytree(source, new_src)
    (new_src / "测试市.txt").write_text(NEW_REPORT, encoding="utf-8")
    before, config_before, cached_before = load(kb_copy).manifest, (kb_copy / "config.json").read_text(encoding="utf-8"), _cached(kb_copy)

    _kill_at(kb_copy, stage, tmp_path, [new_src])

    after_kill, cached_at_kill = load(kb_copy).manifest, _cached(kb_copy)
    if stage == "after-swap":
        assert after_kill.documents == before.documents + 1  # the swap happened: the new index is current
    else:
        assert after_kill == before  # the previous index, untouched
        assert (kb_copy / "config.json").read_text(encoding="utf-8") == config_before  # and its sources
    _answers(kb_copy)
    kb, _ = build(kb_copy, sources=[new_src], embedder=embedder)  # the next build succeeds and cleans up
    assert kb.manifest.documents == before.documents + 1 and "测试市" in kb.cities
    assert [p.name for p in (kb_copy / "builds").iterdir()] == [(kb_copy / "current").resolve().name]
    if stage == "embedding":
        # the first batch embedded before the kill was kept; the rest was embedded afterwards
        assert 0 < cached_at_kill - cached_before < _cached(kb_copy) - cached_before
    _answers(kb_copy)


def _cached(root: Path) -> int:
    conn = sqlite3.connect(root / "embed_cache.sqlite")
    try:
        return conn.execute("SELECT count(*) FROM vectors").fetchone()[0]
    finally:
        conn.close()


def test_two_builds_at_once_from_two_processes(kb_copy):
    before = load(kb_copy).manifest
    cmd = [sys.executable, "-m", "qa", "--kb", str(kb_copy), "index"]
    children = [subprocess.Popen(cmd, env=_env(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    results = [c.communicate(timeout=600) for c in children]
    assert [c.returncode for c in children] == [0, 0], [r[1].decode()[-1000:] for r in results]
    after = load(kb_copy).manifest
    assert after.built_at >= before.built_at and after.passages == before.passages
    assert len(list((kb_copy / "builds").iterdir())) == 1
    assert not list((kb_copy / "builds").glob(".tmp-*"))
    _answers(kb_copy)


def test_questions_during_a_rebuild_are_answered_from_the_old_then_the_new_index(kb_copy, tmp_path):
    open_kb(kb_copy)
    seen: list[tuple[float, int, str]] = []  # (time, reports in the index used, answer)
    errors: list[BaseException] = []
    stop = threading.Event()

    def ask_in_a_loop():
        while not stop.is_set():
            try:
                answer = qa.ask(GDP, kb_dir=kb_copy, mode="extractive")
                seen.append((time.monotonic(), len(open_kb(kb_copy).documents), answer.text))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)
                return

    asker = threading.Thread(target=ask_in_a_loop)
    asker.start()
    new = tmp_path / "测试.txt"
    new.write_text(NEW_REPORT, encoding="utf-8")
    try:
        time.sleep(1)
        started = time.monotonic()
        kb, file_errors = manage.add_files([new], kb_dir=kb_copy)
        finished = time.monotonic()
        time.sleep(1)
    finally:
        stop.set()
        asker.join(timeout=60)
    assert not errors and file_errors == []
    assert all("326.3亿元" in text for _, _, text in seen)
    during = [n for t, n, _ in seen if started < t < finished]
    assert during and set(during) <= {3, 4}  # answered throughout the rebuild
    counts = [n for _, n, _ in seen]
    assert counts == sorted(counts) and counts[0] == 3 and counts[-1] == 4  # old index, then the new one
    assert qa.ask("测试市去年第12项民生实事完成投资多少亿元？", kb_dir=kb_copy, mode="extractive").citations[0].passage.city == "测试市"
