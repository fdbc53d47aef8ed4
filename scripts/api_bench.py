"""What the HTTP API costs, measured side by side in one run (extractive answers, loopback):

1. overhead: each dev question through the API of a server started by this script over the same
   knowledge base; per request, the time the client waited minus the time the server spent in
   qa.ask (its Server-Timing header). For comparison the same question is also asked in this
   process, one after the other (order alternating): on this shared 2-core machine the
   difference of the two is dominated by the noise of the answer's own time;
2. time to the first streamed chunk (the role chunk) and to the first chunk with answer text;
3. 20 concurrent clients x 5 questions each: errors, p50/p95 latency, wall time.

    python scripts/api_bench.py [--kb DIR] [--file eval/dev.jsonl] [--clients 20] [--per-client 5]

The server's own CPU use competes with this process only in part 3 (both run on this machine).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.answer import ask  # noqa: E402
from qa.config import from_env  # noqa: E402
from qa.evaluate import load_items, percentile  # noqa: E402
from qa.pipeline import kb_root, open_kb  # noqa: E402
from qa.web.process import running_server  # noqa: E402


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def _body(question: str, stream: bool = False) -> dict:
    return {"model": "extractive", "messages": [{"role": "user", "content": question}], "stream": stream}


def overhead(api: httpx.Client, questions: list[str], kb: Path) -> dict:
    local, threaded, remote, diff, served = [], [], [], [], []
    worker = ThreadPoolExecutor(1)  # the server answers in worker threads: the same here, for comparison
    for i, q in enumerate(questions):
        times = {}
        for where in (("local", "thread", "api") if i % 2 else ("api", "thread", "local")):
            t0 = time.perf_counter()
            if where == "local":
                text = ask(q, kb_dir=kb, mode="extractive").text
            elif where == "thread":
                text = worker.submit(ask, q, kb_dir=kb, mode="extractive").result().text
            else:
                reply = api.post("/v1/chat/completions", json=_body(q))
                reply.raise_for_status()
                text = reply.json()["report_qa"]["text"]
                answer_ms = float(reply.headers["server-timing"].split("dur=")[1])
            times[where] = _ms(t0)
            times[where + "_text"] = text
        assert times["local_text"] == times["thread_text"] == times["api_text"], q
        local.append(times["local"])
        threaded.append(times["thread"])
        remote.append(times["api"])
        diff.append(times["api"] - times["local"])
        served.append(times["api"] - answer_ms)
    return {"n": len(questions), "api_minus_server_ask_p50": percentile(served, 50),
            "api_minus_server_ask_p95": percentile(served, 95), "api_p50": percentile(remote, 50),
            "api_p95": percentile(remote, 95), "in_process_p50": percentile(local, 50),
            "in_process_p95": percentile(local, 95), "api_minus_in_process_p50": percentile(diff, 50),
            "in_process_worker_thread_p50": percentile(threaded, 50),
            "in_process_worker_thread_p95": percentile(threaded, 95)}


def first_chunks(api: httpx.Client, questions: list[str]) -> dict:
    first, first_text = [], []
    for q in questions:
        t0 = time.perf_counter()
        got_first = None
        with api.stream("POST", "/v1/chat/completions", json=_body(q, stream=True)) as reply:
            lines = reply.iter_lines()
            for line in lines:
                if not line.startswith("data: {"):
                    continue
                if got_first is None:
                    got_first = _ms(t0)
                if json.loads(line[6:])["choices"][0]["delta"].get("content"):
                    first_text.append(_ms(t0))
                    break
            for _ in lines:  # read to [DONE]
                pass
        first.append(got_first)
    return {"n": len(questions), "first_chunk_p50": percentile(first, 50), "first_chunk_p95": percentile(first, 95),
            "first_text_p50": percentile(first_text, 50), "first_text_p95": percentile(first_text, 95)}


def concurrent(url: str, questions: list[str], clients: int, per_client: int) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        with httpx.Client(base_url=url, timeout=300) as api:
            for j in range(per_client):
                q = questions[(c * per_client + j) % len(questions)]
                t0 = time.perf_counter()
                try:
                    reply = api.post("/v1/chat/completions", json=_body(q))
                    ok = reply.status_code == 200 and reply.json()["report_qa"]["text"]
                    outcome = None if ok else f"{reply.status_code}: {reply.text[:120]}"
                except httpx.HTTPError as exc:
                    outcome = repr(exc)
                with lock:
                    latencies.append(_ms(t0))
                    if outcome:
                        errors.append(outcome)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"clients": clients, "per_client": per_client, "requests": len(latencies), "errors": len(errors),
            "error_examples": errors[:3], "p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
            "max": max(latencies), "wall_s": round(wall, 2), "answers_per_s": round(len(latencies) / wall, 2)}


def _rounded(value):
    if isinstance(value, float):
        return round(value, 1)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", help="knowledge base (default: the configured one)")
    parser.add_argument("--file", default=str(ROOT / "eval" / "dev.jsonl"))
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--per-client", type=int, default=5)
    args = parser.parse_args()
    kb = kb_root(args.kb, from_env())
    questions = [it["question"] for it in load_items(Path(args.file))]
    open_kb(kb)
    ask(questions[0], kb_dir=kb, mode="extractive")  # warm-up in this process
    flags = subprocess.run("lscpu | grep -o -E 'avx512_bf16|avx512f|avx2|amx_bf16' | sort -u | tr '\\n' ' '",
                           shell=True, capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp, running_server(kb, Path(tmp) / "serve.log") as server:
        url = server["url"].rstrip("/")
        with httpx.Client(base_url=url, timeout=300) as api:
            api.post("/v1/chat/completions", json=_body(questions[0])).raise_for_status()  # warm-up
            results = {"cpu_flags": flags, "overhead_ms": overhead(api, questions, kb),
                       "stream_ms": first_chunks(api, questions)}
        results["concurrent_ms"] = concurrent(url, questions, args.clients, args.per_client)
    print(json.dumps(_rounded(results), ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
