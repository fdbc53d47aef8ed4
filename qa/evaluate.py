"""Scoring on question sets in the dev.jsonl format:
`{"id","city","type","question","answer","answer_keys","evidence"}` per line."""
from __future__ import annotations

import json
import re
import statistics
import time
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Callable

from .schema import Passage


def load_items(path: Path) -> list[dict]:
    items = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path} line {lineno}: not JSON ({exc})") from exc
    return items


def normalize_for_match(text: str) -> str:
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def contains_key(text: str, key: str) -> bool:
    """Key occurs in text (NFKC, no whitespace); a key that starts (ends) with a digit must not
    continue (be continued by) a longer number: 「0.7%」 does not match inside 「30.7%」."""
    text, key = normalize_for_match(text), normalize_for_match(key)
    if not key:
        return False
    start = text.find(key)
    while start >= 0:
        before = text[start - 1] if start else ""
        end = start + len(key)
        after = text[end] if end < len(text) else ""
        ok_before = not (key[0].isdigit() and (before.isdigit() or before == "."))
        ok_after = not (key[-1].isdigit() and (after.isdigit() or (after == "." and text[end + 1 : end + 2].isdigit())))
        if ok_before and ok_after:
            return True
        start = text.find(key, start + 1)
    return False


def answers(passage: Passage, item: dict) -> bool:
    """The passage comes from the item's city report and contains every answer key."""
    keys = item.get("answer_keys") or []
    return bool(keys) and passage.city == item["city"] and all(contains_key(passage.text, k) for k in keys)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))]


def evaluate_retrieval(items: list[dict], retrieve: Callable[[str], list[Passage]], k: int = 10) -> dict:
    """hit@1/3/5, MRR@10 and latency over answerable items, overall and by type; misses listed."""
    answerable = [it for it in items if it.get("answer_keys")]
    per_type: dict[str, list[int | None]] = defaultdict(list)
    ranks: list[int | None] = []
    latencies: list[float] = []
    misses = []
    for item in answerable:
        t0 = time.perf_counter()
        passages = retrieve(item["question"])[:k]
        latencies.append((time.perf_counter() - t0) * 1000)
        rank = next((i + 1 for i, p in enumerate(passages) if answers(p, item)), None)
        ranks.append(rank)
        per_type[item.get("type", "?")].append(rank)
        if rank is None or rank > 1:
            misses.append({"id": item.get("id"), "type": item.get("type"), "rank": rank, "question": item["question"],
                           "keys": item["answer_keys"], "top": [f"{p.city} {p.text[:60]}" for p in passages[:2]]})

    def summary(rs: list[int | None]) -> dict:
        n = len(rs) or 1
        return {
            "n": len(rs),
            "hit@1": sum(1 for r in rs if r and r <= 1) / n,
            "hit@3": sum(1 for r in rs if r and r <= 3) / n,
            "hit@5": sum(1 for r in rs if r and r <= 5) / n,
            "mrr@10": sum(1 / r for r in rs if r and r <= 10) / n,
        }

    return {
        "overall": summary(ranks),
        "by_type": {t: summary(rs) for t, rs in sorted(per_type.items())},
        "latency_ms": {"p50": percentile(latencies, 50), "p95": percentile(latencies, 95), "mean": statistics.fmean(latencies) if latencies else 0.0},
        "misses": misses,
    }


def format_report(name: str, report: dict) -> str:
    o = report["overall"]
    lines = [f"== {name}: {o['n']} answerable items",
             f"{'':16}{'n':>4} {'hit@1':>7} {'hit@3':>7} {'hit@5':>7} {'MRR@10':>7}"]
    for label, s in [("overall", o), *report["by_type"].items()]:
        lines.append(f"{label:16}{s['n']:>4} {s['hit@1']:7.3f} {s['hit@3']:7.3f} {s['hit@5']:7.3f} {s['mrr@10']:7.3f}")
    lat = report["latency_ms"]
    lines.append(f"retrieve latency: p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms")
    return "\n".join(lines)


def _answer_row(item: dict, ans, ms: float) -> dict:
    keys = item.get("answer_keys") or []
    return {
        "answerable": bool(keys),
        "refused": ans.refused,
        "correct": bool(keys) and not ans.refused and all(contains_key(ans.text, k) for k in keys),
        "cited_ok": bool(keys) and any(answers(p, item) for p in ans.citations),
        "ms": ms,
    }


def _is_miss(row: dict) -> bool:
    return not row["correct"] if row["answerable"] else not row["refused"]


def summarize_answers(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    answered = [r for r in answerable if not r["refused"]]
    ms = [r["ms"] for r in rows]
    share = lambda part, whole: (len(part) / len(whole)) if whole else 0.0  # noqa: E731
    return {
        "n": len(rows),
        "answer_accuracy": share([r for r in answerable if r["correct"]], answerable),
        "citation_correctness": share([r for r in answered if r["cited_ok"]], answered),
        "refusal_recall": share([r for r in unanswerable if r["refused"]], unanswerable),
        "false_refusals": share([r for r in answerable if r["refused"]], answerable),
        "latency_ms": {"p50": percentile(ms, 50), "p95": percentile(ms, 95)},
    }


def evaluate_answers(items: list[dict], ask: Callable) -> tuple[dict, list[dict]]:
    rows, misses = [], []
    for item in items:
        t0 = time.perf_counter()
        ans = ask(item["question"])
        row = _answer_row(item, ans, (time.perf_counter() - t0) * 1000)
        rows.append(row)
        if _is_miss(row):
            misses.append({"id": item.get("id"), "type": item.get("type"), "question": item["question"],
                           "keys": item.get("answer_keys"), "answer": ans.text[:160]})
    return summarize_answers(rows), misses


def evaluate_conversations(conversations: list[dict], ask: Callable) -> tuple[dict, dict, list[dict]]:
    """Each conversation's turns asked in order with the history; scores all turns and follow-ups."""
    rows, followups, misses = [], [], []
    for conv in conversations:
        history: list[tuple[str, str]] = []
        for i, turn in enumerate(conv["turns"]):
            t0 = time.perf_counter()
            ans = ask(turn["question"], history=list(history))
            row = _answer_row(turn, ans, (time.perf_counter() - t0) * 1000)
            rows.append(row)
            if i:
                followups.append(row)
            if _is_miss(row):
                misses.append({"id": conv.get("id"), "turn": i + 1, "question": turn["question"], "rewritten": ans.question,
                               "keys": turn.get("answer_keys"), "answer": ans.text[:160]})
            history.append((turn["question"], ans.text))
    return summarize_answers(rows), summarize_answers(followups), misses


def format_answers(name: str, s: dict) -> str:
    return (f"{name}: n={s['n']} accuracy {s['answer_accuracy']:.3f} | citations {s['citation_correctness']:.3f} | "
            f"refusal recall {s['refusal_recall']:.3f} | false refusals {s['false_refusals']:.3f} | "
            f"ask p50 {s['latency_ms']['p50']:.1f} ms p95 {s['latency_ms']['p95']:.1f} ms")


def run_eval(path: Path, kb_dir=None, with_answers: bool = True, show_misses: bool = False, as_json: bool = False,
             mode: str = "extractive", limit: int | None = None, baseline: bool = False, cold: bool = False) -> int:
    """`python -m qa eval FILE`: retrieval metrics, then answer metrics (extractive mode unless
    mode="llm", which needs QA_LLM). A CMRC-style file (items with "gold_doc_ids") is scored
    against its own corpus by `external_eval`."""
    from .answer import ask
    from .pipeline import open_kb, retrieve

    items = load_items(path)[:limit]
    from .external_eval import is_span_benchmark, run_span_benchmark

    if is_span_benchmark(items):
        return run_span_benchmark(path, kb_dir, with_answers, baseline, cold, limit, show_misses, as_json)
    open_kb(kb_dir)  # load (or build) outside the timed loop
    out: dict = {}
    if items and "turns" in items[0]:
        total, follow, misses = evaluate_conversations(items, lambda q, history: ask(q, history=history, kb_dir=kb_dir, mode=mode))
        out = {"all_turns": total, "followups": follow, "misses": misses}
        text = [format_answers("all turns", total), format_answers("follow-up turns", follow)]
    else:
        retrieve(items[0]["question"], kb_dir=kb_dir)  # warm-up: first query loads the model
        report = evaluate_retrieval(items, lambda q: retrieve(q, k=10, kb_dir=kb_dir))
        out["retrieval"] = report
        # a file of unanswerable questions only has no retrieval to score
        text = [format_report(f"retrieval on {Path(path).name}", report)] if report["overall"]["n"] else []
        misses = report["misses"]
        if with_answers:
            modes: dict[str, int] = {}

            def ask_counting(q: str):
                ans = ask(q, kb_dir=kb_dir, mode=mode)
                modes[ans.mode] = modes.get(ans.mode, 0) + 1
                return ans

            summary, answer_misses = evaluate_answers(items, ask_counting)
            out["answers"], out["answer_misses"], out["answer_modes"] = summary, answer_misses, modes
            text.append(format_answers(f"answers ({mode})", summary) + f" | modes {modes}")
            misses = misses + answer_misses
    if as_json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    print("\n".join(text))
    if show_misses:
        print("\nmisses:")
        for m in misses:
            print(" ", json.dumps(m, ensure_ascii=False))
    return 0
