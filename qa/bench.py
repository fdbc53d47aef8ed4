"""`python -m qa bench`: the speed and memory numbers, printed (not asserted by tests).

- cold build: a fresh knowledge base from the bundled reports with an empty embedding cache
  (only with --cold: it embeds everything)
- warm start: a new process that loads the existing index and retrieves for one question
- retrieve / ask latency p50/p95 over the dev questions, and this process's peak RSS
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .evaluate import load_items, percentile
from .config import DEFAULT_DATA_DIR, PROJECT_DIR
from .index import build

DEV = PROJECT_DIR / "eval" / "dev.jsonl"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cold_build() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        kb, _ = build(Path(tmp) / "kb", sources=[DEFAULT_DATA_DIR])
        seconds = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in (Path(tmp) / "kb" / "current").resolve().rglob("*") if f.is_file())
    return {"cold_build_s": round(seconds, 1), "passages": len(kb.passages), "sentences": len(kb.sentences),
            "index_mb": round(size / 1e6, 1)}


def warm_start(kb_dir: str | None) -> dict:
    """Seconds from a new interpreter to the first retrieved passage, index already on disk."""
    code = ("import time; t=time.perf_counter(); import qa; qa.retrieve('彬州去年GDP总量有多大？'%s); "
            "print(time.perf_counter()-t)") % (f", kb_dir={kb_dir!r}" if kb_dir else "")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {"warm_start_s": round(float(out.stdout.strip().splitlines()[-1]), 2)}


def latencies(kb_dir: str | None) -> dict:
    from .answer import ask
    from .pipeline import open_kb, retrieve

    questions = [it["question"] for it in load_items(DEV)]
    t0 = time.perf_counter()
    open_kb(kb_dir)
    retrieve(questions[0], kb_dir=kb_dir)
    load_s = time.perf_counter() - t0
    timings: dict[str, list[float]] = {"retrieve": [], "ask": []}
    for q in questions:
        t = time.perf_counter()
        retrieve(q, k=5, kb_dir=kb_dir)
        timings["retrieve"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        ask(q, kb_dir=kb_dir, mode="extractive")
        timings["ask"].append((time.perf_counter() - t) * 1000)
    out = {"in_process_load_s": round(load_s, 2), "questions": len(questions)}
    for name, ms in timings.items():
        out[f"{name}_p50_ms"] = round(percentile(ms, 50), 1)
        out[f"{name}_p95_ms"] = round(percentile(ms, 95), 1)
    out.update(fact_step(kb_dir))
    out["peak_rss_mb"] = round(_rss_mb(), 0)
    return out


def fact_step(kb_dir: str | None) -> dict:
    """What answering from the facts table adds to `ask`: the fact lookup and composition alone,
    over the report-fact question sets (the passage answer is made first, outside the timing)."""
    from .answer import ask, fact_answer
    from .pipeline import open_kb
    from .query import analyze

    kb = open_kb(kb_dir)
    questions = [it["question"] for name in ("facts_compare", "facts_single", "facts_absent")
                 for it in load_items(PROJECT_DIR / "eval" / f"{name}.jsonl")]
    ms = []
    for text in questions:
        passages_answer = ask(text, kb_dir=kb_dir, mode="extractive")
        q = analyze(text, kb.cities, kb.default_year, kb.uses)
        t = time.perf_counter()
        fact_answer(q, kb, passages_answer)
        ms.append((time.perf_counter() - t) * 1000)
    return {"fact_questions": len(questions), "fact_step_p50_ms": round(percentile(ms, 50), 2),
            "fact_step_p95_ms": round(percentile(ms, 95), 2)}


def main(args) -> int:
    results: dict = {}
    if getattr(args, "cold", False):
        results.update(cold_build())
    results.update(warm_start(args.kb))
    results.update(latencies(args.kb))
    print(json.dumps(results, ensure_ascii=False, indent=1))
    return 0
