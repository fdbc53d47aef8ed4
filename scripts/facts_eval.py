"""Fact extraction precision and recall against a hand-made gold sample (issue 13).

    python scripts/facts_eval.py --gold eval/facts_gold.jsonl --split dev [--misses]

Only headline facts of the gold's reports are scored; a fact matches a gold line on
(city, indicator, period, kind, value). Distinct keys on both sides (a figure stated twice is one).
Absent lines (facts_gold_absent.jsonl beside the gold) must get no extracted fact.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from qa.facts import Fact, extract_facts
from qa.ingest import read_file

REPORTS = Path(__file__).resolve().parent.parent / "data" / "reports" / "2023_city_reports.txt"


def _key(city: str, indicator: str, period: str, kind: str, value: float) -> tuple:
    return (city, indicator, str(period), kind, round(abs(float(value)), 4))


def score(facts: list[Fact], gold: list[dict], absent: list[dict] = ()) -> dict:
    """P/R of headline facts on the gold's cities; misses and extras for reading."""
    cities = {g["city"] for g in gold}
    got = {_key(f.city, f.indicator, f.period, f.kind, f.value): f for f in facts if f.headline and f.city in cities}
    want = {_key(g["city"], g["indicator"], g["period"], g["kind"], g["value"]): g for g in gold}
    hit = set(got) & set(want)
    absent_hits = [a for a in absent if any(k[:4] == (a["city"], a["indicator"], str(a["period"]), a["kind"]) for k in got)]
    return {
        "precision": len(hit) / len(got) if got else 1.0,
        "recall": len(hit) / len(want) if want else 1.0,
        "extracted": len(got), "gold": len(want), "matched": len(hit),
        "absent": len(absent), "absent_violations": absent_hits,
        "misses": [want[k] for k in sorted(set(want) - hit)],
        "extras": [got[k] for k in sorted(set(got) - hit)],
    }


def _load(path: Path, split: str) -> list[dict]:
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("split") == split]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gold", type=Path, default=Path("eval/facts_gold.jsonl"))
    ap.add_argument("--split", default="dev", help="dev (tune on it) or holdout (report once, at the end)")
    ap.add_argument("--misses", action="store_true", help="print the gold lines missed and the extra facts")
    args = ap.parse_args(argv)
    gold = _load(args.gold, args.split)
    if not gold:
        print(f"no {args.split} lines in {args.gold}", file=sys.stderr)
        return 2
    absent = _load(args.gold.with_name("facts_gold_absent.jsonl"), args.split)
    docs = read_file(REPORTS)
    t = time.perf_counter()
    facts = [f for d in docs for f in extract_facts(d)]
    elapsed = time.perf_counter() - t
    r = score(facts, gold, absent)
    print(f"{args.split}: precision {r['precision']:.3f} ({r['matched']}/{r['extracted']})  "
          f"recall {r['recall']:.3f} ({r['matched']}/{r['gold']})  "
          f"absent violated {len(r['absent_violations'])}/{r['absent']}  "
          f"[extraction of {len(docs)} reports: {elapsed:.2f} s]")
    if args.misses:
        text = {d.city: d.text for d in docs}
        for g in r["misses"]:
            print("MISS ", g["city"], g["period"], g["indicator"], g["kind"], g["value"], g.get("unit"), "|", g.get("evidence", "")[:80])
        for f in r["extras"]:
            print("EXTRA", f.city, f.period, f.indicator, f.kind, f.value, f.unit, "|",
                  text[f.city][max(f.sentence_start, f.start - 30):f.end + 5].replace("\n", " "))
        for a in r["absent_violations"]:
            print("ABSENT", a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
