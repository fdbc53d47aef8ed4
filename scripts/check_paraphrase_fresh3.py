"""Check eval/paraphrase_fresh3.jsonl against the report text (stdlib only; does not import qa).

Checks: fields and split; every evidence string is an exact substring of its city's report (the corpus is
split at the 「2023年…政府工作报告」 title lines); it lies in the right part of the report (2022 review or
2023 plan, by type, or by 去年/今年 in the question for how-questions); every answer key is in its evidence
and not in the question; no question or evidence repeats eval/dev.jsonl. Prints counts.
Usage: python scripts/check_paraphrase_fresh3.py [path]
"""
import collections
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_facts_gold import report_texts  # noqa: E402  (the same report split, no qa import)

ROOT = Path(__file__).resolve().parent.parent
FIELDS = {"id", "city", "type", "question", "answer", "answer_keys", "evidence", "split"}
# The heading that opens a report's 2023 part (「二、2023年工作安排」, 「2023年工作安排」, 「做好2023年工作」 ...).
PLAN = re.compile(r"(?:\n| )(?:二、2023年|做好2023年工作|2023年(?:重点)?工作安排|2023年目标任务)")


def period_of(rec: dict) -> str | None:
    if rec["type"] == "number_2022":
        return "2022"
    if rec["type"] == "target_2023":
        return "2023"
    q = rec["question"]
    if ("去年" in q) == ("今年" in q):
        return None
    return "2022" if "去年" in q else "2023"


def check(rec: dict, reps: dict, dev: list) -> list:
    errs = []
    if set(rec) != FIELDS:
        return [f"fields {sorted(set(rec) ^ FIELDS)}"]
    if rec["split"] != "untouched":
        errs.append("split is not untouched")
    body = reps.get(rec["city"])
    if body is None:
        return errs + [f"no report for {rec['city']}"]
    ev = rec["evidence"]
    pos = body.find(ev) if ev else -1
    if pos < 0:
        errs.append("evidence not in report")
    per = period_of(rec)
    if per is None:
        errs.append("period unclear (type or 去年/今年 in question)")
    elif pos >= 0:
        part = "2022" if pos < PLAN.search(body).start() else "2023"
        if part != per:
            errs.append(f"evidence is in the {part} part, question asks {per}")
    if not rec["answer_keys"]:
        errs.append("no answer keys")
    for k in rec["answer_keys"]:
        if k not in ev:
            errs.append(f"key {k!r} not in evidence")
        if k in rec["question"]:
            errs.append(f"key {k!r} given away in question")
    for d in dev:
        if d["question"] == rec["question"] or (d["evidence"] and d["city"] == rec["city"]
                                                  and (d["evidence"] in ev or ev in d["evidence"])):
            errs.append(f"repeats dev {d['id']}")
    return errs


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "eval/paraphrase_fresh3.jsonl"
    reps = report_texts()
    dev = [json.loads(x) for x in open(ROOT / "eval/dev.jsonl", encoding="utf-8") if x.strip()]
    recs = [json.loads(x) for x in open(path, encoding="utf-8") if x.strip()]
    bad = 0
    for r in recs:
        for e in check(r, reps, dev):
            bad += 1
            print(f"FAIL {r.get('id')}: {e}")
    ids = collections.Counter(r["id"] for r in recs)
    for i, n in ids.items():
        if n > 1:
            bad += 1
            print(f"FAIL duplicate id {i}")
    types = collections.Counter(r["type"] for r in recs)
    periods = collections.Counter(period_of(r) for r in recs)
    cities = collections.Counter(r["city"] for r in recs)
    print(f"{len(recs)} questions; types {dict(types)}; periods {dict(periods)}; {len(cities)} cities")
    print(f"{'OK' if bad == 0 else f'{bad} problem(s)'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
