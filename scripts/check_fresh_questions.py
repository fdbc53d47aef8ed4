"""Check the untouched report-fact question sets (eval/facts_fresh_*.jsonl) against the report text.

Standalone: it reads only data/reports/2023_city_reports.txt and the question files, and does not
import `qa`, so the sets stay independent of the system.
    python scripts/check_fresh_questions.py        # counts, exits 1 with a list of problems
    python scripts/check_fresh_questions.py -v     # also prints, for every null value and every
                                                   # absent question, where the indicator's wordings occur
Checks:
- fields, ids and `"split": "fresh"`;
- every evidence / related string is an exact substring of its city's report, and every evidence string
  occurs in the right part of that report (2022: the review, before the 「2023年…工作/目标/任务」 heading;
  2023: after it);
- every value is a substring of its evidence, answer keys are the stated values (kb_rank: the winners'
  values), kb_rank items list all 24 reports;
- the expected winner / order of rank and kb_rank items follows from the values (units converted:
  1亿斤 = 5万吨, 1万亿元 = 10000亿元, 1万人 = 10000人, 1万元 = 10000元; 「下降x%」 = -x), with no tie
  at the cut;
- no question repeats one of the existing sets (same wording, or same city/indicator/period/kind).
"""
from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_facts_gold import report_texts  # noqa: E402  (the same report split, no qa import)

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "eval"
# The heading that opens a report's 2023 part, e.g. 「二、2023年工作安排」, 「2023年目标任务」, 「做好2023年工作」.
PLAN_RE = re.compile(r"(?:^|\s)(?:[一二三四]、)?\s*(?:做好)?2023年[^\n。,:;]{0,14}(?:工作|目标|任务)[^\n。,:;]{0,12}(?=\s)", re.M)
# Wordings searched for when a value is null or a question is absent (printed with -v for re-reading).
WORDINGS = {
    "地区生产总值": ["生产总值", "GDP", "经济总量", "经济增速", "经济增长"],
    "一般公共预算收入": ["预算收入", "财政收入"],
    "社会消费品零售总额": ["消费品零售", "社零", "零售总额"],
    "固定资产投资": ["固定资产投资", "固投", "全社会投资"],
    "进出口总额": ["进出口", "外贸"],
    "实际使用外资": ["外资", "外商"],
    "城镇居民人均可支配收入": ["城镇居民", "城乡居民", "城镇常住居民", "城乡常住居民", "居民人均可支配收入"],
    "农村居民人均可支配收入": ["农村居民", "农民收入", "城乡居民", "农村常住居民", "城乡常住居民", "居民人均可支配收入"],
    "粮食总产量": ["粮食", "总产"],
    "城镇新增就业": ["就业"],
    "规模以上工业增加值": ["工业增加值", "规工"],
}
UNIT_FACTOR = {"亿元": ("亿元", 1), "万亿元": ("亿元", 10000), "万吨": ("万吨", 1), "亿斤": ("万吨", 5),
               "人": ("人", 1), "万人": ("人", 10000), "元": ("元", 1), "万元": ("元", 10000), "%": ("%", 1)}
VALUE_RE = re.compile(r"^(?:不低于|超过?|突破)?(?P<down>下降)?(?P<num>\d+(?:\.\d+)?)(?P<unit>万亿元|亿元|万吨|亿斤|万人|人|万元|元|%)"
                      r"(?:左右|以上|以内)?$")
COMPARE_KEYS = ["id", "type", "question", "indicator", "period", "kind", "cities", "values", "evidence",
                "expected", "answer_keys", "split"]
SINGLE_KEYS = ["id", "type", "question", "city", "indicator", "period", "kind", "answer_keys", "evidence", "split"]
ABSENT_KEYS = ["id", "type", "question", "city", "indicator", "period", "kind", "related", "answer_keys", "split"]


def plan_start(text: str) -> int:
    """Offset of the heading that opens the 2023 part (the first one after the title)."""
    for m in PLAN_RE.finditer(text):
        if m.start() > 100:
            return m.start()
    raise ValueError("no 2023 heading found")


def load(name: str) -> list[dict]:
    path = EVAL / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def number(value: str) -> tuple[str, float]:
    """(base unit, number in that unit) of a value string such as 「超1.2万亿元」 or 「下降8.8%」."""
    m = VALUE_RE.match(value)
    if not m:
        raise ValueError(f"cannot read value {value!r}")
    base, factor = UNIT_FACTOR[m["unit"]]
    x = float(m["num"]) * factor
    return base, -x if m["down"] else x


def expected_order(item: dict) -> list[str] | None:
    """The winner(s) that the values imply: highest first, or lowest first for 最低/最少/最小."""
    vals = {c: number(v) for c, v in item["values"].items() if v}
    if len({u for u, _ in vals.values()}) != 1:
        return None
    lowest = re.search("最低|最少|最小|从低到高|从少到多|从小到大", item["question"])
    ranked = sorted(vals, key=lambda c: vals[c][1], reverse=not lowest)
    exp = item["expected"]
    n = 1 if isinstance(exp, str) else len(exp)
    if n < len(ranked) and vals[ranked[n - 1]][1] == vals[ranked[n]][1]:
        return ["<tie at the cut>"]
    return ranked[:n]


def check_span(problems: list, reports: dict, starts: dict, iid: str, city: str, span: str, period: str | None) -> None:
    text = reports.get(city)
    if text is None:
        problems.append(f"{iid}: unknown city {city}")
        return
    hits = [m.start() for m in re.finditer(re.escape(span), text)]
    if not hits:
        problems.append(f"{iid}: {city}: not in the report: {span!r}")
    elif period == "2022" and not any(h < starts[city] for h in hits):
        problems.append(f"{iid}: {city}: 2022 evidence only in the 2023 part: {span!r}")
    elif period == "2023" and not any(h > starts[city] for h in hits):
        problems.append(f"{iid}: {city}: 2023 evidence only in the 2022 part: {span!r}")


def check_compare(items: list[dict], reports: dict, starts: dict, problems: list) -> None:
    for it in items:
        iid = it["id"]
        vals, ev = it["values"], it["evidence"]
        if it["type"] == "kb_rank":
            if set(vals) != set(reports) or it["cities"]:
                problems.append(f"{iid}: kb_rank must list all {len(reports)} reports and name no city")
        elif list(vals) != it["cities"] or not 2 <= len(it["cities"]) <= 4:
            problems.append(f"{iid}: values must follow the 2-4 named cities")
        if set(ev) != {c for c, v in vals.items() if v}:
            problems.append(f"{iid}: evidence must cover exactly the non-null values")
        for city, v in vals.items():
            if v:
                check_span(problems, reports, starts, iid, city, ev.get(city, ""), it["period"])
                if v.replace("超", "", 1) not in ev.get(city, "") and v not in ev.get(city, ""):
                    problems.append(f"{iid}: {city}: value {v!r} not in evidence")
        if it["type"] == "compare":
            want_keys = [v for v in vals.values() if v]
            if it["expected"] is not None:
                problems.append(f"{iid}: compare has expected null")
        else:
            exp = [it["expected"]] if isinstance(it["expected"], str) else list(it["expected"] or [])
            want_keys = [vals[c] for c in exp] if it["type"] == "kb_rank" else [v for v in vals.values() if v]
            order = expected_order(it)
            if order is None:
                problems.append(f"{iid}: values in units that cannot be compared")
            elif order != exp:
                problems.append(f"{iid}: expected {exp}, values give {order}")
        if it["answer_keys"] != want_keys:
            problems.append(f"{iid}: answer_keys {it['answer_keys']} should be {want_keys}")


def check_single_absent(singles: list[dict], absents: list[dict], reports: dict, starts: dict, problems: list) -> None:
    for it in singles:
        check_span(problems, reports, starts, it["id"], it["city"], it["evidence"], it["period"])
        if len(it["answer_keys"]) != 1 or it["answer_keys"][0].replace("超", "", 1) not in it["evidence"]:
            problems.append(f"{it['id']}: the one answer key must be in the evidence")
    for it in absents:
        check_span(problems, reports, starts, it["id"], it["city"], it["related"], None)
        if it["answer_keys"]:
            problems.append(f"{it['id']}: absent questions have no answer keys")


def check_fields(sets: dict[str, list[dict]], problems: list) -> None:
    keys = {"facts_fresh_compare": COMPARE_KEYS, "facts_fresh_single": SINGLE_KEYS, "facts_fresh_absent": ABSENT_KEYS}
    types = {"facts_fresh_compare": {"compare", "rank", "kb_rank"}, "facts_fresh_single": {"single"},
             "facts_fresh_absent": {"absent"}}
    ids = Counter(it["id"] for items in sets.values() for it in items)
    problems += [f"duplicate id {i}" for i, n in ids.items() if n > 1]
    for name, items in sets.items():
        for it in items:
            if list(it) != keys[name]:
                problems.append(f"{it.get('id')}: fields {list(it)} should be {keys[name]}")
            if it["type"] not in types[name] or it["split"] != "fresh" or it["period"] not in ("2022", "2023"):
                problems.append(f"{it['id']}: bad type, split or period")


def check_not_repeated(sets: dict[str, list[dict]], problems: list) -> None:
    """No fresh question repeats an existing one (its wording, or the same facts asked the same way)."""
    old = {n: load(n) for n in ("facts_compare", "facts_single", "facts_absent")}
    old_questions = {it["question"] for items in old.values() for it in items}
    sig = lambda it: (it["type"], it["indicator"], it["period"], it["kind"], frozenset(it.get("cities") or [it.get("city")]))  # noqa: E731
    old_sigs = {sig(it) for items in old.values() for it in items if it["type"] != "kb_rank"}
    old_kb = {(it["indicator"], it["period"], it["kind"], str(it["expected"])) for it in old["facts_compare"] if it["type"] == "kb_rank"}
    fresh = Counter(it["question"] for items in sets.values() for it in items)
    problems += [f"question asked twice: {q}" for q, n in fresh.items() if n > 1]
    for items in sets.values():
        for it in items:
            if it["question"] in old_questions:
                problems.append(f"{it['id']}: same question as an existing set")
            if it["type"] != "kb_rank" and sig(it) in old_sigs:
                problems.append(f"{it['id']}: same city/indicator/period/kind as an existing question")
            if it["type"] == "kb_rank" and (it["indicator"], it["period"], it["kind"], str(it["expected"])) in old_kb:
                problems.append(f"{it['id']}: same ranking as an existing kb_rank question")


def show_wordings(items: list[tuple[str, str, str, str]], reports: dict, starts: dict, same_period: bool = False) -> None:
    """For re-reading: where each (id, city, indicator, period) has its indicator's wordings
    (with same_period, only the hits in that period's part that have a digit nearby)."""
    for iid, city, indicator, period in items:
        text = reports[city]
        words = WORDINGS.get(indicator, [indicator])
        print(f"-- {iid} {city} {indicator} {period}: not stated")
        for m in re.finditer("|".join(map(re.escape, words)), text):
            part = "2022" if m.start() < starts[city] else "2023"
            around = text[max(0, m.start() - 25):m.end() + 30].replace(chr(10), " ")
            if same_period and (part != period or not re.search(r"\d", text[m.end():m.end() + 20])):
                continue
            print(f"   [{part}] …{around}…")


def main(verbose: bool = False) -> int:
    reports = report_texts()
    starts = {c: plan_start(t) for c, t in reports.items()}
    sets = {n: load(n) for n in ("facts_fresh_compare", "facts_fresh_single", "facts_fresh_absent")}
    problems: list[str] = []
    check_fields(sets, problems)
    check_compare(sets["facts_fresh_compare"], reports, starts, problems)
    check_single_absent(sets["facts_fresh_single"], sets["facts_fresh_absent"], reports, starts, problems)
    check_not_repeated(sets, problems)
    for name, items in sets.items():
        kinds = Counter(it["type"] for it in items)
        periods = Counter(it["period"] for it in items)
        cities = {c for it in items for c in (it.get("cities") or [it.get("city")]) if c}
        print(f"{name}: {len(items)} lines, types {dict(kinds)}, periods {dict(periods)}, "
              f"{len({it['indicator'] for it in items})} indicators, {len(cities)} cities named")
    if verbose:
        nulls = [(it["id"], c, it["indicator"], it["period"]) for it in sets["facts_fresh_compare"]
                 if it["type"] != "kb_rank" for c, v in it["values"].items() if v is None]
        nulls += [(it["id"], it["city"], it["indicator"], it["period"]) for it in sets["facts_fresh_absent"]]
        show_wordings(nulls, reports, starts)
        print("== kb_rank reports without a value (hits in the same period with a number nearby)")
        kb_nulls = [(it["id"], c, it["indicator"], it["period"]) for it in sets["facts_fresh_compare"]
                    if it["type"] == "kb_rank" for c, v in it["values"].items() if v is None]
        show_wordings(kb_nulls, reports, starts, same_period=True)
    if problems:
        print(f"{len(problems)} problem(s):")
        print("\n".join(f"  {p}" for p in problems))
        return 1
    print("all evidence, values, rankings and splits check out")
    return 0


if __name__ == "__main__":
    sys.exit(main("-v" in sys.argv[1:]))
