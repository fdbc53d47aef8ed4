#!/usr/bin/env python3
"""Stdlib-only checker for the fresh4 single-figure question file.

Paths (relative to the repository root, scripts/..):
  questions: eval/facts_fresh4_single.jsonl
  reports:   data/reports/2023_city_reports.txt

Checks: exact field set and order, unique ids, type/split/period/kind values,
city present among the report titles, evidence is an exact substring of that
city's report (reports split on title lines), every answer key is inside the
evidence, no (city, indicator, period, kind) repeated within the file or taken
from the earlier single-figure sets.
Exit code 0 when everything passes, 1 otherwise.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_facts_gold import earlier_combos, report_texts  # noqa: E402  (one report split for every checker)

FIELDS = ["id", "type", "question", "city", "indicator", "period", "kind",
          "answer_keys", "evidence", "split"]
KINDS = {"amount", "growth", "share", "count"}
PERIODS = {"2022", "2023"}
SPLIT = "fresh4"
TITLE_RE = re.compile(r"^\s*2023年(.+?市)(?:人民)?政府工作报告\s*$")


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # scripts/..


def main():
    root = repo_root()
    qpath = os.path.join(root, "eval", "facts_fresh4_single.jsonl")
    print("questions:", qpath)
    reports = report_texts()
    print("cities in reports:", len(reports))

    used = earlier_combos(["facts_single", "facts_fresh_single", "facts_fresh3_single"])

    errors = []
    ids, tuples = set(), {}
    n = 0
    with open(qpath, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            if not line.strip():
                continue
            n += 1
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"line {ln}: bad JSON ({e})")
                continue
            tag = f"line {ln} ({obj.get('id')})"
            if list(obj.keys()) != FIELDS:
                errors.append(f"{tag}: fields {list(obj.keys())} != {FIELDS}")
            for k in FIELDS:
                if k == "answer_keys":
                    continue
                if not isinstance(obj.get(k), str) or not obj.get(k).strip():
                    errors.append(f"{tag}: field {k} missing or not a non-empty string")
            if obj.get("id") in ids:
                errors.append(f"{tag}: duplicate id")
            ids.add(obj.get("id"))
            if obj.get("type") != "single":
                errors.append(f"{tag}: type != single")
            if obj.get("split") != SPLIT:
                errors.append(f"{tag}: split != {SPLIT}")
            if obj.get("period") not in PERIODS:
                errors.append(f"{tag}: period {obj.get('period')!r} not in {sorted(PERIODS)}")
            if obj.get("kind") not in KINDS:
                errors.append(f"{tag}: kind {obj.get('kind')!r} not in {sorted(KINDS)}")
            keys = obj.get("answer_keys")
            if not isinstance(keys, list) or not keys or not all(isinstance(a, str) and a for a in keys):
                errors.append(f"{tag}: answer_keys must be a non-empty list of strings")
                keys = []
            city, ev = obj.get("city"), obj.get("evidence") or ""
            text = reports.get(city)
            if text is None:
                errors.append(f"{tag}: city {city!r} not among report titles")
            elif ev not in text:
                errors.append(f"{tag}: evidence not an exact substring of {city}'s report: {ev!r}")
            for a in keys:
                if a not in ev:
                    errors.append(f"{tag}: answer key {a!r} not inside evidence")
            t = (city, obj.get("indicator"), obj.get("period"), obj.get("kind"))
            if t in tuples:
                errors.append(f"{tag}: tuple {t} repeats {tuples[t]}")
            tuples[t] = obj.get("id")
            if t in used:
                errors.append(f"{tag}: tuple {t} is in an earlier set")

    print("questions:", n, "| cities:", len({t[0] for t in tuples}),
          "| indicators:", len({t[1] for t in tuples}))
    if errors:
        print(f"FAIL: {len(errors)} problem(s)")
        for e in errors:
            print("  -", e)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
