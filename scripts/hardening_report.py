"""The numbers of issue 14's closing note, reproduced by one command over a copy of the bundled
reports' knowledge base, with the real server on loopback:

1. routes probed: with QA_AUTH and QA_API_KEY every page, Gradio and API route without a login or
   key (refused), then with them (served: the probes mean something); without them (loopback),
   Gradio's file routes with absolute and traversal paths, and a forged Host;
2. bad inputs tried and the message each got: questions and k in process, request bodies through
   the API, files given to the knowledge base (nothing is added);
3. concurrent sessions: 20 clients x 5 questions on the loopback API (scripts/api_bench.py's
   `concurrent`), errors and p50/p95 latency;
4. the tests that cover the rest, run with pytest (kill points of tests/test_crash.py, the corrupt
   files of tests/test_corruption.py, the duplicate-report choice, the security tests of
   tests/test_api.py and tests/test_ui_e2e.py): each test's outcome and the time they took, and the
   fast lane's time. The whole suite's time is measured by the lead on the merged branch.

    python scripts/hardening_report.py [--skip-tests] [--clients 20] [--per-client 5]
    python scripts/hardening_report.py --corruption-table   # only the corrupt-file inventory, as Markdown
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

from api_bench import concurrent  # noqa: E402
from qa import manage  # noqa: E402
from qa.answer import ask  # noqa: E402
from qa.evaluate import load_items  # noqa: E402
from qa.pipeline import open_kb  # noqa: E402
from qa.web.process import running_server  # noqa: E402

PY = sys.executable
# Each route with a body that would do something if it were served.
ROUTES = [("GET", "/", None), ("GET", "/config", None), ("GET", "/gradio_api/info", None),
          ("GET", "/gradio_api/info?all_endpoints=true", None), ("GET", "/theme.css", None),
          ("POST", "/gradio_api/queue/join", {"data": ["彬州去年GDP总量有多大？"], "fn_index": 0, "session_hash": "x"}),
          ("GET", "/gradio_api/queue/data?session_hash=x", None),
          ("POST", "/gradio_api/call/respond", {"data": ["彬州去年GDP总量有多大？", [], 6, "extractive"]}),
          ("POST", "/gradio_api/call/add", {"data": [[], []]}), ("POST", "/gradio_api/call/remove", {"data": ["x", []]}),
          ("POST", "/gradio_api/call/rebuild", {"data": [[]]}), ("POST", "/gradio_api/call/add_keep", {"data": [[]]}),
          ("POST", "/gradio_api/upload", None), ("GET", "/gradio_api/file=/etc/passwd", None),
          ("GET", "/gradio_api/upload_progress?upload_id=x", None), ("GET", "/v1/models", None),
          ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "彬州去年GDP总量有多大？"}]}),
          ("POST", "/v1/retrieve", {"question": "宁波GDP"}), ("GET", "/v1/anything", None)]
FILE_FORMS = ["file={}", "gradio_api/file={}", "gradio_api/file/{}", "static/{}", "assets/{}", "gradio_api/upload/{}"]
BAD_QUESTIONS = ["", "   ", "\x00\x00", "😀😀😀", "？？？！！！", "' OR 1=1 --", "DROP TABLE documents;", "\ud800彬州GDP",
                 "彬州" * 300, "<script>alert(1)</script>", "拉萨去年GDP总量有多大？", "北京去年GDP总量有多大？"]
BAD_K = [-1, 0, "5", 1000, 2.5, None]


def _chat(extra: str) -> bytes:
    return ('{%s, "messages": [{"role": "user", "content": "彬州去年GDP总量有多大？"}]}' % extra).encode()


BAD_BODIES = [("not JSON", b"{oops"), ("a JSON list", b"[1,2]"), ("no messages", b"{}"),
              ("empty messages", b'{"messages": []}'), ("empty question", b'{"messages": [{"role": "user", "content": ""}]}'),
              ("unknown model", _chat('"model": "gpt-4"')), ("k as text", _chat('"k": "5"')), ("k = -1", _chat('"k": -1')),
              ("unknown city", _chat('"city": "Atlantis"')),
              ("2 MB body", b'{"messages": [{"role": "user", "content": "' + b"a" * 2_000_000 + b'"}]}')]
HARDENING_TESTS = ["tests/test_api.py", "tests/test_crash.py", "tests/test_corruption.py", "tests/test_hardening.py",
                   "tests/test_duplicate_choice.py", "tests/test_limits.py", "tests/test_rules.py", "tests/test_ui_e2e.py"]


def say(title: str) -> None:
    print(f"\n## {title}", flush=True)


def probe_routes(kb: Path, tmp: Path) -> None:
    env = {"QA_AUTH": "alice:pw", "QA_API_KEY": "s3cret-key"}
    with running_server(kb, tmp / "auth.log", env=env) as s, httpx.Client(base_url=s["url"].rstrip("/"), timeout=60) as http:
        say("Routes without a login or key (QA_AUTH and QA_API_KEY set)")
        refused = 0
        for method, path, body in ROUTES:
            reply = http.request(method, path, json=body)
            refused += reply.status_code in (401, 403)
            # what is served without a login must hold nothing of the app (the login form, its style)
            leaked = any(word in reply.text for word in ("彬州", "政府工作报告问答", "qa-kb", "326.3"))
            note = " LEAKS the app" if leaked else " (login page or style only)" if reply.status_code == 200 else ""
            print(f"- {method} {path}: {reply.status_code}{note}")
        print(f"refused: {refused} of {len(ROUTES)}; the rest serve nothing of the app")
        http.post("/login", data={"username": "alice", "password": "pw"})
        key = {"Authorization": "Bearer s3cret-key"}
        served = [http.get(p, headers=key).status_code for p in ("/config", "/gradio_api/info", "/v1/models")]
        print(f"with the login and the key: /config, /gradio_api/info, /v1/models -> {served}")
    with running_server(kb, tmp / "open.log") as s:
        url = s["url"]
        say("Gradio's file routes (loopback, no login)")
        targets = ["/etc/passwd", str((kb / "current").resolve() / "store.sqlite"), str((kb / "current").resolve() / "manifest.json"),
                   str(kb / "config.json"), "../../../../etc/passwd", "..%2F..%2F..%2F..%2Fetc%2Fpasswd"]
        codes = Counter()
        for form in FILE_FORMS:
            for target in targets:
                reply = httpx.get(url + form.format(target), follow_redirects=False, timeout=30)
                leaked = b"root:" in reply.content or b"SQLite format" in reply.content
                codes["LEAKED" if leaked else reply.status_code] += 1
        print(f"{len(FILE_FORMS)} forms x {len(targets)} targets = {sum(codes.values())} probes: {dict(codes)}")
        hosts = [httpx.get(url + "config", headers={"Host": h}).status_code for h in ("evil.example", "attacker.test:80")]
        print(f"forged Host (DNS rebinding) on the page: {hosts}")
        bad_bodies(url)
        say("Concurrent sessions (loopback API, extractive)")
        questions = [it["question"] for it in load_items(ROOT / "eval" / "dev.jsonl")]
        httpx.post(url + "v1/chat/completions", json={"messages": [{"role": "user", "content": questions[0]}]}, timeout=300)
        result = concurrent(url.rstrip("/"), questions, ARGS.clients, ARGS.per_client)
        print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()}, ensure_ascii=False))


def bad_bodies(url: str) -> None:
    say("Bad request bodies (POST /v1/chat/completions)")
    for name, body in BAD_BODIES:
        reply = httpx.post(url + "v1/chat/completions", content=body, headers={"Content-Type": "application/json"}, timeout=60)
        try:
            message = reply.json().get("error", {}).get("message") or reply.json()["report_qa"]["text"][:60]
        except (ValueError, KeyError, AttributeError):
            message = reply.text[:80]
        print(f"- {name}: {reply.status_code} {message}")


def bad_inputs(kb: Path, tmp: Path) -> None:
    say("Bad questions and k (qa.ask, in process)")
    for q in BAD_QUESTIONS:
        print(f"- {q[:24]!r}{'…' if len(q) > 24 else ''}: {_outcome(lambda: ask(q, kb_dir=kb, mode='extractive'))}")
    for k in BAD_K:
        print(f"- k={k!r}: {_outcome(lambda: ask('彬州去年GDP总量有多大？', k=k, kb_dir=kb, mode='extractive'))}")
    say("Bad files given to the knowledge base (manage.add_files; nothing is added, no rebuild)")
    bad = tmp / "bad"
    bad.mkdir()
    sys.path.insert(0, str(ROOT / "tests"))
    from test_limits import _docx_with_body

    files = {"tool.exe": b"MZ\x90\x00", "old.doc": b"\xd0\xcf\x11\xe0", "empty.txt": b"", "noext": b"text",
             "scan.pdf": b"%PDF-1.4 not really a pdf", "noise.txt": bytes(range(256)) * 40, "zip.docx": b"PK\x03\x04broken",
             "only-title.txt": "2023年某市政府工作报告\n".encode()}
    for name, data in files.items():
        (bad / name).write_bytes(data)
    with open(bad / "big.txt", "wb") as fh:
        fh.truncate(manage.MAX_FILE_BYTES + 1)
    _docx_with_body(bad / "bomb.docx", 900_000)
    (bad / "long.txt").write_text("2023年测试市政府工作报告\n" + "全市生产总值增长5%。" * 200_000, encoding="utf-8")
    paths = sorted(p for p in bad.iterdir()) + [bad / "missing.md"]
    before = open_kb(kb).manifest.built_at
    kb_after, errors = manage.add_files(paths, kb_dir=kb)
    for name, reason in errors:
        print(f"- {name}: {reason}")
    print(f"{len(errors)} of {len(paths)} files refused; index rebuilt: {kb_after.manifest.built_at != before}")
    names = ["../../etc/passwd", "..\\..\\boot.ini", "/abs/path/报告.txt", ".hidden.txt", "CON.txt", "报告<script>.txt",
             "a|b;rm -rf ~.txt", "名" * 200 + ".txt", "\x00\x1f.txt", "...", ""]
    print("upload names made safe (manage.safe_name, always inside uploads/): "
          + "; ".join(f"{n[:20]!r} -> {manage.safe_name(n)[:24]!r}" for n in names))


def _outcome(fn) -> str:
    try:
        answer = fn()
    except Exception as exc:  # noqa: BLE001 - the message is what is reported
        return f"{type(exc).__name__}: {exc}"
    return f"{'refused' if answer.refused else 'answered'}: {answer.text[:70]}"


def run_tests(tmp: Path) -> None:
    say("Tests (pytest): " + " ".join(HARDENING_TESTS))
    xml = tmp / "junit.xml"
    t0 = time.perf_counter()
    subprocess.run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}", *HARDENING_TESTS],
                   cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True)
    took = time.perf_counter() - t0
    by_file: dict[str, Counter] = {}
    for case in ET.parse(xml).iter("testcase"):
        outcome = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "passed")
        name = case.get("classname", "").rsplit(".", 1)[-1]
        by_file.setdefault(name, Counter())[outcome] += 1
        if outcome != "passed" or name == "test_crash":
            print(f"- {name}::{case.get('name')}: {outcome} ({float(case.get('time', 0)):.1f} s)")
    for name, counts in by_file.items():
        print(f"{name}: {dict(counts)}")
    print(f"these {sum(sum(c.values()) for c in by_file.values())} tests took {took:.0f} s")
    t0 = time.perf_counter()
    fast = subprocess.run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow and not browser"],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    summary = (fast.stdout.strip().splitlines() or ["?"])[-1]
    print(f"fast lane (-m 'not slow and not browser'): {summary}; {time.perf_counter() - t0:.0f} s wall")


def corruption_table(tmp: Path) -> None:
    """The corrupt-file inventory of tests/test_corruption.py as a Markdown table: each case run on
    a copy of a three-report knowledge base, with what the user is told (the CLI's error, or the
    warning logged before the automatic rebuild) and whether the answer is right afterwards."""
    import logging

    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import SMALL_CITIES
    from test_corruption import CASES, GDP, RIGHT, WRONG

    from qa.cli import main as cli
    from qa.index import build
    from qa.ingest import load_documents
    from qa.pipeline import forget_kb

    sources = tmp / "sources"
    sources.mkdir()
    for doc in load_documents([ROOT / "data" / "reports"]).documents:
        if doc.city in SMALL_CITIES:
            (sources / f"{doc.city}.txt").write_text(doc.title + "\n" + doc.text, encoding="utf-8")
    base = tmp / "base"
    build(base, sources=[sources])
    records: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: records.append(record.getMessage())
    logging.getLogger().addHandler(handler)
    print("| # | damage | outcome | what the user is told | answer after |\n|---|---|---|---|---|")
    for i, case in enumerate(CASES, 1):
        root = tmp / f"case{i}"
        shutil.copytree(base, root, symlinks=True)
        case.damage(root)
        forget_kb(root)
        records.clear()
        err = tmp / "err.txt"
        with open(err, "w") as fh, contextlib.redirect_stderr(fh), contextlib.redirect_stdout(io.StringIO()) as out:
            rc = cli(["--kb", str(root), "ask", GDP])
        chinese = [r for r in records if re.search("[\u4e00-\u9fff]", r)]
        said = err.read_text().strip() if rc else next((r for r in chinese if case.part in r), chinese[0] if chinese else "")
        said = re.sub(r"/[^\s（）]*?/(case\d+|other-kb)", "KB", said).replace("|", "/")[:160]
        right = "right" if RIGHT in out.getvalue() and WRONG not in out.getvalue() else "—" if rc else "WRONG"
        print(f"| {i} | {case.id} | {case.outcome} | {said} | {right} |", flush=True)
        shutil.rmtree(root)


def main() -> int:
    flags = subprocess.run("lscpu | grep -o -E 'avx512_bf16|avx512f|avx2|amx_bf16' | sort -u | tr '\\n' ' '",
                           shell=True, capture_output=True, text=True).stdout.strip()
    print(f"# Hardening report ({time.strftime('%Y-%m-%d %H:%M')}, cpu: {flags}; {os.getloadavg()[0]:.1f} load)")
    with tempfile.TemporaryDirectory(prefix="qa-hardening-") as name:
        tmp = Path(name)
        if ARGS.corruption_table:
            corruption_table(tmp)
            return 0
        kb = tmp / "kb"
        shutil.copytree(open_kb().root, kb, symlinks=True)  # the bundled reports' knowledge base
        probe_routes(kb, tmp)
        bad_inputs(kb, tmp)
        if not ARGS.skip_tests:
            run_tests(tmp)
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-tests", action="store_true", help="only the live probes and the bad inputs")
    parser.add_argument("--corruption-table", action="store_true", help="only the corrupt-file inventory (Markdown)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--per-client", type=int, default=5)
    ARGS = parser.parse_args()
    sys.exit(main())
