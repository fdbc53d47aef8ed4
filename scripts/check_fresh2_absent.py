"""Check eval/facts_fresh2_absent.jsonl against the report text (stdlib only, no `qa` import).

For every question it checks the record's fields, that `related` is an exact substring of the
city's report, and it prints every place where a wording of the asked indicator occurs, marked
with the report part (2022 review / 2023 plan). A hit that has a figure of the asked kind right
after the wording is flagged `NUM`, so that an annotator can re-read the absences by hand.

    python scripts/check_fresh2_absent.py        # summary and flagged hits
    python scripts/check_fresh2_absent.py -v     # every hit
    python scripts/check_fresh2_absent.py FILE   # check another copy (e.g. one broken on purpose)
"""
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_facts_gold import report_texts  # noqa: E402  (the same report split, no qa import)

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "eval" / "facts_fresh2_absent.jsonl"

FIELDS = ["id", "type", "question", "city", "indicator", "period", "kind", "related", "answer_keys", "split"]
KINDS = {"amount", "growth", "share", "count"}

# Every wording a report uses for the indicator (broad on purpose: a false hit costs a re-read).
WORDINGS = {
    "地区生产总值": r"生产总值|GDP|经济总量|经济增速|经济增长",
    "一般公共预算收入": r"财政收入|预算收入|财政总收入|财力",
    "社会消费品零售总额": r"社会消费品|社零|消费品零售|零售总额|零售额",
    "进出口总额": r"进出口|外贸|对外贸易",
    "出口总额": r"出口",
    "固定资产投资": r"固定资产投资|固投|有效投资|投资增长|投资增速",
    "规模以上工业增加值": r"工业增加值|规工|工业增速|增加值增",
    "实际使用外资": r"外资|外商",
    "城镇居民人均可支配收入": r"可支配收入|城镇居民|城乡居民|居民收入",
    "农村居民人均可支配收入": r"可支配收入|农村居民|城乡居民|农民.{0,4}收入|居民收入",
    "粮食总产量": r"粮食|总产|产量",
}

# A figure of the asked kind shortly after the wording.
NUMBER = {
    "amount": r"[\d.]+(?:万亿|亿|万)?(?:元|美元|吨|斤)",
    "growth": r"(?:增长|下降|增速|降幅|提高)[^,。;]{0,6}?[\d.]+%",
}

# The heading that opens the 2023 part of a report (first match after the opening pages).
PLAN = re.compile(r"(?:^|\s)[二三四]、.{0,6}2023年|\n2023年工作安排|做好2023年工作|主要预期目标")


def plan_start(report: str) -> int:
    m = PLAN.search(report, 3000)
    return m.start() if m else len(report)


def hits(report: str, indicator: str, kind: str) -> list:
    cut = plan_start(report)
    out = []
    for m in re.finditer(WORDINGS[indicator], report):
        after = report[m.end():m.end() + 25]
        num = bool(re.match(r"[^,。;]{0,12}?" + NUMBER[kind], after)) if kind in NUMBER else False
        part = "2023" if m.start() >= cut else "2022"
        ctx = report[max(0, m.start() - 30):m.end() + 40].replace("\n", " ")
        out.append((part, m.start(), num, ctx))
    return out


def check_record(d: dict, reports: dict, seen: set) -> list:
    errs = []
    if list(d) != FIELDS:
        errs.append(f"fields {list(d)}")
    if d.get("id") in seen:
        errs.append("duplicate id")
    seen.add(d.get("id"))
    if d.get("type") != "absent" or d.get("split") != "fresh2" or d.get("answer_keys") != []:
        errs.append("type/split/answer_keys")
    if d.get("indicator") not in WORDINGS:
        errs.append(f"indicator {d.get('indicator')} has no wordings here")
    if d.get("period") not in ("2022", "2023") or d.get("kind") not in KINDS:
        errs.append("period/kind")
    report = reports.get(d.get("city"))
    if report is None:
        errs.append(f"no report for {d.get('city')}")
    elif report.find(d["related"]) < 0:
        errs.append("related is not a substring of the report")
    return errs


def main(verbose: bool, path: Path = QUESTIONS) -> int:
    reports = report_texts()
    rows = [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]
    seen, bad, flagged = set(), 0, 0
    for d in rows:
        errs = check_record(d, reports, seen)
        bad += bool(errs)
        report = reports.get(d.get("city"), "")
        rel_at = report.find(d["related"])
        rel_part = "2023" if rel_at >= plan_start(report) else "2022"
        print(f"\n{d['id']} {'FAIL ' + '; '.join(errs) if errs else 'ok'} | {d['question']} "
              f"[{d.get('city')} {d.get('indicator')} {d.get('period')} {d.get('kind')}] related@{rel_at}({rel_part}): {d['related']}")
        for part, pos, num, ctx in hits(report, d["indicator"], d.get("kind")) if d["indicator"] in WORDINGS else []:
            flagged += num
            if verbose or num:
                print(f"   {part} {pos:>6} {'NUM' if num else '   '} {ctx}")
    print(f"\n{len(rows)} questions, {len({d['city'] for d in rows})} cities, {bad} failing, "
          f"{flagged} hits with a figure of the asked kind (re-read them: each must be another period, "
          f"indicator or sub-item)")
    return 1 if bad else 0


if __name__ == "__main__":
    files = [Path(a) for a in sys.argv[1:] if not a.startswith("-")]
    sys.exit(main("-v" in sys.argv[1:], files[0] if files else QUESTIONS))
