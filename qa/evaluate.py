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
from .text import contains_whole


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
    """Key occurs in text (NFKC, no whitespace) as a whole figure (「0.7%」 is not in 「30.7%」)."""
    return contains_whole(normalize_for_match(text), normalize_for_match(key))


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
        "cited_ok": bool(keys) and any(answers(c.passage, item) for c in ans.citations),
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
    summary, misses, _ = evaluate_answer_rows(items, ask)
    return summary, misses


def evaluate_answer_rows(items: list[dict], ask: Callable) -> tuple[dict, list[dict], list[dict]]:
    rows, misses = [], []
    for item in items:
        t0 = time.perf_counter()
        ans = ask(item["question"])
        row = _answer_row(item, ans, (time.perf_counter() - t0) * 1000)
        rows.append(row)
        if _is_miss(row):
            misses.append({"id": item.get("id"), "type": item.get("type"), "question": item["question"],
                           "keys": item.get("answer_keys"), "answer": ans.text[:160]})
    return summarize_answers(rows), misses, rows


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


FACT_TYPES = ("compare", "rank", "kb_rank")  # questions over several reports (eval/facts_compare.jsonl)


def fact_answer_correct(item: dict, ans, cities: list[str]) -> bool:
    """Every value the reports state is in the answer, every named city without one is said to be
    missing (「未给出」), and a ranking names its cities in the expected order first."""
    from .query import find_cities

    text = re.sub(r"超过(?=\d)", "超", ans.text)  # 「超7.7万元」 as the report writes it, 「超过」 as answers may
    if not all(contains_key(text, k) for k in item.get("answer_keys") or []):
        return False
    if item["type"] != "kb_rank" and any(v is None for v in item["values"].values()) and not re.search("[未没]有?给出", text):
        return False
    expected = item.get("expected")
    if expected:
        expected = [expected] if isinstance(expected, str) else list(expected)
        if find_cities(text, cities)[: len(expected)] != expected:
            return False
    return True


def evaluate_fact_questions(items: list[dict], ask: Callable, cities: list[str]) -> tuple[dict, list[dict]]:
    """Accuracy by type and split of comparison and ranking questions."""
    groups: dict[str, list[bool]] = defaultdict(list)
    ms, misses = [], []
    for item in items:
        t0 = time.perf_counter()
        ans = ask(item["question"])
        ms.append((time.perf_counter() - t0) * 1000)
        ok = fact_answer_correct(item, ans, cities)
        for key in ("all", item["type"], f"split:{item.get('split', 'dev')}"):
            groups[key].append(ok)
        if not ok:
            misses.append({"id": item.get("id"), "type": item["type"], "question": item["question"],
                           "expected": item.get("expected"), "keys": item.get("answer_keys"), "answer": ans.text[:240]})
    summary = {k: {"n": len(v), "accuracy": sum(v) / len(v)} for k, v in sorted(groups.items())}
    summary["latency_ms"] = {"p50": percentile(ms, 50), "p95": percentile(ms, 95)}
    return summary, misses


def by_split(items: list[dict], rows: list[dict]) -> dict:
    """Answer metrics of each split (dev / holdout) of a question set that has them."""
    splits = sorted({it.get("split") for it in items if it.get("split")})
    return {sp: summarize_answers([r for it, r in zip(items, rows) if it.get("split") == sp]) for sp in splits}


def format_answers(name: str, s: dict) -> str:
    return (f"{name}: n={s['n']} accuracy {s['answer_accuracy']:.3f} | citations {s['citation_correctness']:.3f} | "
            f"refusal recall {s['refusal_recall']:.3f} | false refusals {s['false_refusals']:.3f} | "
            f"ask p50 {s['latency_ms']['p50']:.1f} ms p95 {s['latency_ms']['p95']:.1f} ms")


def run_eval(path: Path, kb_dir=None, with_answers: bool = True, show_misses: bool = False, as_json: bool = False,
             mode: str = "extractive", limit: int | None = None, client=None, baseline: bool = False,
             cold: bool = False) -> int:
    """`python -m qa eval FILE`: retrieval metrics, then answer metrics (extractive mode unless
    mode="llm", which needs QA_LLM). With a `qa.client.ApiClient`, both go through a server's API.
    A CMRC-style file (items with "gold_doc_ids") is scored against its own corpus by `external_eval`."""
    from .external_eval import is_span_benchmark, run_span_benchmark

    items = load_items(path)[:limit]
    if is_span_benchmark(items):
        return run_span_benchmark(path, kb_dir, with_answers, baseline, cold, limit, show_misses, as_json)
    if not items or not all("question" in it or "turns" in it for it in items):
        # The facts gold (city, indicator, value, evidence) is scored by scripts/facts_eval.py.
        raise ValueError(f"{path} 不是问题集：每行应有 question（或多轮对话的 turns）。"
                         "报告数据的金标准请用 python scripts/facts_eval.py --gold 文件 评测。")
    if client is not None:
        ask, retrieve = client.ask, client.retrieve
    else:
        from .answer import ask
        from .pipeline import open_kb, retrieve

        open_kb(kb_dir)  # load (or build) outside the timed loop
    where = {} if client is not None else {"kb_dir": kb_dir}  # a server answers from its own knowledge base
    out: dict = {}
    if items and items[0].get("type") in FACT_TYPES:
        if client is not None:
            raise ValueError("--via-api 暂不支持报告数据题集（需要知识库的城市列表）。")
        summary, misses = evaluate_fact_questions(items, lambda q: ask(q, mode=mode, **where), open_kb(kb_dir).cities)
        out = {"facts": summary, "misses": misses}
        text = [f"{name:>14}: n={v['n']:3d} accuracy {v['accuracy']:.3f}" for name, v in summary.items() if "n" in v]
        text.append(f"ask p50 {summary['latency_ms']['p50']:.1f} ms p95 {summary['latency_ms']['p95']:.1f} ms")
    elif items and "turns" in items[0]:
        total, follow, misses = evaluate_conversations(items, lambda q, history: ask(q, history=history, mode=mode, **where))
        out = {"all_turns": total, "followups": follow, "misses": misses}
        text = [format_answers("all turns", total), format_answers("follow-up turns", follow)]
    else:
        retrieve(items[0]["question"], **where)  # warm-up: first query loads the model
        report = evaluate_retrieval(items, lambda q: retrieve(q, k=10, **where))
        out["retrieval"] = report
        # a file of unanswerable questions only has no retrieval to score
        text = [format_report(f"retrieval on {Path(path).name}", report)] if report["overall"]["n"] else []
        misses = report["misses"]
        if with_answers:
            modes: dict[str, int] = {}

            def ask_counting(q: str):
                ans = ask(q, mode=mode, **where)
                modes[ans.mode] = modes.get(ans.mode, 0) + 1
                return ans

            summary, answer_misses, rows = evaluate_answer_rows(items, ask_counting)
            out["answers"], out["answer_misses"], out["answer_modes"] = summary, answer_misses, modes
            text.append(format_answers(f"answers ({mode})", summary) + f" | modes {modes}")
            for split, s in by_split(items, rows).items():
                out.setdefault("answers_by_split", {})[split] = s
                text.append(format_answers(f"  split {split}", s))
            misses = misses + answer_misses
    return print_report(out, text, misses, show_misses, as_json)


def print_report(out: dict, lines: list[str], misses: list[dict], show_misses: bool, as_json: bool) -> int:
    """An evaluation's report: the JSON record, or the lines and (when asked) every miss."""
    if as_json:
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    print("\n".join(lines))
    if show_misses:
        print("\nmisses:")
        for m in misses:
            print(" ", json.dumps(m, ensure_ascii=False))
    return 0
